"""The one codec: bytes on a topic <-> contract models.

Every decode failure becomes a `DecodeError` with a kind and a message that names the
field, so the worker can dead-letter it and go on. Pydantic parses the JSON itself (one
pass, in Rust); no intermediate dict is built on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, TypeVar, Union

import orjson
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from contracts.deadletter import ErrorKind

#: A message larger than this is refused before parsing (a charge is ~2 KB).
MAX_MESSAGE_BYTES = 256 * 1024

M = TypeVar("M", bound=BaseModel)


class DecodeError(ValueError):
    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


@cache
def _adapter(models: tuple[type[BaseModel], ...]) -> TypeAdapter[Any]:
    if len(models) == 1:
        return TypeAdapter(models[0])
    union = Union[models]  # type: ignore[valid-type]  # noqa: UP007
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


def decode(raw: bytes | None, *models: type[M], max_bytes: int = MAX_MESSAGE_BYTES) -> M:
    """Decode `raw` as one of `models` (told apart by their `type` field)."""
    if raw is None:
        raise DecodeError("invalid", "message has no value (tombstone)")
    if len(raw) > max_bytes:
        raise DecodeError("oversized", f"message is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        message: M = _adapter(models).validate_json(raw)
    except ValidationError as exc:
        raise _explain(raw, exc, models) from None
    if not _named(type(message)) <= message.model_fields_set:
        raise _unnamed(message)
    return message


@cache
def _named(model: type[BaseModel]) -> frozenset[str]:
    """The fields a message must carry on the wire although its model gives them defaults.

    Every contract's JSON Schema requires `type` and `schema_version`; the models default
    them so code can build a message without naming them. Without this check a message
    lacking them decoded as the one model a topic carries, which the published schemas
    refuse: one contract, the same for Python and non-Python readers.
    """
    return frozenset({"type", "schema_version"} & model.model_fields.keys())


def _unnamed(message: BaseModel) -> DecodeError:
    fields = type(message).model_fields
    kind = fields["type"].default if "type" in fields else type(message).__name__
    if "type" in fields and "type" not in message.model_fields_set:
        return DecodeError("unknown_type", f"type is missing; this topic carries {kind}")
    expected = fields["schema_version"].default
    return DecodeError("unsupported_version", f"{kind} schema_version is missing (expected {expected})")


def _explain(raw: bytes, exc: ValidationError, models: Iterable[type[BaseModel]]) -> DecodeError:
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return DecodeError("not_json", f"not valid JSON: {errors[0]['msg']}")
    try:
        head = orjson.loads(raw)
    except orjson.JSONDecodeError:
        head = None
    if isinstance(head, dict):
        known = {m.model_fields["type"].default: m for m in models}
        kind = head.get("type")
        # A list or object as `type` is unhashable: test the type first, or `in` raises.
        if not isinstance(kind, str) or kind not in known:
            return DecodeError("unknown_type", f"type {repr(kind)[:40]} is not one of {sorted(known)}")
        expected = known[kind].model_fields["schema_version"].default
        if head.get("schema_version") != expected:
            got = repr(head.get("schema_version"))[:20]
            return DecodeError(
                "unsupported_version", f"{kind} schema_version {got} is not supported (expected {expected})"
            )
    # Never echo input values: they may hold patient data.
    described = "; ".join(f"{_path(e['loc'])}: {e['msg']}" for e in errors[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return DecodeError("invalid", f"{described}{more}")


def _path(loc: tuple[int | str, ...]) -> str:
    # Drop the discriminator tag pydantic inserts for unions ("Charge.patient.id" -> "patient.id").
    parts = [str(p) for p in loc]
    if parts and parts[0][:1].isupper():
        parts = parts[1:]
    return ".".join(parts) or "(message)"
