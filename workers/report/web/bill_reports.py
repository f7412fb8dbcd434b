"""Aging by payer (with a chart of its buckets), statements and collections: the posting
worker's reports (`workers.posting.reports`) over one company's bills, as `claimflow bills
aging|statements|collections` prints them.

Collections and bad debt: a bill in collections whose balance was written off to bad debt
(WB) is listed. Collections status still stands on it (only UL ends it) and the agency
still works it; the write-off is the practice's accounting. Shown as "0.00" alone that row
reads as a mistake, so the list has a bad-debt column, an "in collections" column (balance
plus bad debt: what the agency pursues), and marks the row "written off". See
`reports.collections` and docs/ARCHITECTURE.md, "The workspace".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from workers.posting import read as posting_read
from workers.posting import reports
from workers.report.web.bill_chart import bars, short_money
from workers.report.web.bill_patients import patients_of
from workers.report.web.bills import NotYours, company_for, not_found
from workers.report.web.session import Session
from workers.report.web.templating import money, render

router = APIRouter(include_in_schema=False)


def _as_of(text: str | None, today: dt.date) -> tuple[dt.date, str | None]:
    """The day to age as of, and what was wrong with the one typed (then today)."""
    if not text:
        return today, None
    try:
        return dt.date.fromisoformat(text[:10]), None
    except ValueError:
        return today, f"{text[:20]!r} is not a date (YYYY-MM-DD); aged as of today instead."


def chart_description(labels_values: list[tuple[str, Decimal]]) -> str:
    """The chart in words, for a screen reader: every bucket and its amount."""
    return "; ".join(f"{label} days: {money(value)}" for label, value in labels_values) + "."


@router.get("/aging", response_class=HTMLResponse)
def aging_page(
    request: Request,
    session: Session,
    company: str | None = None,
    as_of: str | None = None,
    payer: str | None = None,
) -> HTMLResponse:
    try:
        company_id = company_for(session, company)
    except NotYours:
        return not_found(request, session, "You have no company by that name.")
    day, problem = _as_of(as_of, request.app.state.clock().date())
    with request.app.state.engine.connect() as conn:
        report = reports.aging(posting_read.load_all_bills(conn, company_id), day)
    # The chart shows every payer's total by bucket, or one payer's (chosen from the table).
    charted = next((r for r in report.rows if payer and payer == f"{r.payer_type}:{r.payer_id}"), None)
    buckets = charted.buckets if charted else report.totals
    values = [(b, buckets[b]) for b in reports.BUCKETS]
    return render(
        request,
        "aging.html",
        {
            "title": "Aging",
            "company": company_id,
            "report": report,
            "buckets": reports.BUCKETS,
            "chart": bars(values),
            "chart_desc": chart_description(values),
            "short_money": short_money,
            "as_of": day,
            "problem": problem,
            "charted": charted,
            "charted_total": charted.total if charted else report.total,
        },
        session=session,
    )


@router.get("/statements", response_class=HTMLResponse)
def statements_page(request: Request, session: Session, company: str | None = None) -> HTMLResponse:
    try:
        company_id = company_for(session, company)
    except NotYours:
        return not_found(request, session, "You have no company by that name.")
    with request.app.state.engine.connect() as conn:
        chosen = reports.statement_candidates(posting_read.load_all_bills(conn, company_id))
        patients = patients_of(conn, company_id, [b.bill_id for b in chosen])
    return render(
        request,
        "bill_statements.html",
        {"title": "Statements", "company": company_id, "bills": chosen, "patients": patients},
        session=session,
    )


@router.get("/collections", response_class=HTMLResponse)
def collections_page(request: Request, session: Session, company: str | None = None) -> HTMLResponse:
    try:
        company_id = company_for(session, company)
    except NotYours:
        return not_found(request, session, "You have no company by that name.")
    with request.app.state.engine.connect() as conn:
        rows = reports.collections(posting_read.load_all_bills(conn, company_id))
        patients = patients_of(conn, company_id, [r.bill_id for r in rows])
    return render(
        request,
        "bill_collections.html",
        {"title": "Collections", "company": company_id, "rows": rows, "patients": patients},
        session=session,
    )
