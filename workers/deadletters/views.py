"""What an operator is shown of a dead letter, as plain data for the CLI and the API.

Patient data stays out unless asked for: a summary has ids, kinds and reasons only; a
detail adds the headers, and the key and the message itself only with `data=True`.
"""

from __future__ import annotations

from typing import Any

from workers.deadletters import letters as dl
from workers.deadletters.replay import Earlier


def summary(letter: dl.Letter, replayed: Earlier | None = None) -> dict[str, Any]:
    """What `list` says about a dead letter: no key, no bytes, so no patient data."""
    m = letter.meta
    return {
        "ref": letter.ref,
        "error_kind": m.error_kind,
        "worker": m.worker,
        "dead_lettered_at": m.dead_lettered_at.isoformat(),
        "error": m.error,
        "replayed_by": replayed.replayed_by if replayed else None,
        "replayed_at": replayed.replayed_at.isoformat() if replayed else None,
    }


def detail(letter: dl.Letter, replayed: Earlier | None = None, *, data: bool = False) -> dict[str, Any]:
    """What `show` says: the headers and the error; the message only when asked (`data`)."""
    out = {
        **summary(letter, replayed),
        "source_topic": letter.meta.source_topic,
        "source_partition": letter.meta.partition,
        "source_offset": letter.meta.offset,
        "dead_letter_partition": letter.partition,
        "dead_letter_offset": letter.offset,
        "headers": {k: v.decode(errors="replace") for k, v in letter.headers},
        "size": len(letter.value),
    }
    if data:
        out["key"] = dl.printable(letter.key) if letter.key is not None else None
        out["value"] = dl.printable(letter.value)
    return out
