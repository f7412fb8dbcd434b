"""Replaying dead letters to their source topic after a fix, once each, with who did it.

One transaction per replay: it reads which of the selected dead letters were replayed
before, records the others (`dead_letter_replays`, keyed by source topic, partition and
offset), publishes them, and commits only once the broker has every one. If the broker
refuses, nothing is recorded and the replay can simply be run again. Two operators
replaying the same dead letter at once meet on the primary key: the second waits for the
first and then fails without publishing (run it again: it then says "already replayed").

The message goes back exactly as it came (key and bytes), so the worker treats it like the
original: if the fix worked it is answered, and if not it is dead-lettered again, with a
new ref that can be replayed after the next fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select, tuple_

from claimflow.logs import get_logger
from workers.common.messages import Outgoing
from workers.deadletters.letters import Letter, distinct, ref_of
from workers.deadletters.tables import operators, replays

log = get_logger("claimflow.deadletters")

#: Headers on a replayed message, for whoever reads the source topic later.
REPLAY_OF = "x-replay-of"
REPLAYED_BY = "x-replayed-by"

Publish = Callable[[Sequence[Outgoing]], None]


@dataclass(frozen=True)
class Earlier:
    """A dead letter replayed before: by whom and when."""

    ref: str
    replayed_by: str
    replayed_at: dt.datetime

    def says(self) -> str:
        return f"already replayed by {self.replayed_by} at {self.replayed_at.isoformat(timespec='seconds')}"


@dataclass(frozen=True)
class Replayed:
    published: list[Letter]
    already: list[Earlier]


def outgoing(letter: Letter, who: str) -> Outgoing:
    return Outgoing(
        topic=letter.meta.source_topic,
        key=letter.key,
        value=letter.value,
        headers=(
            (REPLAY_OF, f"{letter.ref} dead-letter:{letter.partition}:{letter.offset}".encode()),
            (REPLAYED_BY, who.encode()),
        ),
    )


def earlier(conn: Connection, letters: Sequence[Letter]) -> dict[tuple[str, int, int], Earlier]:
    """Which of `letters` were replayed before."""
    found: dict[tuple[str, int, int], Earlier] = {}
    keys = [letter.replay_key for letter in letters]
    r = replays.c
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = conn.execute(
            select(r.source_topic, r.source_partition, r.source_offset, r.replayed_by, r.replayed_at).where(
                tuple_(r.source_topic, r.source_partition, r.source_offset).in_(chunk)
            )
        )
        for row in rows:
            key = (row.source_topic, row.source_partition, row.source_offset)
            at = row.replayed_at if row.replayed_at.tzinfo else row.replayed_at.replace(tzinfo=dt.UTC)
            found[key] = Earlier(ref_of(*key), row.replayed_by, at)
    return found


def replay(
    engine: Engine, letters: Sequence[Letter], who: str, publish: Publish, now: dt.datetime
) -> Replayed:
    """Republish the `letters` not replayed before; say who replayed the others and when."""
    chosen = distinct(letters)
    with engine.begin() as conn:
        before = earlier(conn, chosen)
        fresh = [letter for letter in chosen if letter.replay_key not in before]
        if fresh:
            conn.execute(
                insert(replays),
                [
                    {
                        "source_topic": x.meta.source_topic,
                        "source_partition": x.meta.partition,
                        "source_offset": x.meta.offset,
                        "error_kind": x.meta.error_kind,
                        "worker": x.meta.worker,
                        "dead_letter_partition": x.partition,
                        "dead_letter_offset": x.offset,
                        "replayed_by": who,
                        "replayed_at": now,
                    }
                    for x in fresh
                ],
            )
            # Inside the transaction: the rows commit only if the broker took every message.
            publish([outgoing(x, who) for x in fresh])
    for x in fresh:
        log.info("dead_letter_replayed", ref=x.ref, kind=x.meta.error_kind, worker=x.meta.worker, by=who)
    return Replayed(fresh, [before[x.replay_key] for x in chosen if x.replay_key in before])


def replay_records(conn: Connection, letters: Sequence[Letter]) -> dict[str, Earlier]:
    """By ref: which of `letters` were replayed (for `list` and `show`)."""
    return {e.ref: e for e in earlier(conn, distinct(letters)).values()}


def is_operator(conn: Connection, user_id: str) -> bool:
    return conn.execute(select(operators.c.user_id).where(operators.c.user_id == user_id)).first() is not None


def grant(conn: Connection, user_id: str, by: str, now: dt.datetime) -> bool:
    """Let a report user work dead letters through the API; False if they already may."""
    if is_operator(conn, user_id):
        return False
    conn.execute(insert(operators).values(user_id=user_id, granted_by=by, granted_at=now))
    return True


def revoke(conn: Connection, user_id: str) -> bool:
    return conn.execute(operators.delete().where(operators.c.user_id == user_id)).rowcount > 0
