"""Billing -> Failed Charges: the seed's search, results, group, drill-down and reprocess.

The page's state is its URL (`listing.read`, with the API's request models); it reads
through the API's functions (`storage.search`, `storage.groups`) and reprocesses through
its action (`reprocessing.send` -> `actions.prepare`). A reprocess answers with a redirect
to the same search watching the request (`watch=`), whose rows the page follows live.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import Connection

from workers.formatter.rules import RULES
from workers.report import actions, storage
from workers.report import queries as q
from workers.report.auth import AccessDenied
from workers.report.models import SearchFilters
from workers.report.web import listing, reprocessing, watch
from workers.report.web.session import CheckedForm, Session
from workers.report.web.templating import render

router = APIRouter(include_in_schema=False)

#: Filters a reprocess by filters carries (the search's, without its company, status and paging).
NOT_FILTERS = ("company", "status", "sort", "limit", "offset")


def forbidden(request: Request, session: Any, exc: AccessDenied) -> Response:
    return render(
        request,
        "error.html",
        {"title": "Not your company", "message": f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "back": "/"},
        session=session,
        status_code=status.HTTP_403_FORBIDDEN,
    )


def places(conn: Connection, company_id: str) -> dict[str, list[str]]:
    """The company's practices and locations, from its failures of any status, for the form's
    drop-downs (the same answer as the API's /companies/{id}/places)."""
    found = storage.company_places(conn, company_id)
    return {
        "practice": found["practices"],
        "location": sorted({loc["id"] for loc in found["locations"]}),
    }


def reasons() -> list[tuple[str, str]]:
    return [(code, rule.title) for code, rule in RULES.items()]


def filter_words(values: dict[str, Any]) -> list[str]:
    """The search's filters as a biller reads them, e.g. ['Run Number 3', 'Reason REQUIRED_FIELD']."""
    out = []
    for key, value in values.items():
        if key in NOT_FILTERS or key == "date_field":
            continue
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        out.append(f"{listing.LABELS.get(key, key)} {shown}")
    return out


def listing_page(
    request: Request,
    session: Any,
    query_string: str,
    *,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    """The Failed Charges page for a query string; a URL that cannot run says why (422)."""
    state = listing.read(query_string)
    query = state.query
    problem = message or state.problem
    context: dict[str, Any] = {
        "title": "Failed Charges",
        "state": state,
        "listing": listing,
        "reasons": reasons(),
        "groups_by": q.GROUPS,
        "fields": set(listing.search_fields()),
        "problem": problem,
        "rows": [],
        "groups": None,
        "watched": None,
        "watched_rows": [],
        "watch_states": {},
        "places": {"practice": [], "location": []},
        "filters": filter_words(state.values),
        "rules": RULES,
    }
    if query is None:
        return render(request, "failed_charges.html", context, session=session, status_code=422)
    try:
        company_id = session.caller.company(query.company)
    except AccessDenied as exc:
        return forbidden(request, session, exc)
    context["company_id"] = company_id
    search = query.to_search(
        company_id, sort=q.parse_sort(query.sort), limit=query.limit, offset=query.offset
    )
    with request.app.state.engine.connect() as conn:
        context["places"] = places(conn, company_id)
        if state.watch:
            found = reprocessing.watches(request).find(conn, state.watch, session.caller.companies)
            if found is not None:
                context["watched"] = found
                context["watched_rows"], context["watch_states"] = watch.states(conn, found)
        if state.by is not None:
            groups = storage.groups(conn, query.to_search(company_id), state.by)
            totals, amount = storage.search(conn, query.to_search(company_id, limit=1))
            context["groups"] = [
                {
                    **g,
                    "label": RULES[g["key"]].title if state.by == "reason" and g["key"] in RULES else None,
                    "drill": listing.drill_of(state.by, g),
                }
                for g in groups
            ]
            context["largest"] = max((g["charges"] for g in groups), default=0)
            context["total"], context["total_amount"] = totals.total, amount
        else:
            page, amount = storage.search(conn, search)
            shown = {r["charge_id"] for r in context["watched_rows"]}
            context["rows"] = [r for r in page.rows if r["charge_id"] not in shown]
            context["page"], context["total"], context["total_amount"] = page, page.total, amount
    context["carried"] = listing.carried(query_string)
    return render(request, "failed_charges.html", context, session=session, status_code=status_code)


@router.get("/failed-charges", response_class=Response)
def failed_charges(request: Request, session: Session) -> Response:
    return listing_page(request, session, request.url.query)


def _back(form: Any) -> str:
    back = form.get("back")
    return listing.carried(back if isinstance(back, str) else "")


def _watching(back: str, request_id: str) -> str:
    return "/failed-charges?" + "&".join(p for p in (back, urlencode({"watch": request_id})) if p)


@router.post("/failed-charges/reprocess", response_class=Response)
async def reprocess_selected(request: Request, session: Session, form: CheckedForm) -> Response:
    """Reprocess the checked rows: one request, then the same search watching it."""
    back = _back(form)
    ids = [v for v in form.getlist("charge_id") if isinstance(v, str) and v]
    if not ids:
        return listing_page(
            request, session, back, message="Check the rows to reprocess first.", status_code=422
        )
    body = reprocessing.body_of({"company": form.get("company") or None, "charge_ids": ids})
    if isinstance(body, reprocessing.Outcome):
        return listing_page(request, session, back, message=body.message, status_code=422)
    try:
        company_id = session.caller.company(body.company)
    except AccessDenied as exc:
        return forbidden(request, session, exc)
    outcome = await reprocessing.send(request, body, company_id, session.caller.user_id)
    if outcome.request_id is None:
        return listing_page(request, session, back, message=outcome.message, status_code=422)
    return RedirectResponse(_watching(back, outcome.request_id), status_code=status.HTTP_303_SEE_OTHER)


def _confirm_page(
    request: Request, session: Any, query_string: str, *, message: str | None = None, status_code: int = 200
) -> Response:
    state = listing.read(query_string)
    if state.query is None:
        return listing_page(request, session, query_string)
    try:
        company_id = session.caller.company(state.query.company)
    except AccessDenied as exc:
        return forbidden(request, session, exc)
    filters = {k: v for k, v in state.values.items() if k not in NOT_FILTERS}
    with request.app.state.engine.connect() as conn:
        found = actions.preview(conn, company_id, filters=SearchFilters.model_validate(filters))
    return render(
        request,
        "failed_charges_confirm.html",
        {
            "title": "Reprocess by filters",
            "company_id": company_id,
            "count": found.count,
            "first": found.first,
            "filters": filter_words(filters),
            "hidden": [(k, v) for k, vs in filters.items() for v in (vs if isinstance(vs, list) else [vs])],
            "back": listing.carried(query_string),
            "problem": message,
            "too_many": found.count > actions.MAX_CHARGES,
            "limit": actions.MAX_CHARGES,
        },
        session=session,
        status_code=status_code,
    )


@router.get("/failed-charges/reprocess-all", response_class=Response)
def confirm_by_filters(request: Request, session: Session) -> Response:
    """How many open failures the search's filters select, to confirm before replaying them."""
    return _confirm_page(request, session, request.url.query)


@router.post("/failed-charges/reprocess-all", response_class=Response)
async def reprocess_by_filters(request: Request, session: Session, form: CheckedForm) -> Response:
    back = _back(form)
    pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    filters = {k: v for k, v in listing.form_values(pairs).items() if k not in NOT_FILTERS}
    company = form.get("company") or None
    expected = form.get("expected_count")
    body = reprocessing.body_of({"company": company, "filters": filters, "expected_count": expected})
    if isinstance(body, reprocessing.Outcome):
        return _confirm_page(request, session, back, message=body.message, status_code=422)
    try:
        company_id = session.caller.company(body.company)
    except AccessDenied as exc:
        return forbidden(request, session, exc)
    outcome = await reprocessing.send(request, body, company_id, session.caller.user_id)
    if outcome.request_id is None:
        return _confirm_page(request, session, back, message=outcome.message, status_code=422)
    return RedirectResponse(_watching(back, outcome.request_id), status_code=status.HTTP_303_SEE_OTHER)


@router.get("/failed-charges/watch/{request_id}")
def watch_states(request: Request, session: Session, request_id: str) -> JSONResponse:
    """For the page's script: the state of each charge a request replays (404 when the request
    is not one of the biller's companies')."""
    with request.app.state.engine.connect() as conn:
        found = reprocessing.watches(request).find(conn, request_id[:64], session.caller.companies)
        if found is None:
            return JSONResponse({"detail": "no such reprocess request in your companies"}, status_code=404)
        _, states = watch.states(conn, found)
    pending = sum(1 for s in states.values() if s["state"] == "replaying")
    return JSONResponse({"request_id": request_id, "states": states, "pending": pending})
