"""Dead letters as an operator sees them, and which ones a filter selects. Pure: no I/O.

A dead letter is referred to by where its message first came from, `TOPIC:PARTITION:OFFSET`
(its *ref*): that is what `list` prints, what `show` and `replay` take, and the replay key.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from contracts.deadletter import DeadLetter


@dataclass(frozen=True, slots=True)
class Letter:
    """One record of the dead-letter topic: the refused message as it came, and why."""

    partition: int  # in the dead-letter topic
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    meta: DeadLetter

    @property
    def ref(self) -> str:
        return ref_of(self.meta.source_topic, self.meta.partition, self.meta.offset)

    @property
    def replay_key(self) -> tuple[str, int, int]:
        return (self.meta.source_topic, self.meta.partition, self.meta.offset)


def ref_of(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def parse(
    partition: int, offset: int, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> Letter | None:
    """A record of the dead-letter topic as a Letter; None if its headers are not a dead letter's."""
    try:
        meta = DeadLetter.from_headers(tuple(headers))
    except (ValidationError, UnicodeDecodeError):
        return None
    return Letter(partition, offset, key, value or b"", tuple(headers), meta)


class BadSelection(ValueError):
    """A filter or ref an operator typed that means nothing; said in words."""


@dataclass(frozen=True)
class Offset:
    """`PARTITION:OFFSET` (on any source topic the other filters allow) or a full ref."""

    topic: str | None
    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> Offset:
        parts = text.strip().rsplit(":", 2)
        try:
            if len(parts) == 3:
                return cls(parts[0], int(parts[1]), int(parts[2]))
            if len(parts) == 2:
                return cls(None, int(parts[0]), int(parts[1]))
        except ValueError:
            pass
        raise BadSelection(
            f"{text!r} is not PARTITION:OFFSET or TOPIC:PARTITION:OFFSET (as `list` prints it)"
        )

    def matches(self, meta: DeadLetter) -> bool:
        return (
            (self.topic is None or self.topic == meta.source_topic)
            and self.partition == meta.partition
            and self.offset == meta.offset
        )


@dataclass(frozen=True)
class Filters:
    """What `list` shows and `replay` republishes; empty fields select everything."""

    worker: str | None = None
    kinds: frozenset[str] = frozenset()
    source_topic: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    offsets: tuple[Offset, ...] = ()
    keys: frozenset[bytes] = field(default_factory=frozenset)

    def selects_by_message(self) -> bool:
        """Whether the filter names messages (kind, offsets or keys): replay requires it."""
        return bool(self.kinds or self.offsets or self.keys)

    def matches(self, letter: Letter, prefix: str = "") -> bool:
        m = letter.meta
        if self.worker is not None and m.worker != self.worker:
            return False
        if self.kinds and m.error_kind not in self.kinds:
            return False
        if self.source_topic is not None and m.source_topic not in (
            self.source_topic,
            prefix + self.source_topic,
        ):
            return False
        at = _aware(m.dead_lettered_at)
        if self.since is not None and at < _aware(self.since):
            return False
        if self.until is not None and at >= _aware(self.until):
            return False
        if self.offsets and not any(o.matches(m) for o in self.offsets):
            return False
        return not (self.keys and letter.key not in self.keys)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def select(letters: Iterable[Letter], filters: Filters, prefix: str = "") -> list[Letter]:
    return [letter for letter in letters if filters.matches(letter, prefix)]


def counts(letters: Iterable[Letter]) -> dict[str, int]:
    """Dead letters per error kind, most first."""
    return dict(Counter(letter.meta.error_kind for letter in letters).most_common())


def distinct(letters: Iterable[Letter]) -> list[Letter]:
    """One letter per replay key (the first): copies of one dead letter replay once."""
    seen: set[tuple[str, int, int]] = set()
    out = []
    for letter in letters:
        if letter.replay_key not in seen:
            seen.add(letter.replay_key)
            out.append(letter)
    return out


def find(letters: Iterable[Letter], ref: str) -> Letter | None:
    wanted = Offset.parse(ref)
    for letter in letters:
        if wanted.matches(letter.meta):
            return letter
    return None


def printable(value: bytes) -> str:
    """The message's bytes for a terminal: text when it is UTF-8, else hex."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return "hex:" + value.hex()
