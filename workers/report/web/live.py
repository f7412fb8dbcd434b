"""Live failures: the event stream every page may listen to, and the dashboard."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from workers.report.auth import AccessDenied
from workers.report.web.feed import LiveFeed, stream
from workers.report.web.session import Session

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
