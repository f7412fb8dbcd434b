"""Malformed messages for every worker topic, each with the dead-letter kind it must get.

Built from a valid message of the topic's model, so each entry breaks one thing: the bytes,
the JSON, a type, a value's range, the envelope (type, schema_version), or the size.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from contracts.codec import MAX_MESSAGE_BYTES, encode


@dataclass(frozen=True)
class Bad:
    name: str
    raw: bytes | None
    #: The DeadLetter.error_kind it must end with; None: it decodes (odd but legal), so the
    #: worker's domain answers it (a charge failure, a rejection), and it carries its own id.
    kind: str | None


def _doc(model: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(encode(model))
    return data


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(doc))
    parent = copy
    parts = path.split(".")
    for part in parts[:-1]:
        parent = parent[part]
    parent[parts[-1]] = value
    return copy


def _get(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value[part]
    return value


def _bytes(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


def corpus(
    valid: BaseModel,
    *,
    ident: str,
    money: str,
    date: str,
    text: str,
    free_text: str,
    number: str | None = None,
) -> list[Bad]:
    """Malformed variants of `valid`. The keyword arguments name fields (dotted paths) of
    the model: its business id, a money field, a date, an identifier-like text field, a
    free text field and an integer, where wrong values go."""
    doc = _doc(valid)

    def legal(suffix: str, path: str, value: Any) -> bytes:
        # A decodable oddity gets its own business id, so its answer can be told apart.
        own = _set(doc, ident, f"{_get(doc, ident)}-{suffix}")
        return _bytes(_set(own, path, value))

    raw = encode(valid)
    deep = "[" * 5000 + "]" * 5000
    entries: list[tuple[str, bytes | None, str | None]] = [
        ("not JSON", b"this is not json {", "not_json"),
        ("binary garbage", bytes(range(256)) * 4, "not_json"),
        ("empty", b"", "not_json"),
        ("tombstone", None, "invalid"),
        ("truncated", raw[: len(raw) // 2], "not_json"),
        ("JSON array", b"[1, 2, 3]", "invalid"),
        ("JSON string", b'"Charge"', "invalid"),
        ("huge", _bytes({**doc, "note": "x" * (MAX_MESSAGE_BYTES + 10)}), "oversized"),
        ("unknown type", _bytes({**doc, "type": "Invoice"}), "unknown_type"),
        ("type is a list", _bytes({**doc, "type": ["Charge"]}), "unknown_type"),
        ("no type (the model's default applies)", legal("notype", "type", _get(doc, "type")), None),
        ("schema version 99", _bytes({**doc, "schema_version": 99}), "unsupported_version"),
        ("schema version as text", _bytes({**doc, "schema_version": "1"}), "unsupported_version"),
        ("negative amount", legal("neg", money, "-12.50"), None),
        ("NaN amount (string)", _bytes(_set(doc, money, "NaN")), "invalid"),
        ("NaN amount (bare)", _bytes(_set(doc, money, float("nan"))), "invalid"),
        ("float amount", _bytes(_set(doc, money, 12.5)), "invalid"),
        ("three-place amount", _bytes(_set(doc, money, "12.505")), "invalid"),
        ("date out of range", _bytes(_set(doc, date, "10000-01-01")), "invalid"),
        ("impossible date", _bytes(_set(doc, date, "2025-02-30")), "invalid"),
        ("date as number", _bytes(_set(doc, date, 20250101)), "invalid"),
        ("null required field", _bytes(_set(doc, text, None)), "invalid"),
        ("wrong type (object for text)", _bytes(_set(doc, text, {"a": 1})), "invalid"),
        ("lone surrogate (raw bytes)", _bytes(_set(doc, text, "\ud800abc")), "not_json"),
        ("lone surrogate (escaped)", json.dumps(_set(doc, text, "\ud800abc")).encode(), "not_json"),
        ("zero-width and right-to-left marks", legal("rtl", free_text, "Ma\u200bria \u202eXYZ\u202c"), None),
        (
            "combining characters and emoji",
            legal("emoji", free_text, "Zoe\u0308 \U0001f9d1\u200d\u2695"),
            None,
        ),
        ("NUL and control characters", _bytes(_set(doc, text, "a\x00b\x07")), "invalid"),
        ("unknown field", _bytes({**doc, "surprise": True}), "invalid"),
        (
            "deeply nested",
            _bytes({**doc, "note": None}).replace(b'"note": null', b'"note": ' + deep.encode()),
            "not_json",
        ),
        ("invalid UTF-8", raw.replace(b'"type"', b'"typ\xff"', 1), "not_json"),
    ]
    if number:
        entries.append(("number as text", _bytes(_set(doc, number, "three")), "invalid"))
        entries.append(("huge number", _bytes(_set(doc, number, 10**40)), "invalid"))
    return [Bad(name, raw_, kind) for name, raw_, kind in entries]


CorpusFactory = Callable[[], list[Bad]]
