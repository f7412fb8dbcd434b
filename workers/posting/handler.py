"""The posting worker's batch steps: claims open bills, postings change them.

Both run inside the one transaction `workers.common.batch` opens per batch, so a bill's new
state, its ledger lines and the answers recorded for its postings commit together; the
batch loop publishes the answers only after that commit.

A batch of postings loads its bills once, applies every posting in arrival order in
memory (a bill's second posting sees the first one's result, as the topic is keyed by
bill) and saves once. A posting_id answered before, in an earlier batch or earlier in this
one, is answered again with the same bytes and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from claimflow.logs import get_logger
from contracts.claim import Claim
from contracts.posting import Posting
from contracts.topics import POSTING_RESULTS
from workers.common.messages import Incoming, Outgoing
from workers.common.tracing import carried
from workers.posting import storage
from workers.posting.answers import answer_json, timestamp
from workers.posting.bill import Bill
from workers.posting.rules import Applied, LedgerLine, apply_posting, bill_not_found

Clock = Callable[[], dt.datetime]
log = get_logger("claimflow.posting")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ClaimsHandler:
    """Opens a bill from each claim, once per claim id however often it is delivered.

    A claim has no answer topic of its own: its effect is the bill a later posting finds.
    """

    name = "posting-claims"
    models: tuple[type[Claim], ...] = (Claim,)

    def __init__(self, *, clock: Clock = utcnow) -> None:
        self.clock = clock

    def handle(self, conn: Connection, batch: Sequence[Incoming[Claim]]) -> list[Outgoing]:
        changed = storage.open_bills_from_claims(conn, [item.message for item in batch])
        if changed:
            log.debug("bills_opened", worker=self.name, claims=len(batch), bills_changed=len(changed))
        return []


class PostingHandler:
    """Applies postings to bills and answers each one on the posting-results topic."""

    name = "posting"
    models: tuple[type[Posting], ...] = (Posting,)

    def __init__(self, *, prefix: str = "", clock: Clock = utcnow) -> None:
        self.clock = clock
        self.results_topic = f"{prefix}{POSTING_RESULTS}"

    def handle(self, conn: Connection, batch: Sequence[Incoming[Posting]]) -> list[Outgoing]:
        postings = [item.message for item in batch]
        earlier = storage.find_answers(conn, (p.posting_id for p in postings))
        fresh_bills = {p.bill_id for p in postings if p.posting_id not in earlier}
        bills = storage.load_bills(conn, fresh_bills, for_update=True)
        loaded = dict(bills)  # as stored: save_bills writes only what changed
        now = self.clock()
        at = timestamp(now)
        changed: dict[str, Bill] = {}
        lines: list[LedgerLine] = []
        answers: dict[str, bytes] = {}
        answered_bills: dict[str, str] = {}
        out: list[Outgoing] = []
        for item in batch:
            posting = item.message
            raw = earlier.get(posting.posting_id) or answers.get(posting.posting_id)
            if raw is None:
                raw = self._apply(posting, bills, changed, lines, at)
                answers[posting.posting_id] = raw
                answered_bills[posting.posting_id] = posting.bill_id
            out.append(Outgoing(self.results_topic, posting.bill_id.encode(), raw, carried(item.source)))
        storage.save_bills(conn, changed.values(), now, stored=loaded)
        storage.append_ledger(conn, lines)
        storage.record_answers(conn, answers, answered_bills)
        repeated = len(postings) - len(answers)
        log.debug(
            "postings_applied",
            worker=self.name,
            postings=len(postings),
            applied=len(lines),
            rejected=len(answers) - len(lines),
            repeated=repeated,
            bills_changed=len(changed),
        )
        return out

    @staticmethod
    def _apply(
        posting: Posting,
        bills: dict[str, Bill],
        changed: dict[str, Bill],
        lines: list[LedgerLine],
        at: str,
    ) -> bytes:
        """Apply one posting to the in-memory bills; answer it, as published and stored."""
        bill = bills.get(posting.bill_id)
        outcome = bill_not_found(posting.bill_id) if bill is None else apply_posting(bill, posting)
        if isinstance(outcome, Applied):
            bills[posting.bill_id] = changed[posting.bill_id] = outcome.bill
            lines.append(outcome.line)
        return answer_json(posting, outcome, at)
