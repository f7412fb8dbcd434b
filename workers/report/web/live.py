"""Live failures: the event stream every page may listen to, and the dashboard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, StreamingResponse

from workers.formatter.rules import RULES
from workers.report import dashboard
from workers.report.accounts import WebSession
from workers.report.auth import AccessDenied
from workers.report.web.charts import Bar, bar_chart
from workers.report.web.feed import LiveFeed, stream
from workers.report.web.session import Session
from workers.report.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/live/events")
async def events(request: Request, session: Session, company: str | None = None) -> StreamingResponse:
    """Server-sent events of the signed-in biller's companies (or of `company`, if theirs):
    `failed`, `resolved`, `reprocessed`, and `reload` when the page fell too far behind."""
    try:
        wanted = [session.caller.company(company)] if company else session.caller.companies
    except AccessDenied as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    feed: LiveFeed = request.app.state.feed
    listener = feed.listen(frozenset(wanted))
    return StreamingResponse(
        stream(feed, listener),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _title(code: str | None) -> str:
    rule = RULES.get(code or "")
    return rule.title if rule is not None else (code or "unknown")


def _dashboard(request: Request, session: WebSession, company: str | None) -> dict[str, Any]:
    try:
        company_id = session.caller.company(company)
    except AccessDenied as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    with request.app.state.engine.connect() as conn:
        board = dashboard.load(conn, company_id)
    today = request.app.state.clock().date()
    reasons = [
        {**row, "label": RULES[row["key"]].title if row["key"] in RULES else row["key"]}
        for row in board.by_reason
    ]
    chart = bar_chart(
        [Bar(f"run {r.run_number}", r.charges) for r in board.per_run],
        f"Failed charges per run, last {len(board.per_run)} runs",
    )
    return {
        "title": "Live failures",
        "company_id": company_id,
        "board": board,
        "reasons": reasons,
        "oldest_age": board.oldest_age_days(today),
        "chart": chart,
    }


@router.get("/live", response_class=HTMLResponse)
def live(request: Request, session: Session, company: str | None = None) -> HTMLResponse:
    return render(request, "live.html", _dashboard(request, session, company), session=session)


@router.get("/live/summary", response_class=HTMLResponse)
def summary(request: Request, session: Session, company: str | None = None) -> HTMLResponse:
    """The dashboard's body alone, which the page fetches again when an event arrives."""
    return render(request, "live_summary.html", _dashboard(request, session, company), session=session)
