"""The formatter's batch step: decoded charges in, claims and failures out, in one run.

Reads what it needs in a few queries, decides every outcome with the pure run
(workers/formatter/run.py), writes the run and its tracking rows, and returns the answers
to publish. A charge version seen before gets its stored answers again and nothing else;
another charge under a version number already taken is dead-lettered (versions.py).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence

import orjson
from sqlalchemy import Connection

from contracts import Charge, RuleResult
from contracts.reprocess import REPLAYED_BY_REQUEST
from contracts.topics import CHARGE_FAILURES, CLAIMS
from workers.common.deadletter import dead_letter
from workers.common.messages import Incoming, Outgoing, Received
from workers.common.tracing import carried
from workers.formatter import failure_rows, storage
from workers.formatter.history import History
from workers.formatter.rules import RuleBook, RuleContext, evaluate, is_held
from workers.formatter.run import RunResult, run_charges
from workers.formatter.versions import conflict_reason, same_message

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FormatterHandler:
    name = "formatter"
    models: tuple[type[Charge], ...] = (Charge,)

    def __init__(self, book: RuleBook, *, prefix: str = "", clock: Clock = utcnow) -> None:
        self.book = book
        self.prefix = prefix
        self.clock = clock
        self.claims_topic = f"{prefix}{CLAIMS}"
        self.failures_topic = f"{prefix}{CHARGE_FAILURES}"
        #: Failing rule results by code, for the metrics (workers.common.metrics reads it).
        self.rule_failures: Counter[str] = Counter()

    def evaluate(self, charge: Charge, history: History, today: dt.date) -> list[RuleResult]:
        return evaluate(charge, RuleContext(today=today, book=self.book, history=history))

    def handle(self, conn: Connection, batch: Sequence[Incoming[Charge]]) -> list[Outgoing]:
        now = self.clock()
        keys = [(i.message.charge_id, i.message.version) for i in batch]
        done, latest, held = storage.seen(conn, keys)
        # Only a version handled before is compared with what was stored (versions.py).
        stored = storage.stored_charges(conn, done.keys())
        out: list[Outgoing] = []
        replay_claims: dict[str, Received] = {}  # claim id -> the charge asking for it again
        fresh: list[Charge] = []
        received: dict[tuple[str, int], bytes] = {}
        first: dict[tuple[str, int], Incoming[Charge]] = {}
        # Replayed versions (reprocess's header) dead-lettered here, by charge: each
        # reopens its failure, which would otherwise wait in `reprocessing` forever.
        refused: dict[str, tuple[int, str]] = {}
        for item, key in zip(batch, keys, strict=True):
            earlier = first.get(key)
            if earlier is not None:
                # The same charge version twice in one batch: one answer; another charge
                # under the same number is refused.
                if not same_message(earlier.source.value, earlier.message, item.source.value, item.message):
                    out.append(self._refuse(item, conflict_reason(*key), refused))
                continue
            first[key] = item
            if key in done:
                text = stored[key]
                if not same_message(text.encode(), text, item.source.value, item.message):
                    out.append(self._refuse(item, conflict_reason(*key), refused))
                    continue
                row = done[key]
                out.extend(self._stored(row["answers"], item.source))
                if row["claim_id"]:
                    replay_claims.setdefault(row["claim_id"], item.source)
            elif latest.get(key[0], 0) > key[1]:
                out.append(
                    self._refuse(
                        item,
                        f"charge {key[0]} version {key[1]} is older than version {latest[key[0]]} "
                        "already handled; a stale version is not formatted",
                        refused,
                    )
                )
            else:
                fresh.append(item.message)
                if item.source.value is not None:
                    received[key] = item.source.value
        if refused:
            failure_rows.reopen_refused(conn, refused, now)
        claims = storage.claim_json(conn, list(replay_claims))
        out[:0] = [
            Outgoing(self.claims_topic, cid.encode(), raw, carried(replay_claims[cid]))
            for cid, raw in claims.items()
        ]
        if fresh:
            sources = {key: item.source for key, item in first.items()}
            out.extend(self._run(conn, fresh, now, received, held, sources))
        return out

    def _refuse(self, item: Incoming[Charge], reason: str, refused: dict[str, tuple[int, str]]) -> Outgoing:
        if any(name == REPLAYED_BY_REQUEST for name, _ in item.source.headers):
            refused[item.message.charge_id] = (item.message.version, reason)
        return dead_letter(item.source, "invalid", reason, self.name, self.prefix)

    def _run(
        self,
        conn: Connection,
        charges: list[Charge],
        now: dt.datetime,
        received: dict[tuple[str, int], bytes],
        held: set[tuple[str, int]],
        sources: dict[tuple[str, int], Received],
    ) -> list[Outgoing]:
        run_number = storage.next_run(conn, now)
        history = storage.load_history(conn, charges)
        states = storage.failure_states(conn, [c.charge_id for c in charges])
        result = run_charges(
            charges,
            history,
            states,
            run_number=run_number,
            now=now,
            evaluate=self.evaluate,
            is_held=is_held,
        )
        answers, claims_json, out = self._answers(result, sources)
        storage.save_run(conn, result, answers, now, received, claims_json, held=held, failure_ids=states)
        storage.close_run(conn, run_number, result, now)
        return out

    def _answers(
        self, result: RunResult, sources: dict[tuple[str, int], Received]
    ) -> tuple[dict[tuple[str, int], list[tuple[str, str, str]]], dict[str, str], list[Outgoing]]:
        # Each claim is serialised once: the published bytes are also its stored claim_json.
        claims_json = {c.claim_id: c.model_dump_json() for c in result.claims}
        topic = self.claims_topic
        # A claim of several charges carries the trace of its first line's charge.
        out = [
            Outgoing(
                topic,
                c.claim_id.encode(),
                claims_json[c.claim_id].encode(),
                carried(sources.get((c.lines[0].charge_id, c.lines[0].charge_version))),
            )
            for c in result.claims
        ]
        stored: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
        failed: Counter[str] = Counter()
        for key, outcome in result.outcomes.items():
            message = outcome.failure or outcome.resolved
            if message is None:
                continue
            if outcome.failure is not None:
                failed.update(reason.code for reason in outcome.failure.reasons)
            answer = Outgoing.of(self.failures_topic, key[0], message, carried(sources.get(key)))
            out.append(answer)
            stored[key] = [(answer.topic, key[0], answer.value.decode())]
        # Counted when decided: a transaction retried after a database outage counts again.
        self.rule_failures.update(failed)
        return stored, claims_json, out

    def _stored(self, answers: str, source: Received) -> list[Outgoing]:
        trace = carried(source)
        stored = orjson.loads(answers)
        return [Outgoing(topic, key.encode(), value.encode(), trace) for topic, key, value in stored]
