"""Bills: find a bill; its payers, balances, statuses and ledger; posting from the page.

Every read goes through the posting worker's read model (`workers.posting.read`,
`reports`), as `claimflow bills` does. A bill is shown only to a biller of its company:
another company's bill id answers 404 exactly like an unknown one, so an id cannot be
probed. A posting is published as one `Posting` (a posting id made when the form was
drawn, so a double submit posts once: the worker is idempotent by posting id), then the
page waits a few seconds for the worker's answer (`AnswerWatch`, as `bills post --wait`)
and shows the bill with it: applied, refused with its reason, or queued.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import Connection

from contracts.codec import DecodeError
from contracts.posting import Posting, PostingApplied, PostingRejected
from workers.clearinghouse import read as x12_read
from workers.posting import read as posting_read
from workers.posting import reports
from workers.posting.answer_watch import AnswerWatch, decode_answer
from workers.posting.bill import Bill
from workers.posting.code_guide import BY_CODE, FAMILIES
from workers.report.accounts import WebSession
from workers.report.auth import AccessDenied
from workers.report.web.bill_forms import (
    MAX_QUERY,
    STATUS_VALUES,
    STATUSES,
    PostingForm,
    check_posting,
    find_bills,
    statuses,
)
from workers.report.web.bill_patients import patients_of
from workers.report.web.session import CheckedForm, Session
from workers.report.web.templating import render

log = logging.getLogger("claimflow.report.bills")
router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
#: How long the page waits for the posting worker's answer before saying "queued".
ANSWER_WAIT = 6.0


class NotYours(Exception):
    """A company or bill the biller does not belong to, or that does not exist (one answer)."""


def company_for(session: WebSession, requested: str | None) -> str:
    try:
        return session.caller.company(requested or None)
    except AccessDenied as exc:
        raise NotYours(str(exc)) from None


def not_found(request: Request, session: WebSession, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"title": "Not found", "message": message, "back": "/bills"},
        session=session,
        status_code=status.HTTP_404_NOT_FOUND,
    )


def _no_bill(request: Request, session: WebSession, bill_id: str) -> HTMLResponse:
    return not_found(request, session, f"There is no bill {bill_id[:64]!r} among your companies' bills.")


def _page_number(text: str | None) -> int:
    return int(text) if text and re.fullmatch(r"[0-9]{1,6}", text) and int(text) > 0 else 1


# --- find a bill ------------------------------------------------------------------------


@router.get("/bills", response_class=HTMLResponse)
def bills_page(
    request: Request,
    session: Session,
    company: str | None = None,
    q: str = "",
    status_filter: Annotated[str, Query(alias="status")] = "",
    payer: str = "",
    page: str | None = None,
) -> HTMLResponse:
    try:
        company_id = company_for(session, company)
    except NotYours:
        return not_found(request, session, "You have no company by that name.")
    chosen_status = status_filter if status_filter in STATUS_VALUES else ""
    text, current = q[:MAX_QUERY], payer[:MAX_QUERY]
    with request.app.state.engine.connect() as conn:
        # Every bill's patient only when the text may name one; otherwise the shown page's.
        patients = patients_of(conn, company_id) if text.strip() else None
        found = find_bills(
            posting_read.load_all_bills(conn, company_id), text, chosen_status, current, patients
        )
        pages = max(1, -(-len(found) // PAGE_SIZE))
        number = min(_page_number(page), pages)
        shown = found[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        if patients is None:
            patients = patients_of(conn, company_id, [b.bill_id for b in shown])
    query = {"company": company_id, "q": text, "status": chosen_status, "payer": current}
    return render(
        request,
        "bills.html",
        {
            "title": "Bills",
            "company": company_id,
            "bills": [(b, statuses(b), patients.get(b.bill_id, "")) for b in shown],
            "total": len(found),
            "page": number,
            "pages": pages,
            "query": query,
            "statuses": STATUSES,
        },
        session=session,
    )


# --- one bill ---------------------------------------------------------------------------


def _own_bill(conn: Connection, session: WebSession, bill_id: str) -> Bill | None:
    if len(bill_id) > 64:
        return None
    bill = posting_read.load_bills(conn, [bill_id]).get(bill_id)
    if bill is None or bill.company_id not in session.caller.companies:
        return None
    return bill


def _answers(conn: Connection, bill_id: str) -> tuple[dict[str, PostingApplied], list[PostingRejected]]:
    applied: dict[str, PostingApplied] = {}
    refused: list[PostingRejected] = []
    for raw in posting_read.load_bill_answers(conn, bill_id):
        try:
            answer = decode_answer(raw)
        except DecodeError:
            continue
        if isinstance(answer, PostingApplied):
            applied[answer.posting_id] = answer
        else:
            refused.append(answer)
    refused.sort(key=lambda r: r.rejected_at, reverse=True)
    return applied, refused


def _outcome(conn: Connection, bill: Bill, posting_id: str | None) -> dict[str, Any] | None:
    """What became of the posting just made: its answer, or 'queued' while there is none."""
    if not posting_id or len(posting_id) > 64:
        return None
    raw = posting_read.find_answers(conn, [posting_id]).get(posting_id)
    if raw is None:
        return {"kind": "queued", "posting_id": posting_id}
    try:
        answer = decode_answer(raw)
    except DecodeError:
        return None
    if answer.bill_id != bill.bill_id:
        return None  # another bill's posting: nothing to say here
    kind = "applied" if isinstance(answer, PostingApplied) else "refused"
    return {"kind": kind, "posting_id": posting_id, "answer": answer}


#: What each 837 status of a claim means to a biller.
CLAIM_STATUS = {
    "sent": ("Sent", "warn", "in an 837P file, no acknowledgment yet"),
    "accepted": ("Accepted by the clearinghouse", "ok", "the 999 accepted it"),
    "payer_accepted": ("Accepted by the payer", "ok", "the payer's 277CA accepted it"),
    "rejected": ("Rejected", "bad", "fix the charge and reprocess it; it goes out as a replacement"),
    "not_sent": ("Not sent", "bad", "no 837P was written for it"),
}


def bill_context(
    conn: Connection, bill: Bill, *, form: PostingForm | None = None, posting: str | None = None
) -> dict[str, Any]:
    applied, refused = _answers(conn, bill.bill_id)
    return {
        "title": f"Bill {bill.bill_id}",
        "bill": bill,
        "patient": patients_of(conn, bill.company_id, [bill.bill_id]).get(bill.bill_id, ""),
        "statuses": statuses(bill),
        "ledger": reports.ledger_rows(posting_read.load_ledger(conn, [bill.bill_id])),
        "applied": applied,
        "refused": refused,
        "families": FAMILIES,
        "form": form or PostingForm(),
        "chosen": BY_CODE.get(form.code) if form else None,
        "new_posting_id": f"web-{uuid.uuid4().hex}",
        "outcome": _outcome(conn, bill, posting),
        "claims_sent": x12_read.bill_claims(conn, bill.bill_id),
        "CLAIM_STATUS": CLAIM_STATUS,
    }


@router.get("/bills/{bill_id}", response_class=HTMLResponse)
def bill_page(request: Request, session: Session, bill_id: str, posting: str | None = None) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        bill = _own_bill(conn, session, bill_id)
        if bill is None:
            return _no_bill(request, session, bill_id)
        context = bill_context(conn, bill, posting=posting)
    return render(request, "bill.html", context, session=session)


def _field(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


@router.post("/bills/{bill_id}/postings", response_model=None)
async def post_to_bill(request: Request, session: Session, form: CheckedForm, bill_id: str) -> Response:
    state = request.app.state

    def read(checked: PostingForm | None = None) -> tuple[Bill | None, dict[str, Any] | None, bool]:
        """The bill; with a checked form, the page to show it on again and whether that
        posting id was answered already."""
        with state.engine.connect() as conn:
            bill = _own_bill(conn, session, bill_id)
            if bill is None or checked is None:
                return bill, None, False
            answered = bool(posting_read.find_answers(conn, [checked.posting_id]))
            return bill, bill_context(conn, bill, form=checked), answered

    async def again(checked: PostingForm, status_code: int) -> Response:
        _, context, _ = await run_in_threadpool(read, checked)
        if context is None:  # the bill went away in between: it cannot, but say so if it does
            return _no_bill(request, session, bill_id)
        return render(request, "bill.html", context, session=session, status_code=status_code)

    bill, _, _ = await run_in_threadpool(read)
    if bill is None:
        return _no_bill(request, session, bill_id)
    checked = check_posting(
        _field(form, "posting_id"),
        _field(form, "code"),
        _field(form, "amount"),
        _field(form, "next_payer"),
        _field(form, "note"),
        [p.sequence for p in bill.payers],
    )
    if not checked.ok:
        return await again(checked, status.HTTP_422_UNPROCESSABLE_CONTENT)
    shown = RedirectResponse(
        f"/bills/{bill.bill_id}?posting={checked.posting_id}#outcome", status_code=status.HTTP_303_SEE_OTHER
    )
    if (await run_in_threadpool(read, checked))[2]:
        return shown  # the same form sent twice: its answer stands, nothing is posted again
    try:
        posting = Posting(
            posting_id=checked.posting_id,
            bill_id=bill.bill_id,
            code=checked.code,
            amount=checked.amount,
            next_payer=checked.next_payer,
            posted_at=state.clock(),
            posted_by=session.caller.user_id,
            note=checked.note,
        )
    except ValidationError as exc:  # check_posting keeps to the contract; this is a last guard
        checked.errors["form"] = f"This posting is not valid: {exc.errors()[0]['msg']}."
        return await again(checked, status.HTTP_422_UNPROCESSABLE_CONTENT)
    published = False
    try:
        async with getattr(state, "answer_watch", AnswerWatch)(state.settings) as watch:
            await state.publish(posting)
            published = True
            await watch.wait(posting.posting_id, ANSWER_WAIT)
    except Exception as exc:  # PublishError, or the watch's aiokafka and OS errors alike
        log.warning(
            "posting %s: %s: %s", "wait failed" if published else "not published", type(exc).__name__, exc
        )
        if not published:
            checked.errors["form"] = (
                "The posting could not be sent: the message broker is not answering. Nothing was "
                "posted. Try again in a minute."
            )
            return await again(checked, status.HTTP_503_SERVICE_UNAVAILABLE)
    log.info("posting published posting_id=%s code=%s", posting.posting_id, posting.code)
    return shown  # the bill page shows the answer, or that the posting is queued
