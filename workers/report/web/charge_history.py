"""A charge's history as the record tells it: what changed between its versions (field
names, not values) and what reprocessing did, one sentence per request. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workers.report.web.charge_view import explained
from workers.report.web.templating import when


def version_changes(versions: Sequence[Mapping[str, Any]]) -> dict[int, list[str]]:
    """Per version, the fields that differ from the version before it (names, not values)."""
    out: dict[int, list[str]] = {}
    before: dict[str, Any] | None = None
    for v in versions:
        flat = dict(_flatten(v.get("charge") or {}))
        flat.pop("version", None)
        flat.pop("submitted_at", None)
        if before is not None:
            out[int(v["version"])] = sorted(
                k for k in flat.keys() | before.keys() if flat.get(k) != before.get(k)
            )
        before = flat
    return out


def _flatten(node: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _flatten(v, f"{prefix}{k}.")
    elif isinstance(node, list) and node and all(isinstance(x, Mapping) for x in node):
        for i, v in enumerate(node):
            yield from _flatten(v, f"{prefix}{i}.")
    else:
        yield prefix.rstrip("."), node


def _moment(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return when(value) if isinstance(value, dt.datetime) else ""


def history(detail: Mapping[str, Any]) -> list[str] | None:
    """What reprocessing did with the charge, one sentence per request, oldest first; None
    where the reprocess worker's record is not in this database."""
    entries = detail.get("reprocessing")
    if entries is None:
        return None
    versions = {int(v["version"]): v for v in detail.get("versions", [])}
    failures = {int(f["version"]): f for f in detail.get("failures", [])}
    out = []
    for entry in sorted(entries, key=lambda e: str((e.get("request") or {}).get("requested_at") or "")):
        request = entry.get("request") or {}
        by = request.get("requested_by") or "someone"
        at = _moment(request.get("requested_at") or request.get("completed_at"))
        if entry.get("outcome") != "replayed":
            out.append(f"Not replayed (asked by {by} on {at}): {entry.get('reason') or 'no reason given'}.")
            continue
        number = entry.get("new_version")
        out.append(f"Replayed as version {number} by {by} on {at}: {_result(number, versions, failures)}.")
    return out


def _result(number: Any, versions: Mapping[int, Any], failures: Mapping[int, Any]) -> str:
    version = versions.get(int(number)) if number is not None else None
    if version is None:
        return "waiting for the formatter"
    outcome = version.get("outcome")
    if outcome == "claimed":
        return f"claimed as {version.get('claim_id')}"
    if outcome == "failed":
        event = failures.get(int(number))
        titles = [explained(r)["title"] for r in (event or {}).get("reasons", [])]
        return "failed again" + (f" ({', '.join(titles)})" if titles else "")
    if outcome == "held":
        return "held until its hold date"
    return "superseded by a newer version before it was billed"
