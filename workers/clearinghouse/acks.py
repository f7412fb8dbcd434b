"""Applying an acknowledgment: claim statuses, and a Rejection (J) posting per rejected claim.

Runs in one transaction: the statuses, the acknowledgment's record and the postings it made
commit together; the caller publishes the postings to `billing.postings` after the commit,
where the posting worker applies them (the bill becomes `rejected`, and the biller's
corrected charge goes out as a replacement claim). An acknowledgment is imported once, by
its kind, sender and ISA13: importing the same file again changes nothing and hands back
the same postings to publish again (the posting worker applies a posting_id once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import Connection

from contracts.posting import Posting
from workers.clearinghouse import storage
from workers.clearinghouse.x12_acks import ACK_CODES, Acknowledgment

#: The Rejection code an acknowledgment posts (the J family, spec/posting-rules.md).
REJECTION_CODE = "JX12"
INTERCHANGE_STATUS = {"A": "accepted", "E": "accepted", "P": "partial", "R": "rejected", "M": "rejected"}


@dataclass
class ImportResult:
    ack_id: str
    kind: str
    repeated: bool = False
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)

    def summary(self) -> str:
        if self.repeated:
            return f"{self.kind} {self.ack_id} was imported before; nothing changed"
        text = f"{self.kind}: {len(self.accepted)} accepted, {len(self.rejected)} rejected"
        if self.unknown:
            text += f", {len(self.unknown)} not ours ({', '.join(self.unknown[:5])})"
        return text


def posting_id(ack_id: str, claim_id: str) -> str:
    digest = hashlib.sha256(f"{ack_id}|{claim_id}".encode()).hexdigest()[:24]
    return f"x12ack-{digest}"


def import_ack(conn: Connection, ack: Acknowledgment, now: dt.datetime) -> ImportResult:
    result = ImportResult(ack.ack_id, ack.kind)
    earlier = storage.ack_postings(conn, ack.ack_id)
    if earlier is not None:
        result.repeated = True
        result.postings = earlier
        return result
    if ack.kind == "999":
        _apply_999(conn, ack, now, result)
    else:
        _apply_277ca(conn, ack, now, result)
    storage.record_ack(
        conn, ack.ack_id, ack.kind, len(result.accepted) + len(result.rejected), result.postings, now
    )
    return result


def _reject(
    conn: Connection,
    result: ImportResult,
    ack: Acknowledgment,
    claim: storage.SentClaim,
    words: str,
    now: dt.datetime,
) -> None:
    result.rejected.append(claim.claim_id)
    if claim.status == "rejected":
        return  # already back with the biller: one Rejection per claim
    storage.set_claim_status(conn, claim.claim_id, "rejected", words, now)
    result.postings.append(
        Posting(
            posting_id=posting_id(ack.ack_id, claim.claim_id),
            bill_id=claim.bill_id,
            code=REJECTION_CODE,
            posted_at=now,
            posted_by="clearinghouse",
            note=words[:500],
        )
    )


def _apply_999(conn: Connection, ack: Acknowledgment, now: dt.datetime, result: ImportResult) -> None:
    try:
        group = int(ack.group_number)
    except ValueError:
        group = -1
    interchange_id = storage.find_interchange(conn, ack.receiver_id, group)
    if interchange_id is None:
        result.unknown.append(f"group {ack.group_number}")
        return
    storage.set_interchange_ack(conn, interchange_id, INTERCHANGE_STATUS.get(ack.group_code, "rejected"))
    claims = storage.sent_claims(conn, interchange_id=interchange_id)
    for answer in ack.transactions:
        claim = claims.get(answer.control_number)
        if claim is None:
            result.unknown.append(f"transaction {answer.control_number}")
            continue
        if answer.rejected:
            problems = "; ".join(answer.problems) or "no detail given"
            words = (
                f"Rejected by the clearinghouse {ack.sender_id} (999 {ack.control_number}, "
                f"{ACK_CODES.get(answer.code, answer.code)}): {problems}"
            )
            _reject(conn, result, ack, claim, words, now)
        else:
            result.accepted.append(claim.claim_id)
            if claim.status in ("sent", "accepted"):
                words = f"Accepted by the clearinghouse {ack.sender_id} (999 {ack.control_number})"
                storage.set_claim_status(conn, claim.claim_id, "accepted", words, now)


def _apply_277ca(conn: Connection, ack: Acknowledgment, now: dt.datetime, result: ImportResult) -> None:
    claims = storage.sent_claims(conn, claim_ids=(s.claim_id for s in ack.claims))
    for status in ack.claims:
        claim = claims.get(status.claim_id)
        if claim is None:
            result.unknown.append(status.claim_id)
            continue
        if status.rejected:
            words = f"Rejected by {ack.sender_id} (277CA {ack.control_number}): {status.words()}"
            _reject(conn, result, ack, claim, words, now)
            continue
        result.accepted.append(claim.claim_id)
        if claim.status == "rejected":
            continue
        adjudicating = any(category == "A2" for category, _, _ in status.statuses)
        new_status = "payer_accepted" if adjudicating else "acknowledged"
        verb = "Accepted" if adjudicating else "Acknowledged"
        words = f"{verb} by {ack.sender_id} (277CA {ack.control_number})"
        if status.payer_claim_number:
            words += f"; payer claim number {status.payer_claim_number}"
        storage.set_claim_status(conn, claim.claim_id, new_status, words, now, status.payer_claim_number)
