"""Reprocess's announcements: the failures it replayed are `reprocessing` until answered.

Reprocess publishes each request's result on `billing.reprocess-results` beside the
replayed charge versions it names. The formatter reads the results and moves the named
failures to `reprocessing` itself, so it stays the only writer of its tables. The result
and its charges travel on different topics and may arrive in either order: a replay the
formatter has already answered is not marked (failure_rows.mark_reprocessing), and within
one fetch the results are handled first (workers/formatter/worker.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from contracts import ReprocessResult
from workers.common.messages import Incoming, Outgoing
from workers.formatter import failure_rows, storage
from workers.formatter.handler import Clock, utcnow


class ReplayAnnouncements:
    name = "formatter-replays"
    models: tuple[type[ReprocessResult], ...] = (ReprocessResult,)

    def __init__(self, *, clock: Clock = utcnow) -> None:
        self.clock = clock

    def handle(self, conn: Connection, batch: Sequence[Incoming[ReprocessResult]]) -> list[Outgoing]:
        replayed: dict[str, tuple[str, int]] = {}
        for item in batch:
            result = item.message
            for replay in result.replayed:
                known = replayed.get(replay.charge_id)
                if known is None or known[1] < replay.new_version:
                    replayed[replay.charge_id] = (result.company_id, replay.new_version)
        if replayed:
            _, answered, _ = storage.seen(conn, [(i, v) for i, (_, v) in replayed.items()])
            failure_rows.mark_reprocessing(conn, replayed, answered, self.clock())
        return []
