"""The remittance worker's batch steps: 835 files become postings; parked ones are retried.

Each runs in the one transaction `workers.common.batch` opens per batch, and the postings
are published only after it commits. Per message:

- an 835 that does not validate or balance is dead-lettered whole, with the reason;
- an ERA (payer + TRN02) seen before changes nothing: its postings are published again,
  byte for byte (the posting worker answers each posting id once), and the ERA's count of
  receipts goes up, unless this is the very message that posted it (a replay after a crash);
- each claim payment is posted, parked (no bill yet, another payer, a posting the rules
  would refuse...) or recorded as a duplicate of the same claim payment in another ERA.

Claims are read too: a parked claim payment whose bill now exists is tried again, and so
is every parked one (or those of some claims) on a `RemittanceRetry`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from claimflow.logs import get_logger
from contracts.claim import Claim
from contracts.codec import encode
from contracts.posting import Posting
from contracts.remittance import RemittanceFile, RemittanceRetry
from contracts.topics import POSTINGS
from workers.common.deadletter import dead_letter
from workers.common.messages import Incoming, Outgoing
from workers.remittance import storage
from workers.remittance.era import ClaimPayment, Era, EraRefused, read_eras
from workers.remittance.mapping import REVERSAL, MappingConfig, plan, posting_id

Clock = Callable[[], dt.datetime]
log = get_logger("claimflow.remittance")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RemittanceHandler:
    name = "remittance"
    models: tuple[type[RemittanceFile | RemittanceRetry], ...] = (RemittanceFile, RemittanceRetry)

    def __init__(
        self, *, prefix: str = "", config: MappingConfig | None = None, clock: Clock = utcnow
    ) -> None:
        self.prefix = prefix
        self.config = config or MappingConfig()
        self.clock = clock
        self.postings_topic = f"{prefix}{POSTINGS}"

    def handle(
        self, conn: Connection, batch: Sequence[Incoming[RemittanceFile | RemittanceRetry]]
    ) -> list[Outgoing]:
        out: list[Outgoing] = []
        for item in batch:
            message = item.message
            if isinstance(message, RemittanceRetry):
                out += self.retry(conn, message.claim_ids or None)
                continue
            source = f"{item.source.topic}:{item.source.partition}:{item.source.offset}"
            try:
                eras = read_eras(message.x12)
            except EraRefused as refused:
                log.warning("era_refused", file=message.file_name, reason=refused.reason[:300])
                out.append(dead_letter(item.source, "invalid", refused.reason, self.name, self.prefix))
                continue
            for era in eras:
                out += self._era(conn, era, message.file_name, source)
        return out

    def _era(self, conn: Connection, era: Era, file_name: str, source: str) -> list[Outgoing]:
        now = self.clock()
        known = storage.find_era(conn, era.key)
        if known is not None:
            if known.source != source:
                storage.received_again(conn, era.key, now)
                log.info("era_already_posted", era=era.key, times=known.times_received + 1)
            return [
                Outgoing(self.postings_topic, bill_id.encode(), raw)
                for bill_id, raw in storage.postings_of_era(conn, era.key)
            ]
        storage.insert_era(conn, era, file_name, source, now)
        out: list[Outgoing] = []
        outcomes: dict[str, int] = {}
        for claim in era.claims:
            outcome, published = self._claim(conn, era, claim, now)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            out += published
        log.info("era_posted", era=era.key, claims=len(era.claims), postings=len(out), **outcomes)
        return out

    def _claim(
        self, conn: Connection, era: Era, claim: ClaimPayment, now: dt.datetime, existing: int | None = None
    ) -> tuple[str, list[Outgoing]]:
        def save(
            outcome: str,
            code: str,
            reason: str,
            *,
            bill_id: str | None = None,
            payer_sequence: int | None = None,
            notes: Sequence[str] = (),
            postings: Sequence[dict[str, Any]] = (),
            reverses: int | None = None,
        ) -> None:
            storage.save_claim(
                conn,
                era,
                claim,
                bill_id=bill_id,
                payer_sequence=payer_sequence,
                outcome=outcome,
                reason_code=code,
                reason=reason,
                notes=notes,
                postings=postings,
                reverses=reverses,
                now=now,
                existing_id=existing,
            )

        other = storage.posted_elsewhere(conn, storage.payment_key(era, claim), era.key)
        if other is not None:
            save(
                storage.DUPLICATE, "DUPLICATE", f"the same claim payment was already posted from ERA {other}"
            )
            return storage.DUPLICATE, []
        bill_id = storage.bill_of_claim(conn, claim.claim_id)
        bill = storage.projected_bill(conn, bill_id) if bill_id is not None else None
        if bill is None:
            save(
                storage.PARKED,
                "NO_BILL",
                f"no bill for claim {claim.claim_id}: it is posted when the claim's bill opens, "
                "or resolve it by hand",
            )
            return storage.PARKED, []
        reverses: int | None = None
        earlier = None
        earlier_payer = None
        if claim.status == REVERSAL:
            found = storage.reversed_candidate(conn, bill.bill_id, era.payer_id, claim.payer_claim_number)
            if found is not None:
                reverses, earlier, earlier_payer = found
        result = plan(bill, era, claim, self.config, earlier, earlier_payer)
        if result.parked is not None:
            save(
                storage.PARKED,
                "NOT_POSTABLE",
                result.parked,
                bill_id=bill.bill_id,
                payer_sequence=result.payer_sequence,
                notes=result.notes,
            )
            return storage.PARKED, []
        postings = []
        out = []
        for n, planned in enumerate(result.postings, start=1):
            posting = Posting(
                posting_id=posting_id(era, claim, n),
                bill_id=bill.bill_id,
                code=planned.code,
                amount=planned.amount,
                next_payer=planned.next_payer,
                posted_at=now,
                posted_by="era",
                note=planned.note[:500],
            )
            raw = encode(posting)
            postings.append(
                {
                    "posting_id": posting.posting_id,
                    "code": planned.code,
                    "amount": None if planned.amount is None else str(planned.amount),
                    "note": planned.note,
                    "next_payer": planned.next_payer,
                    "json": raw.decode(),
                }
            )
            out.append(Outgoing(self.postings_topic, bill.bill_id.encode(), raw))
        save(
            storage.POSTED,
            "POSTED",
            "",
            bill_id=bill.bill_id,
            payer_sequence=result.payer_sequence,
            notes=result.notes,
            postings=postings,
            reverses=reverses,
        )
        return storage.POSTED, out

    def retry(
        self, conn: Connection, claim_ids: Sequence[str] | None, *, ready_only: bool = False
    ) -> list[Outgoing]:
        """Try parked claim payments again; those that can be posted now are."""
        out: list[Outgoing] = []
        now = self.clock()
        for stored in storage.parked(conn, claim_ids, ready_only=ready_only):
            era = Era(
                payer_id=stored.payer_id,
                payer_name=stored.payer_name,
                trace=stored.era_key.split(":", 1)[1],
                total=Decimal(0),
                method="",
                paid_on=None,
                payee_id="",
            )
            outcome, published = self._claim(conn, era, stored.claim, now, existing=stored.id)
            if outcome == storage.POSTED:
                log.info("parked_claim_posted", era=stored.era_key, claim_index=stored.claim_index)
            out += published
        return out


class ClaimsWatch:
    """Reads claims: a parked claim payment whose bill now exists is posted."""

    name = "remittance-claims"
    models: tuple[type[Claim], ...] = (Claim,)

    def __init__(self, remittances: RemittanceHandler) -> None:
        self.remittances = remittances

    def handle(self, conn: Connection, batch: Sequence[Incoming[Claim]]) -> list[Outgoing]:
        # The posting worker opens the bill from the same claim, maybe after this batch: only
        # claim payments whose bill is already open are tried (the others on a later batch).
        return self.remittances.retry(conn, None, ready_only=True)
