"""Bill state, the ledger and the answers given, in SQL: batched, on one `Connection`.

The handler runs in the one unit of work of a batch of postings and calls each function
here once per batch: load the batch's bills, its earlier answers, apply in memory, then
save the changed bills, append the ledger lines and record the answers, all in that
transaction. A duplicate `posting_id` finds its recorded answer and is answered with the
same bytes. The tables are in workers/posting/tables.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, delete, insert, select

from claimflow.bulk import BulkInsert, BulkUpdate
from claimflow.db import ids_param, in_list
from contracts.base import format_money
from contracts.claim import Claim
from workers.posting.bill import Bill, BillPayer, bills_from_claims, cents, first_claims
from workers.posting.rules import LedgerLine
from workers.posting.tables import bill_payers, bills, ledger, opened_claims, posting_answers

#: Keeps every IN (...) list well under SQLite's bound-parameter limit.
CHUNK = 500

T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """`items` in IN lists of at most CHUNK values, each padded (claimflow.db.in_list)."""
    for start in range(0, len(items), CHUNK):
        yield in_list(items[start : start + CHUNK])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- bills --------------------------------------------------------------------------------


#: What a Bill is made of: updated_at is only written (parsing it back cost a tenth of a load).
_BILL_READ = tuple(c for c in bills.c if c.key != "updated_at")

# The batch queries are built once, their ids given at each run (claimflow.db.ids_param).
_IDS = ids_param()
_BILLS_BY_ID = select(*_BILL_READ).where(bills.c.bill_id.in_(_IDS))
# In id order, so two lockers take their common rows in the same order.
_BILLS_FOR_UPDATE = _BILLS_BY_ID.order_by(bills.c.bill_id).with_for_update()
_PAYERS_OF = (
    select(bill_payers)
    .where(bill_payers.c.bill_id.in_(_IDS))
    .order_by(bill_payers.c.bill_id, bill_payers.c.sequence)
)
_BILL_IDS = select(bills.c.bill_id).where(bills.c.bill_id.in_(_IDS))
_DELETE_PAYERS = delete(bill_payers).where(bill_payers.c.bill_id.in_(_IDS))
_OPENED = select(opened_claims.c.claim_id).where(opened_claims.c.claim_id.in_(_IDS))
_ANSWERS = select(posting_answers.c.posting_id, posting_answers.c.answer_json).where(
    posting_answers.c.posting_id.in_(_IDS)
)


def load_bills(conn: Connection, bill_ids: Iterable[str], *, for_update: bool = False) -> dict[str, Bill]:
    """The bills that exist among `bill_ids`, by id (two queries per 500 ids).

    `for_update` locks the bill rows (PostgreSQL) until the transaction ends, so a writer
    that loads, changes in memory and saves cannot overwrite another writer's change made
    in between (the claims and postings handlers, or two instances during a rebalance).
    SQLite needs no lock: its writers are serialised by BEGIN IMMEDIATE.
    """
    ids = sorted(set(bill_ids))
    rows: list[Any] = []
    payer_rows: dict[str, list[BillPayer]] = {}
    query = _BILLS_FOR_UPDATE if for_update else _BILLS_BY_ID
    for chunk in _chunks(ids):
        rows.extend(conn.execute(query, {"ids": chunk}).all())
        for p in conn.execute(_PAYERS_OF, {"ids": chunk}).all():
            payer_rows.setdefault(p[0], []).append(_payer_from_row(p))
    return {r[0]: _bill_from_row(r, payer_rows.get(r[0], [])) for r in rows}


def load_all_bills(conn: Connection, company_id: str | None = None) -> list[Bill]:
    """Every bill (of one company), for the reports."""
    query = select(bills.c.bill_id).order_by(bills.c.bill_id)
    if company_id is not None:
        query = query.where(bills.c.company_id == company_id)
    ids = list(conn.execute(query).scalars())
    loaded = load_bills(conn, ids)
    return [loaded[i] for i in ids]


_BILL_COLUMNS = (
    "bill_id",
    "company_id",
    "claim_id",
    "claim_date",
    "billed_amount",
    "balance",
    "late_fee_balance",
    "bad_debt",
    "current_payer",
    "rejected",
    "on_hold",
    "in_collections",
    "killed",
    "rebill_history",
    "updated_at",
)
_PAYER_COLUMNS = (
    "bill_id",
    "sequence",
    "payer_id",
    "name",
    "payer_type",
    "cash_balance",
    "contractual_balance",
    "refunds",
    "transaction_count",
)
_insert_bills = BulkInsert(bills, _BILL_COLUMNS)
_update_bills = BulkUpdate(bills, _BILL_COLUMNS[1:], key="bill_id")
_insert_payers = BulkInsert(bill_payers, _PAYER_COLUMNS)
_update_payers = BulkUpdate(bill_payers, _PAYER_COLUMNS[2:], key=("bill_id", "sequence"))


def save_bills(
    conn: Connection,
    changed: Iterable[Bill],
    now: dt.datetime | None = None,
    *,
    stored: Mapping[str, Bill] | None = None,
) -> None:
    """Insert or update `changed` bills and their payers, in a few statements per batch.

    `stored` may give bills as loaded in this transaction, by id: they need not be looked
    up again, and of their payers only those that changed are written (a posting moves
    one payer's money, or none). Any other bill is looked up, and its payers replaced.
    """
    by_id = {b.bill_id: b for b in changed}
    if not by_id:
        return
    before = stored or {}
    stamp = now or _now()
    ids = sorted(by_id)
    known = {i for i in ids if i in before}
    unknown = [i for i in ids if i not in known]
    for chunk in _chunks(unknown):
        known.update(conn.execute(_BILL_IDS, {"ids": chunk}).scalars())
    _insert_bills(conn, [_bill_row(by_id[i], stamp) for i in ids if i not in known])
    # The key goes last: it is the UPDATE's WHERE parameter.
    _update_bills(conn, [(*_bill_row(by_id[i], stamp)[1:], i) for i in ids if i in known])
    replaced: list[str] = []
    updated: list[tuple[Any, ...]] = []
    for i in ids:
        old = before.get(i)
        if old is None or old.payers == by_id[i].payers:
            if old is None:
                replaced.append(i)
            continue
        if [p.sequence for p in old.payers] != [p.sequence for p in by_id[i].payers]:
            replaced.append(i)
            continue
        for new_payer, old_payer in zip(by_id[i].payers, old.payers, strict=True):
            if new_payer != old_payer:
                updated.append((*_payer_row(i, new_payer)[2:], i, new_payer.sequence))
    _update_payers(conn, updated)
    # A bill seen for the first time, or whose payers were added or removed: replacing its
    # payers is simpler than diffing and as cheap.
    stale = sorted(set(replaced) & known)
    for chunk in _chunks(stale):
        conn.execute(_DELETE_PAYERS, {"ids": chunk})
    _insert_payers(conn, [_payer_row(i, p) for i in replaced for p in by_id[i].payers])


def open_bills_from_claims(conn: Connection, claims: Iterable[Claim]) -> dict[str, Bill]:
    """Open (or re-send) the bills of `claims`; a claim seen before changes nothing.

    Loads what the domain needs (claims already opened, their bills), lets
    `bill.bills_from_claims` decide, and saves what it answers: the bills that were opened
    or changed, by id.
    """
    fresh = first_claims(claims)
    for chunk in _chunks(sorted(fresh)):
        for claim_id in conn.execute(_OPENED, {"ids": chunk}).scalars():
            del fresh[claim_id]
    if not fresh:
        return {}
    known = load_bills(conn, (c.bill_id for c in fresh.values()), for_update=True)
    changed = bills_from_claims(fresh.values(), known)
    save_bills(conn, changed.values(), stored=known)
    conn.execute(
        insert(opened_claims),
        [{"claim_id": c.claim_id, "bill_id": c.bill_id} for c in fresh.values()],
    )
    return changed


# --- ledger and answers ---------------------------------------------------------------------


_insert_ledger = BulkInsert(
    ledger,
    (
        "bill_id",
        "posting_id",
        "code",
        "ledger_code",
        "amount",
        "payer_sequence",
        "balance_after",
        "posted_at",
        "note",
    ),
)


def append_ledger(conn: Connection, lines: Iterable[LedgerLine]) -> None:
    _insert_ledger(
        conn,
        [
            (
                line.bill_id,
                line.posting_id,
                line.code,
                line.ledger_code,
                line.amount,
                line.payer_sequence,
                line.balance_after,
                line.posted_at or _now(),
                line.note or None,
            )
            for line in lines
        ],
    )


def load_ledger(conn: Connection, bill_ids: Iterable[str] | None = None) -> list[LedgerLine]:
    """Ledger lines in the order they were appended (of some bills, or all)."""
    query = select(ledger).order_by(ledger.c.id)
    if bill_ids is None:
        return [_line_from_row(r) for r in conn.execute(query)]
    lines: list[Any] = []
    for chunk in _chunks(sorted(set(bill_ids))):
        lines.extend(conn.execute(query.where(ledger.c.bill_id.in_(chunk))))
    lines.sort(key=lambda r: r.id)
    return [_line_from_row(r) for r in lines]


def find_answers(conn: Connection, posting_ids: Iterable[str]) -> dict[str, bytes]:
    """The answers already given to any of `posting_ids`, as published."""
    found: dict[str, bytes] = {}
    for chunk in _chunks(sorted(set(posting_ids))):
        for posting_id, text in conn.execute(_ANSWERS, {"ids": chunk}).all():
            found[posting_id] = text.encode("utf-8")
    return found


_insert_answers = BulkInsert(posting_answers, ("posting_id", "bill_id", "answer_json"))


def record_answers(
    conn: Connection, answers: Mapping[str, bytes], bill_ids: Mapping[str, str] | None = None
) -> None:
    """Remember the answer published for each posting id.

    A posting id recorded twice is an error (primary key): the caller answers duplicates
    from `find_answers` instead of applying them again. `bill_ids` may give the bill id
    each answer carries (by posting id), so the answer need not be parsed to find it.
    """
    given = bill_ids or {}
    rows = []
    for posting_id, answer in answers.items():
        bill_id = given[posting_id] if posting_id in given else _bill_id_of(answer)
        rows.append((posting_id, bill_id, answer.decode("utf-8")))
    _insert_answers(conn, rows)


def _bill_id_of(answer: bytes) -> str:
    # Both PostingApplied and PostingRejected carry the bill id; it is kept beside the
    # answer so a bill's answers can be found without decoding every row.
    try:
        value = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return ""
    return str(value.get("bill_id", "")) if isinstance(value, dict) else ""


# --- rows <-> domain --------------------------------------------------------------------------


def _bill_row(bill: Bill, stamp: dt.datetime) -> tuple[Any, ...]:
    return (
        bill.bill_id,
        bill.company_id,
        bill.claim_id,
        bill.claim_date,
        bill.billed_amount,
        bill.balance,
        bill.late_fee_balance,
        bill.bad_debt,
        bill.current_payer,
        bill.rejected,
        bill.on_hold,
        bill.in_collections,
        bill.killed,
        list(bill.rebill_history),
        stamp,
    )


def _payer_row(bill_id: str, p: BillPayer) -> tuple[Any, ...]:
    return (
        bill_id,
        p.sequence,
        p.payer_id,
        p.name,
        p.payer_type,
        p.cash_balance,
        p.contractual_balance,
        [format_money(r) for r in p.refunds],
        p.transaction_count,
    )


def _bill_from_row(r: Any, payers: list[BillPayer]) -> Bill:
    # Unpacked by position (the columns of _BILL_READ, in table order): a row's attribute
    # lookups by name were a third of loading a bill.
    (bill_id, company_id, claim_id, claim_date, billed, balance, late_fee, bad_debt, current) = r[:9]
    rejected, on_hold, in_collections, killed, rebill_history = r[9:]
    return Bill(
        bill_id=bill_id,
        company_id=company_id,
        claim_id=claim_id,
        claim_date=claim_date,
        payers=tuple(payers),
        billed_amount=cents(billed),
        balance=cents(balance),
        current_payer=current,
        late_fee_balance=cents(late_fee),
        bad_debt=cents(bad_debt),
        rejected=bool(rejected),
        on_hold=bool(on_hold),
        in_collections=bool(in_collections),
        killed=bool(killed),
        rebill_history=tuple(int(s) for s in rebill_history),
    )


def _payer_from_row(p: Any) -> BillPayer:
    # By position, as above: the columns of bill_payers in table order.
    _bill_id, sequence, payer_id, name, payer_type, cash, contractual, refunds, count = p
    return BillPayer(
        sequence=sequence,
        payer_id=payer_id,
        name=name,
        payer_type=payer_type,
        cash_balance=cents(cash),
        contractual_balance=cents(contractual),
        refunds=tuple(cents(r) for r in refunds),
        transaction_count=count,
    )


def _line_from_row(r: Any) -> LedgerLine:
    return LedgerLine(
        bill_id=r.bill_id,
        code=r.code,
        ledger_code=r.ledger_code,
        amount=None if r.amount is None else cents(r.amount),
        payer_sequence=r.payer_sequence,
        balance_after=cents(r.balance_after),
        posting_id=r.posting_id,
        posted_at=r.posted_at,
        note=r.note or "",
    )


def load_bill_answers(conn: Connection, bill_id: str, limit: int = 200) -> list[bytes]:
    """The answers given to postings for one bill (applied and refused), as published; at
    most `limit`. The bill page shows each posting with its answer from these."""
    query = select(posting_answers.c.answer_json).where(posting_answers.c.bill_id == bill_id).limit(limit)
    return [text.encode("utf-8") for text in conn.execute(query).scalars()]
