"""ERAs and their claim payments in SQL, on the batch's one `Connection`.

Also where the remittance worker reads the posting worker's state, read only: which bill a
claim id opened (`opened_claims`), the bill itself, and which of its own postings the
posting worker has answered (`posting_answers`). A posting it published and that is not
answered yet is laid over the stored bill (`projected_bill`), so two ERAs for one bill in
quick succession are planned on the bill as it will be, not as it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, and_, insert, select, update

from contracts.posting import Posting
from workers.posting import read as posting_read
from workers.posting.bill import Bill
from workers.posting.read import bills, opened_claims
from workers.posting.rules import Applied, apply_posting
from workers.remittance import carc
from workers.remittance.era import Cas, ClaimPayment, Era, ServiceLine
from workers.remittance.mapping import Planned, era_ref
from workers.remittance.tables import era_claim_payments, era_provider_adjustments, eras

POSTED, PARKED, DUPLICATE, RESOLVED = "posted", "parked", "duplicate", "resolved"


@dataclasses.dataclass(frozen=True)
class StoredClaim:
    id: int
    era_key: str
    claim_index: int
    claim_id: str
    bill_id: str | None
    payer_sequence: int | None
    outcome: str
    reason_code: str
    reason: str
    postings: list[dict[str, Any]]
    claim: ClaimPayment
    payer_id: str
    payer_name: str


# --- ERAs -------------------------------------------------------------------------------------


def find_era(conn: Connection, key: str) -> Any:
    return conn.execute(select(eras).where(eras.c.era_key == key)).first()


def insert_era(conn: Connection, era: Era, file_name: str, source: str, now: dt.datetime) -> None:
    conn.execute(
        insert(eras).values(
            era_key=era.key,
            era_ref=era_ref(era),
            payer_id=era.payer_id,
            payer_name=era.payer_name,
            trace=era.trace,
            total=era.total,
            method=era.method,
            paid_on=era.paid_on,
            payee_id=era.payee_id,
            claim_count=len(era.claims),
            claims_paid=era.claims_paid,
            provider_adjustments=era.provider_adjustment_total,
            file_name=file_name[:255],
            source=source[:300],
            times_received=1,
            received_at=now,
            last_received_at=now,
        )
    )
    if era.provider_adjustments:
        conn.execute(
            insert(era_provider_adjustments),
            [
                {
                    "era_key": era.key,
                    "position": n,
                    "reason": a.reason,
                    "reference": a.reference,
                    "amount": a.amount,
                    "description": carc.provider_adjustment(a.reason),
                }
                for n, a in enumerate(era.provider_adjustments, start=1)
            ],
        )


def received_again(conn: Connection, key: str, now: dt.datetime) -> None:
    conn.execute(
        update(eras)
        .where(eras.c.era_key == key)
        .values(times_received=eras.c.times_received + 1, last_received_at=now)
    )


# --- claim payments ---------------------------------------------------------------------------


def payment_key(era: Era, claim: ClaimPayment) -> str:
    return "|".join((era.payer_id, claim.claim_id, claim.payer_claim_number, claim.status, str(claim.paid)))


def posted_elsewhere(conn: Connection, key: str, era_key: str) -> str | None:
    """The ERA that already posted this same claim payment, if another one did."""
    row = conn.execute(
        select(era_claim_payments.c.era_key).where(
            era_claim_payments.c.payment_key == key,
            era_claim_payments.c.outcome == POSTED,
            era_claim_payments.c.era_key != era_key,
        )
    ).first()
    return None if row is None else str(row[0])


def bill_of_claim(conn: Connection, claim_id: str) -> str | None:
    """The bill a claim id (CLP01, the 837's CLM01) opened; a bill id is accepted too."""
    found = conn.execute(select(opened_claims.c.bill_id).where(opened_claims.c.claim_id == claim_id)).first()
    if found is not None:
        return str(found[0])
    found = conn.execute(select(bills.c.bill_id).where(bills.c.bill_id == claim_id)).first()
    return None if found is None else str(found[0])


def projected_bill(conn: Connection, bill_id: str) -> Bill | None:
    """The bill as stored, with this worker's postings not yet answered applied over it."""
    bill = posting_read.load_bills(conn, [bill_id]).get(bill_id)
    if bill is None:
        return None
    rows = conn.execute(
        select(era_claim_payments.c.postings)
        .where(era_claim_payments.c.bill_id == bill_id, era_claim_payments.c.outcome == POSTED)
        .order_by(era_claim_payments.c.id)
    ).all()
    published = [p for (postings,) in rows for p in postings]
    answered = posting_read.find_answers(conn, (p["posting_id"] for p in published))
    for p in published:
        if p["posting_id"] in answered:
            continue
        outcome = apply_posting(bill, Posting.model_validate_json(p["json"]))
        if isinstance(outcome, Applied):
            bill = outcome.bill
    return bill


def reversed_candidate(
    conn: Connection, bill_id: str, payer_id: str, payer_claim_number: str
) -> tuple[int, tuple[Planned, ...], int] | None:
    """The newest posted, not yet reversed, claim payment of this payer claim on the bill."""
    row = conn.execute(
        select(era_claim_payments.c.id, era_claim_payments.c.postings, era_claim_payments.c.payer_sequence)
        .join(eras, eras.c.era_key == era_claim_payments.c.era_key)
        .where(
            era_claim_payments.c.bill_id == bill_id,
            era_claim_payments.c.outcome == POSTED,
            era_claim_payments.c.status != "22",
            era_claim_payments.c.reversed_by.is_(None),
            era_claim_payments.c.payer_claim_number == payer_claim_number,
            eras.c.payer_id == payer_id,
        )
        .order_by(era_claim_payments.c.id.desc())
    ).first()
    if row is None or row.payer_sequence is None:
        return None
    planned = tuple(
        Planned(p["code"], None if p["amount"] is None else Decimal(p["amount"]), p["note"], p["next_payer"])
        for p in row.postings
    )
    return int(row.id), planned, int(row.payer_sequence)


def save_claim(
    conn: Connection,
    era: Era,
    claim: ClaimPayment,
    *,
    bill_id: str | None,
    payer_sequence: int | None,
    outcome: str,
    reason_code: str,
    reason: str,
    notes: Sequence[str],
    postings: Sequence[dict[str, Any]],
    reverses: int | None,
    now: dt.datetime,
    existing_id: int | None = None,
) -> int:
    values = {
        "bill_id": bill_id,
        "payer_sequence": payer_sequence,
        "outcome": outcome,
        "reason_code": reason_code,
        "reason": reason,
        "notes": list(notes),
        "postings": list(postings),
        "reverses": reverses,
        "updated_at": now,
    }
    if existing_id is not None:
        conn.execute(
            update(era_claim_payments).where(era_claim_payments.c.id == existing_id).values(**values)
        )
        row_id = existing_id
    else:
        result = conn.execute(
            insert(era_claim_payments).values(
                era_key=era.key,
                claim_index=claim.index,
                claim_id=claim.claim_id,
                status=claim.status,
                charge=claim.charge,
                paid=claim.paid,
                patient_responsibility=claim.patient_responsibility,
                payer_claim_number=claim.payer_claim_number,
                payment_key=payment_key(era, claim),
                claim_json=claim_to_json(claim),
                **values,
            )
        )
        row_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    if reverses is not None:
        conn.execute(
            update(era_claim_payments).where(era_claim_payments.c.id == reverses).values(reversed_by=row_id)
        )
    return row_id


def postings_of_era(conn: Connection, key: str) -> list[tuple[str, bytes]]:
    """Every posting published for an ERA's claim payments, as (bill id, exact bytes)."""
    rows = conn.execute(
        select(era_claim_payments.c.bill_id, era_claim_payments.c.postings)
        .where(era_claim_payments.c.era_key == key, era_claim_payments.c.outcome == POSTED)
        .order_by(era_claim_payments.c.claim_index)
    ).all()
    return [(str(bill_id), p["json"].encode()) for bill_id, postings in rows for p in postings]


def parked(
    conn: Connection, claim_ids: Iterable[str] | None = None, *, ready_only: bool = False
) -> list[StoredClaim]:
    """Parked claim payments (of some claims), oldest first; `ready_only`: whose bill exists now."""
    query = (
        select(era_claim_payments, eras.c.payer_id, eras.c.payer_name)
        .join(eras, eras.c.era_key == era_claim_payments.c.era_key)
        .where(era_claim_payments.c.outcome == PARKED)
        .order_by(era_claim_payments.c.id)
    )
    if claim_ids is not None:
        ids = sorted(set(claim_ids))
        if not ids:
            return []
        query = query.where(era_claim_payments.c.claim_id.in_(ids))
    if ready_only:
        query = query.where(
            and_(
                era_claim_payments.c.reason_code == "NO_BILL",
                era_claim_payments.c.claim_id.in_(select(opened_claims.c.claim_id)),
            )
        )
    return [_stored(r) for r in conn.execute(query)]


def resolve(conn: Connection, row_id: int, note: str, by: str, now: dt.datetime) -> bool:
    result = conn.execute(
        update(era_claim_payments)
        .where(era_claim_payments.c.id == row_id, era_claim_payments.c.outcome == PARKED)
        .values(
            outcome=RESOLVED,
            reason=era_claim_payments.c.reason + f" | resolved by {by}: {note}"[:500],
            updated_at=now,
        )
    )
    return bool(result.rowcount)


def _stored(r: Any) -> StoredClaim:
    return StoredClaim(
        id=int(r.id),
        era_key=r.era_key,
        claim_index=r.claim_index,
        claim_id=r.claim_id,
        bill_id=r.bill_id,
        payer_sequence=r.payer_sequence,
        outcome=r.outcome,
        reason_code=r.reason_code,
        reason=r.reason,
        postings=list(r.postings),
        claim=claim_from_json(r.claim_json),
        payer_id=r.payer_id,
        payer_name=r.payer_name,
    )


# --- a claim payment as JSON (kept for a retry) ----------------------------------------------


def claim_to_json(claim: ClaimPayment) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(orjson.dumps(dataclasses.asdict(claim), default=str))
    return value


def claim_from_json(data: dict[str, Any]) -> ClaimPayment:
    def cas(items: list[dict[str, Any]]) -> tuple[Cas, ...]:
        return tuple(Cas(a["group"], a["reason"], Decimal(a["amount"])) for a in items)

    return ClaimPayment(
        index=int(data["index"]),
        claim_id=data["claim_id"],
        status=data["status"],
        charge=Decimal(data["charge"]),
        paid=Decimal(data["paid"]),
        patient_responsibility=Decimal(data["patient_responsibility"]),
        payer_claim_number=data["payer_claim_number"],
        adjustments=cas(data["adjustments"]),
        lines=tuple(
            ServiceLine(
                procedure=line["procedure"],
                charge=Decimal(line["charge"]),
                paid=Decimal(line["paid"]),
                units=line["units"],
                adjustments=cas(line["adjustments"]),
                remarks=tuple(line["remarks"]),
            )
            for line in data["lines"]
        ),
        remarks=tuple(data["remarks"]),
    )
