"""Billing -> Failed Charges: the seed's search, results, group, drill-down and reprocess."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from workers.report.web.session import Session
from workers.report.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/failed-charges", response_class=HTMLResponse)
def failed_charges(request: Request, session: Session) -> HTMLResponse:
    return render(request, "failed_charges.html", {"title": "Failed Charges"}, session=session)
