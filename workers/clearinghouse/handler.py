"""The clearinghouse worker's batch step: claims become 837P interchanges in the outbox.

A batch is the batch window: its new claims are grouped by receiver (the routing file's
route for the primary payer) and each group becomes one interchange, with control numbers
allocated and recorded in the batch's one transaction. Every claim gets exactly one row: in
an interchange, or not sent with the reason (a self-pay claim goes to the patient, not a
clearinghouse), or rejected when it lacks what an 837P needs (a Rejection posting on its
bill is the batch's answer). A claim delivered again finds its row and adds nothing.

The file is written (temp file, then rename) before the transaction commits. Should the
commit fail, the batch's retry allocates the same control numbers again (they rolled back)
and rewrites the same file name; a clearinghouse treats a repeated ISA13 as the duplicate
it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import Connection

from claimflow.logs import get_logger
from contracts.claim import Claim
from contracts.codec import encode
from contracts.posting import Posting
from contracts.topics import POSTINGS
from workers.clearinghouse import storage
from workers.clearinghouse.acks import REJECTION_CODE, posting_id
from workers.clearinghouse.routing import Routing
from workers.clearinghouse.storage import ClaimRow
from workers.clearinghouse.x12_837 import OutgoingClaim, interchange, missing, sendable, transaction_number
from workers.common.messages import Incoming, Outgoing

Clock = Callable[[], dt.datetime]
log = get_logger("claimflow.clearinghouse")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def file_name(receiver_id: str, control_number: int) -> str:
    return f"837P_{receiver_id.strip()}_{control_number:09d}.x12"


class ClaimsHandler:
    name = "clearinghouse"
    models: tuple[type[Claim], ...] = (Claim,)

    def __init__(self, routing: Routing, outbox: Path, *, prefix: str = "", clock: Clock = utcnow) -> None:
        self.routing = routing
        self.outbox = outbox
        self.clock = clock
        self.postings_topic = f"{prefix}{POSTINGS}"

    def handle(self, conn: Connection, batch: Sequence[Incoming[Claim]]) -> list[Outgoing]:
        unique: dict[str, Claim] = {}
        for item in batch:
            unique.setdefault(item.message.claim_id, item.message)
        known = storage.known_claims(conn, unique)
        fresh = [claim for claim_id, claim in unique.items() if claim_id not in known]
        rejections: list[Posting] = []
        now = self.clock()
        if known:
            # Delivered again, perhaps because the answers were lost in a crash after the
            # commit: a claim rejected for a missing field is answered again (same posting_id).
            for claim_id in storage.rejected_unsent(conn, known):
                rejections.append(rejection(unique[claim_id], missing(unique[claim_id]), now))
        if fresh:
            send_claims(conn, fresh, self.routing, self.outbox, now, rejections)
        return [Outgoing(self.postings_topic, p.bill_id.encode(), encode(p)) for p in rejections]


def rejection(claim: Claim, gaps: list[str], now: dt.datetime) -> Posting:
    words = f"Not sent: an 837P needs {', '.join(gaps)}; fix the charge and send the correction"
    return Posting(
        posting_id=posting_id(f"837:{claim.claim_id}", claim.claim_id),
        bill_id=claim.bill_id,
        code=REJECTION_CODE,
        posted_at=now,
        posted_by="clearinghouse",
        note=words[:500],
    )


def send_claims(
    conn: Connection,
    claims: Sequence[Claim],
    routing: Routing,
    outbox: Path,
    now: dt.datetime,
    rejections: list[Posting] | None = None,
) -> list[Path]:
    """Record each claim once and write an interchange per receiver; the files written.

    A claim an 837P cannot carry for want of a field never reaches the clearinghouse: it is
    recorded rejected and a Rejection posting for its bill goes to `rejections`, so the
    biller sees what to fix and the corrected charge goes out as a replacement.
    """
    replaced = storage.payer_claim_numbers(conn, (c.bill_id for c in claims if c.frequency == "replacement"))
    rows: list[ClaimRow] = []
    routes: dict[str, list[OutgoingClaim]] = {}
    for claim in claims:
        why_not = sendable(claim)
        if why_not is not None:
            rows.append(ClaimRow(claim, "not_sent", why_not))
            continue
        gaps = missing(claim)
        if gaps:
            posting = rejection(claim, gaps, now)
            rows.append(ClaimRow(claim, "rejected", posting.note))
            if rejections is not None:
                rejections.append(posting)
            continue
        reference = replaced.get(claim.bill_id) if claim.frequency == "replacement" else None
        routes.setdefault(routing.receiver_for(claim), []).append(OutgoingClaim(claim, reference))
    written: list[Path] = []
    sender = routing.sender.id
    for receiver, outgoing in sorted(routes.items()):
        envelope = routing.envelope(receiver)
        numbers = storage.allocate(conn, sender, len(outgoing))
        text = interchange(outgoing, envelope, numbers, now)
        name = file_name(envelope.receiver_id, numbers.interchange)
        interchange_id = storage.record_interchange(
            conn,
            sender_id=sender,
            numbers=numbers,
            receiver=receiver,
            file_name=name,
            claim_count=len(outgoing),
            text=text,
            now=now,
        )
        for index, item in enumerate(outgoing):
            detail = f"in {name} for {envelope.receiver_name}"
            rows.append(
                ClaimRow(item.claim, "sent", detail, interchange_id, transaction_number(numbers, index))
            )
        written.append(storage.write_atomically(outbox, name, text))
    storage.record_claims(conn, rows, now)
    log.info(
        "interchanges_written",
        worker="clearinghouse",
        claims=len(claims),
        interchanges=len(written),
        not_sent=sum(1 for r in rows if r.status == "not_sent"),
    )
    return written
