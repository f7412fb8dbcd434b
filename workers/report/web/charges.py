"""A charge record: its fields with each failure reason beside the field, versions, runs,
reprocess history, and corrections in place.

Read through `storage.detail` (the API's /failures/{id}); corrections go through the API's
reprocess action, whose checks are the reprocess worker's own: a value the worker would
refuse is refused here at once, naming the field, and nothing is published.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse, Response

from workers.report import storage
from workers.report.web import charge_history, charge_view, listing, reprocessing, watch
from workers.report.web.session import CheckedForm, Session
from workers.report.web.templating import render

router = APIRouter(include_in_schema=False)

#: Longer than any charge id: answered as a charge that does not exist (a page, not a 422 in JSON).
MAX_CHARGE_ID = 64


def not_found(request: Request, session: Any, charge_id: str) -> Response:
    return render(
        request,
        "error.html",
        {
            "title": "No such failed charge",
            "message": f"There is no failed charge {charge_id} in your companies.",
            "back": "/failed-charges",
        },
        session=session,
        status_code=status.HTTP_404_NOT_FOUND,
    )


def record_page(
    request: Request,
    session: Any,
    charge_id: str,
    *,
    back: str | None,
    watching: str | None = None,
    message: str | None = None,
    problems: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if len(charge_id) > MAX_CHARGE_ID:
        return not_found(request, session, charge_id[:MAX_CHARGE_ID] + "…")
    with request.app.state.engine.connect() as conn:
        detail = storage.detail(conn, charge_id, session.caller.companies)
        if detail is None:
            return not_found(request, session, charge_id)
        watched = None
        if watching:
            found = reprocessing.watches(request).find(conn, watching, session.caller.companies)
            if found is not None and charge_id in found.charge_ids:
                watched = watch.states(conn, found)[1].get(charge_id) or {
                    "state": "replaying",
                    "text": "Replaying…",
                }
                watched = {**watched, "request_id": found.request_id}
    newest = detail["versions"][-1]["charge"] if detail["versions"] else {}
    sections, general = charge_view.sections(newest, detail["reasons"], problems, typed)
    return render(
        request,
        "charge.html",
        {
            "title": f"Charge {charge_id}",
            "d": detail,
            "newest": newest,
            "sections": sections,
            "general": general,
            "changes": charge_history.version_changes(detail["versions"]),
            "history": charge_history.history(detail),
            "outcomes": charge_view.OUTCOMES,
            "explained": charge_view.explained,
            "payer_types": charge_view.PAYER_TYPES,
            "sexes": charge_view.SEX,
            "back": back,
            "watched": watched,
            "problem": message,
            "problems": problems or {},
        },
        session=session,
        status_code=status_code,
    )


def _from(value: Any) -> str | None:
    """The search the biller came from (to go back to it), or None."""
    return listing.carried(value) if isinstance(value, str) else None


@router.get("/charges/{charge_id}", response_class=Response)
def charge_record(request: Request, session: Session, charge_id: str) -> Response:
    params = request.query_params
    return record_page(
        request, session, charge_id, back=_from(params.get("from")), watching=params.get("watch")
    )


@router.post("/charges/{charge_id}/reprocess", response_class=Response)
async def reprocess_charge(request: Request, session: Session, charge_id: str, form: CheckedForm) -> Response:
    """Replay the charge with the fields the biller corrected (none: replay it as it is)."""
    back = _from(form.get("from"))
    if len(charge_id) > MAX_CHARGE_ID:
        return not_found(request, session, charge_id[:MAX_CHARGE_ID] + "…")
    with request.app.state.engine.connect() as conn:
        detail = storage.detail(conn, charge_id, session.caller.companies)
    if detail is None:
        return not_found(request, session, charge_id)
    newest = detail["versions"][-1]["charge"] if detail["versions"] else {}
    pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    changes, typed = charge_view.corrections(newest, pairs)
    body = reprocessing.body_of(
        {
            "company": detail["company_id"],
            "charge_ids": [charge_id],
            "corrections": {charge_id: changes} if changes else {},
        }
    )
    if isinstance(body, reprocessing.Outcome):
        outcome = body
    else:
        outcome = await reprocessing.send(request, body, detail["company_id"], session.caller.user_id)
    if outcome.request_id is None:
        problems = {p.field: p.problem for p in outcome.problems.get(charge_id, [])}
        named = ", ".join(sorted(problems))
        message = outcome.message or "Nothing was sent."
        if named:
            message = f"Nothing was sent: {named} cannot be corrected that way. Fix the field and try again."
        return record_page(
            request,
            session,
            charge_id,
            back=back,
            message=message,
            problems=problems,
            typed=typed,
            status_code=422,
        )
    if back is not None:
        target = "/failed-charges?" + "&".join(
            p for p in (back, urlencode({"watch": outcome.request_id})) if p
        )
    else:
        target = f"/charges/{quote(charge_id, safe='')}?{urlencode({'watch': outcome.request_id})}"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
