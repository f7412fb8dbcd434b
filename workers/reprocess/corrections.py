"""A biller's corrections to a failed charge: dotted-path field changes, checked as a Charge.

Pure. A correction is applied to the charge's JSON form and the result is decoded exactly as
the formatter decodes a charge from the wire (contracts.codec), so a correction can never
produce a charge the formatter would dead-letter. Errors name the field, never its value:
corrections carry patient data (birth dates, member ids).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel

from contracts import Charge
from contracts.codec import DecodeError, decode

#: What identifies the charge or its format; a correction is a new version of the same charge.
PROTECTED = frozenset({"type", "schema_version", "charge_id", "version", "company_id"})

#: A dotted path longer than this is not a field of a Charge.
MAX_DEPTH = 6


class CorrectionError(ValueError):
    """A correction that cannot be applied; `field` is the dotted path it named."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"correction to {field!r}: {problem}")
        self.field = field
        self.problem = problem


def replay_changes(corrections: Mapping[str, Any], claim_delay_until: dt.date | None) -> dict[str, Any]:
    """Every change a replay makes: the biller's corrections and the request's claim delay,
    which wins over a correction of the same field. The delay goes through the contract's
    checks with the rest (it is bounded by the service date)."""
    changes = dict(corrections)
    if claim_delay_until is not None:
        changes["claim_delay_until"] = claim_delay_until.isoformat()
    return changes


def apply_corrections(charge: Charge, changes: Mapping[str, Any]) -> Charge:
    """The charge with every change applied, validated as a Charge; raises CorrectionError."""
    if not changes:
        return charge
    data = charge.model_dump(mode="json")
    for path in sorted(changes):
        _set(data, path, changes[path])
    try:
        return decode(orjson.dumps(data), Charge)
    except DecodeError as exc:
        raise CorrectionError(
            _blamed(exc.message, changes), f"the corrected charge is invalid: {exc.message}"
        ) from None
    except (TypeError, orjson.JSONEncodeError):
        raise CorrectionError(", ".join(sorted(changes)), "the value is not JSON") from None


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".") if isinstance(path, str) else []
    if not parts or any(not p for p in parts) or len(parts) > MAX_DEPTH:
        raise CorrectionError(str(path)[:100], "not a dotted field path such as 'patient.birth_date'")
    if parts[0] in PROTECTED:
        raise CorrectionError(path, "identifies the charge and cannot be corrected")
    model: type[BaseModel] | None = Charge
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise CorrectionError(
                    path, f"{part!r} is not an index of the list (it has {len(node)} items)"
                )
            key: str | int = int(part)
        else:
            if model is None or part not in model.model_fields:
                raise CorrectionError(path, "unknown field")
            key = part
        if last:
            node[key] = value
            return
        child = node[key]
        if not isinstance(key, int):
            annotation = model.model_fields[part].annotation if model is not None else None
            model = _submodel(annotation)
            if child is None and model is not None:
                # e.g. patient.address.city on a patient without an address: start one.
                child = node[key] = {}
        if not isinstance(child, dict | list):
            raise CorrectionError(path, f"{'.'.join(parts[: depth + 1])} has no fields")
        node = child


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (through Optional, Annotated and list), if it holds one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated, list):
        for arg in typing.get_args(annotation):
            found = _submodel(arg)
            if found is not None:
                return found
    return None


def _blamed(message: str, changes: Mapping[str, Any]) -> str:
    """The corrected path that the decoder's complaint is about, else all of them."""
    for path in sorted(changes, key=len, reverse=True):
        if message.startswith(f"{path}:") or message.startswith(f"{path}."):
            return path
    return ", ".join(sorted(changes))
