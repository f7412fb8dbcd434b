"""Billing -> Remittances: each payer's ERA beside the deposit it promises, and the claim
payments parked without a bill (unmatched remittances), for the payment poster who
reconciles each ERA against the bank. The same reads as `/remittances/eras` and
`/remittances/unmatched` of the API and `claimflow remittances eras|unmatched`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from workers.deadletters import replay as operators
from workers.remittance import views
from workers.report.web.session import Session
from workers.report.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/remittances", response_class=HTMLResponse)
def remittances(request: Request, session: Session) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        # A claim payment that matched no bill belongs to no company yet: operators see it.
        everyone = operators.is_operator(conn, session.caller.user_id)
        companies = None if everyone else set(session.caller.companies)
        eras = views.era_totals(conn, companies)
        parked = views.parked_claims(conn, companies)
    return render(
        request,
        "remittances.html",
        {"title": "Remittances", "eras": eras, "parked": parked, "operator": everyone},
        session=session,
    )
