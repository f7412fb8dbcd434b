"""Reading and writing the clearinghouse tables, and the outbox folder."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, insert, select, update

from claimflow.settings import Settings
from contracts.claim import Claim
from contracts.codec import decode, encode
from contracts.posting import Posting
from workers.clearinghouse.tables import x12_acks, x12_claims, x12_counters, x12_interchanges
from workers.clearinghouse.x12_837 import ControlNumbers


def outbox_path(settings: Settings) -> Path:
    return settings.x12_outbox or settings.home / "x12" / "outbox"


def inbox_path(settings: Settings) -> Path:
    """Where the worker picks up 999 and 277CA files (an SFTP downloader drops them here)."""
    return settings.x12_inbox or settings.home / "x12" / "inbox"


def allocate(conn: Connection, sender_id: str, transactions: int) -> ControlNumbers:
    """The next ISA13, GS06 and a run of ST02s for one interchange; persisted in the transaction.

    The row is read FOR UPDATE (PostgreSQL), so two instances never take the same numbers;
    numbers rolled back with a failed batch are taken again by its retry.
    """
    row = conn.execute(
        select(x12_counters.c.interchange, x12_counters.c.grp, x12_counters.c.txn)
        .where(x12_counters.c.sender_id == sender_id)
        .with_for_update()
    ).first()
    if row is None:
        last = (0, 0, 0)
        conn.execute(insert(x12_counters).values(sender_id=sender_id, interchange=0, grp=0, txn=0))
    else:
        last = (int(row.interchange), int(row.grp), int(row.txn))
    numbers = ControlNumbers(interchange=last[0] + 1, group=last[1] + 1, first_transaction=last[2] + 1)
    conn.execute(
        update(x12_counters)
        .where(x12_counters.c.sender_id == sender_id)
        .values(interchange=numbers.interchange, grp=numbers.group, txn=last[2] + transactions)
    )
    return numbers


def known_claims(conn: Connection, claim_ids: Iterable[str]) -> set[str]:
    ids = list(set(claim_ids))
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(conn.scalars(select(x12_claims.c.claim_id).where(x12_claims.c.claim_id.in_(chunk))))
    return found


def rejected_unsent(conn: Connection, claim_ids: Iterable[str]) -> list[str]:
    """Of these claims, those rejected without being sent (a field an 837P needs was missing)."""
    c = x12_claims.c
    ids = list(set(claim_ids))
    return list(
        conn.scalars(
            select(c.claim_id).where(c.claim_id.in_(ids), c.status == "rejected", c.interchange_id.is_(None))
        )
    )


def payer_claim_numbers(conn: Connection, bill_ids: Iterable[str]) -> dict[str, str]:
    """The payer's claim control number last acknowledged for each bill (277CA REF*1K)."""
    ids = list(set(bill_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(x12_claims.c.bill_id, x12_claims.c.payer_claim_number, x12_claims.c.updated_at)
        .where(x12_claims.c.bill_id.in_(ids), x12_claims.c.payer_claim_number.is_not(None))
        .order_by(x12_claims.c.updated_at)
    )
    return {row.bill_id: row.payer_claim_number for row in rows}


@dataclass(frozen=True)
class ClaimRow:
    claim: Claim
    status: str
    detail: str = ""
    interchange_id: str | None = None
    transaction_number: str | None = None


def record_claims(conn: Connection, rows: list[ClaimRow], now: dt.datetime) -> None:
    if not rows:
        return
    conn.execute(
        insert(x12_claims),
        [
            {
                "claim_id": r.claim.claim_id,
                "bill_id": r.claim.bill_id,
                "company_id": r.claim.company_id,
                "run_number": r.claim.run_number,
                "frequency": r.claim.frequency,
                "interchange_id": r.interchange_id,
                "transaction_number": r.transaction_number,
                "status": r.status,
                "status_detail": r.detail,
                "payer_claim_number": None,
                "claim_json": encode(r.claim).decode(),
                "updated_at": now,
            }
            for r in rows
        ],
    )


def record_interchange(
    conn: Connection,
    *,
    sender_id: str,
    numbers: ControlNumbers,
    receiver: str,
    file_name: str,
    claim_count: int,
    text: str,
    now: dt.datetime,
) -> str:
    interchange_id = f"{sender_id}:{numbers.interchange:09d}"
    conn.execute(
        insert(x12_interchanges).values(
            interchange_id=interchange_id,
            sender_id=sender_id,
            control_number=numbers.interchange,
            group_number=numbers.group,
            receiver=receiver,
            file_name=file_name,
            claim_count=claim_count,
            text=text,
            created_at=now,
            ack_status="pending",
        )
    )
    return interchange_id


def stored_claims(conn: Connection, *, run: int | None = None, claim_id: str | None = None) -> list[Claim]:
    query = select(x12_claims.c.claim_json).order_by(x12_claims.c.claim_id)
    if run is not None:
        query = query.where(x12_claims.c.run_number == run)
    if claim_id is not None:
        query = query.where(x12_claims.c.claim_id == claim_id)
    return [decode(raw.encode(), Claim) for raw in conn.scalars(query)]


def write_atomically(folder: Path, name: str, text: str) -> Path:
    """Write `name` in `folder` so that a reader sees the whole file or none of it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    # The temp file starts with a dot: an uploader that skips dot files never picks it up.
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def ack_postings(conn: Connection, ack_id: str) -> list[Posting] | None:
    """The postings an acknowledgment made when it was imported, or None if it never was."""
    raw = conn.scalar(select(x12_acks.c.postings_json).where(x12_acks.c.ack_id == ack_id))
    if raw is None:
        return None
    return [decode(item.encode(), Posting) for item in json.loads(raw)]


def record_ack(
    conn: Connection, ack_id: str, kind: str, claims: int, postings: list[Posting], now: dt.datetime
) -> None:
    encoded = json.dumps([encode(p).decode() for p in postings])
    conn.execute(
        insert(x12_acks).values(
            ack_id=ack_id, kind=kind, claims=claims, postings_json=encoded, imported_at=now
        )
    )


def find_interchange(conn: Connection, sender_id: str, group_number: int) -> str | None:
    return conn.scalar(
        select(x12_interchanges.c.interchange_id).where(
            x12_interchanges.c.sender_id == sender_id, x12_interchanges.c.group_number == group_number
        )
    )


def set_interchange_ack(conn: Connection, interchange_id: str, status: str) -> None:
    conn.execute(
        update(x12_interchanges)
        .where(x12_interchanges.c.interchange_id == interchange_id)
        .values(ack_status=status)
    )


@dataclass(frozen=True)
class SentClaim:
    claim_id: str
    bill_id: str
    status: str
    transaction_number: str | None


def sent_claims(
    conn: Connection, *, interchange_id: str | None = None, claim_ids: Iterable[str] = ()
) -> dict[str, SentClaim]:
    """Claims by claim id, or by ST02 when read for an interchange."""
    c = x12_claims.c
    query = select(c.claim_id, c.bill_id, c.status, c.transaction_number)
    if interchange_id is not None:
        rows = conn.execute(query.where(c.interchange_id == interchange_id))
        return {r.transaction_number: SentClaim(*r) for r in rows}
    ids = list(set(claim_ids))
    if not ids:
        return {}
    return {r.claim_id: SentClaim(*r) for r in conn.execute(query.where(c.claim_id.in_(ids)))}


def set_claim_status(
    conn: Connection,
    claim_id: str,
    status: str,
    detail: str,
    now: dt.datetime,
    payer_claim_number: str | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "status_detail": detail, "updated_at": now}
    if payer_claim_number:
        values["payer_claim_number"] = payer_claim_number[:50]
    conn.execute(update(x12_claims).where(x12_claims.c.claim_id == claim_id).values(**values))


def bill_claims(conn: Connection, bill_id: str) -> list[dict[str, object]]:
    """A bill's claims, oldest first, with where each went and what came back (for a bill page)."""
    c, i = x12_claims.c, x12_interchanges.c
    rows = conn.execute(
        select(
            c.claim_id,
            c.frequency,
            c.status,
            c.status_detail,
            c.payer_claim_number,
            c.transaction_number,
            c.updated_at,
            i.file_name,
            i.receiver,
            i.ack_status,
        )
        .select_from(x12_claims.outerjoin(x12_interchanges, c.interchange_id == i.interchange_id))
        .where(c.bill_id == bill_id)
        .order_by(c.run_number, c.claim_id)
    )
    return [{str(k): v for k, v in row._mapping.items()} for row in rows]
