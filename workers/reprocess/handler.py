"""The reprocess worker's batch step: requests in; corrected charge versions and results out.

For each request seen for the first time: load its candidates (by id, and by the report's
filters within its company), decide with the pure selection, and record the request with
the exact bytes to publish, all in the batch's transaction. A request seen before gets its
stored answers again and changes nothing. The formatter's failures are the formatter's: it
moves them to `reprocessing` when it reads the result announcing the replays
(workers/formatter/replays.py); until it answers them, reprocess's own record of the
replays keeps a second request from replaying them again (selection.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence

import orjson
from sqlalchemy import Connection

from claimflow.logs import get_logger
from contracts import ReplayedCharge, ReprocessRequest, ReprocessResult, SkippedCharge
from contracts.reprocess import REPLAYED_BY_REQUEST
from contracts.topics import CHARGES, REPROCESS_RESULTS
from workers.common.messages import Incoming, Outgoing
from workers.common.tracing import Headers, carried
from workers.reprocess import storage
from workers.reprocess.ownership import wanted as wanted_ids
from workers.reprocess.selection import Candidate, Replay, Skip, moved_references, refuse_foreign, select

Clock = Callable[[], dt.datetime]
log = get_logger("claimflow.reprocess")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReprocessHandler:
    name = "reprocess"
    models: tuple[type[ReprocessRequest], ...] = (ReprocessRequest,)

    def __init__(self, *, prefix: str = "", clock: Clock = utcnow) -> None:
        self.prefix = prefix
        self.clock = clock
        self.charges_topic = f"{prefix}{CHARGES}"
        self.results_topic = f"{prefix}{REPROCESS_RESULTS}"

    def handle(self, conn: Connection, batch: Sequence[Incoming[ReprocessRequest]]) -> list[Outgoing]:
        now = self.clock()
        requests = [i.message for i in batch]
        stored = storage.stored_requests(conn, [r.request_id for r in requests])
        fresh = list({r.request_id: r for r in reversed(requests) if r.request_id not in stored}.values())
        fresh.reverse()  # first delivery of each request id wins, in arrival order
        new_rows: list[dict[str, object]] = []
        new_items: list[storage.Item] = []
        if fresh:
            candidates, wanted = self._candidates(conn, fresh)
            for request in fresh:
                mine = [candidates[i] for i in wanted[request.request_id] if i in candidates]
                result, replays, row_items = self._decide(conn, request, mine, now)
                for replay in replays:
                    # A later request in this batch must see this failure as being reprocessed.
                    candidates[replay.charge_id] = dataclasses.replace(
                        candidates[replay.charge_id], awaiting_replay=True
                    )
                answer = storage.StoredRequest(
                    result.model_dump_json(),
                    [(r.charge.account, r.charge.model_dump_json()) for r in replays],
                )
                stored[request.request_id] = answer
                new_rows.append(self._row(request, answer, now))
                new_items.extend(row_items)
                log.info(
                    "reprocess_request",
                    request_id=request.request_id,
                    company_id=request.company_id,
                    replayed=len(result.replayed),
                    skipped=len(result.skipped),
                )
            storage.save_requests(conn, new_rows, new_items)
        out: list[Outgoing] = []
        answered: set[str] = set()
        for item in batch:
            request = item.message
            if request.request_id in answered:
                continue  # the same request twice in one batch: one answer
            answered.add(request.request_id)
            out.extend(self._answers(request.request_id, stored[request.request_id], carried(item.source)))
        return out

    def _candidates(
        self, conn: Connection, fresh: list[ReprocessRequest]
    ) -> tuple[dict[str, Candidate], dict[str, list[str]]]:
        """Every request's candidates in one load per company; and which ids each request wants."""
        wanted: dict[str, list[str]] = {}
        by_company: dict[str, list[str]] = {}
        for request in fresh:
            if request.charge_ids:
                ids = list(request.charge_ids)
            else:
                assert request.filters is not None  # the contract requires ids or filters
                ids = storage.filtered_failure_ids(conn, request.company_id, request.filters)
            wanted[request.request_id] = ids
            by_company.setdefault(request.company_id, []).extend(ids)
        candidates: dict[str, Candidate] = {}
        for company_id, ids in by_company.items():
            candidates.update(storage.load_candidates(conn, company_id, ids))
        return candidates, wanted

    def _decide(
        self, conn: Connection, request: ReprocessRequest, mine: list[Candidate], now: dt.datetime
    ) -> tuple[ReprocessResult, list[Replay], list[storage.Item]]:
        decisions = select(mine, request)
        # Whoever published the request, a correction may not move a charge to another
        # company's practice, location, patient or bill.
        moved = moved_references(decisions, {c.charge_id: c.charge for c in mine if c.charge is not None})
        if moved:
            owned = storage.owned_references(conn, request.company_id, wanted_ids(moved.values()))
            decisions = refuse_foreign(decisions, moved, owned)
        replays = [d for d in decisions if isinstance(d, Replay)]
        skips = [d for d in decisions if isinstance(d, Skip)]
        result = ReprocessResult(
            request_id=request.request_id,
            company_id=request.company_id,
            requested_by=request.requested_by,
            replayed=[ReplayedCharge(charge_id=r.charge_id, new_version=r.charge.version) for r in replays],
            skipped=[SkippedCharge(charge_id=s.charge_id, reason=s.reason) for s in skips],
            completed_at=now,
        )
        row_items = [
            storage.Item(request.request_id, r.charge_id, r.charge.version, "replayed", None) for r in replays
        ] + [storage.Item(request.request_id, s.charge_id, None, "skipped", s.reason) for s in skips]
        return result, replays, row_items

    def _row(
        self, request: ReprocessRequest, answer: storage.StoredRequest, now: dt.datetime
    ) -> dict[str, object]:
        return {
            "request_id": request.request_id,
            "company_id": request.company_id,
            "requested_by": request.requested_by,
            "requested_at": request.requested_at,
            "completed_at": now,
            "result_json": answer.result_json,
            "replayed_json": orjson.dumps([list(pair) for pair in answer.replayed]).decode(),
        }

    def _answers(self, request_id: str, stored: storage.StoredRequest, trace: Headers) -> list[Outgoing]:
        # The replayed charges go first: a reader of the result may look for their outcome.
        # The header says the version is a replay (the formatter reopens the failure if it
        # refuses it); the trace context goes along; the bytes are exactly what was stored.
        mark = ((REPLAYED_BY_REQUEST, request_id.encode()), *trace)
        topic = self.charges_topic
        out = [Outgoing(topic, key.encode(), value.encode(), mark) for key, value in stored.replayed]
        out.append(Outgoing(self.results_topic, request_id.encode(), stored.result_json.encode(), trace))
        return out
