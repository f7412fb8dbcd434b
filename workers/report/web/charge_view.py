"""A charge record as a biller reads it: the newest version's fields in sections, each failure
reason beside the field it names (with the fix in words), the form's values turned back into
corrections (the history is `charge_history`). Pure: it works on `storage.detail`'s dict."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workers.formatter.rules import RULES

#: (section, [(path, label, kind)]); `payers.{i}` repeats per payer.
SECTIONS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Patient",
        (
            ("patient.id", "Patient id", "text"),
            ("patient.last_name", "Last name", "text"),
            ("patient.first_name", "First name", "text"),
            ("patient.birth_date", "Birth date", "date"),
            ("patient.sex", "Sex", "sex"),
            ("patient.address.line1", "Address", "text"),
            ("patient.address.line2", "Address line 2", "text"),
            ("patient.address.city", "City", "text"),
            ("patient.address.state", "State", "text"),
            ("patient.address.postal_code", "ZIP code", "text"),
        ),
    ),
    (
        "Payers",
        (
            ("payers.{i}.name", "Payer", "text"),
            ("payers.{i}.payer_id", "Payer id", "text"),
            ("payers.{i}.payer_type", "Payer type", "payer_type"),
            ("payers.{i}.member_id", "Member id", "text"),
            ("payers.{i}.group_number", "Group number", "text"),
        ),
    ),
    (
        "Providers",
        (
            ("rendering_provider.name", "Rendering provider", "text"),
            ("rendering_provider.npi", "Rendering NPI", "text"),
            ("billing_provider.name", "Billing provider", "text"),
            ("billing_provider.npi", "Billing NPI", "text"),
            ("billing_provider.tax_id", "Billing tax id", "text"),
        ),
    ),
    (
        "Service",
        (
            ("service_date", "Service date", "date"),
            ("place_of_service", "Place of service", "text"),
            ("practice_id", "Practice", "text"),
            ("location_id", "Location", "text"),
            ("bill_id", "Bill", "text"),
            ("claim_delay_until", "Hold until", "date"),
        ),
    ),
    (
        "Codes",
        (
            ("procedure_code", "Procedure", "text"),
            ("modifiers", "Modifiers", "codes"),
            ("diagnoses", "Diagnoses", "codes"),
            ("diagnosis_pointers", "Diagnosis pointers", "numbers"),
            ("prior_authorization.number", "Authorization", "text"),
            ("prior_authorization.start_date", "Authorized from", "date"),
            ("prior_authorization.end_date", "Authorized to", "date"),
            ("prior_authorization.visits_authorized", "Visits authorized", "number"),
            ("prior_authorization.visits_used", "Visits used", "number"),
        ),
    ),
    (
        "Amounts",
        (
            ("units", "Units", "number"),
            ("minutes", "Minutes", "number"),
            ("amount", "Amount", "money"),
        ),
    ),
)

PAYER_TYPES = ("medicare", "medicaid", "commercial", "workers_comp", "auto", "patient")
SEX = (("F", "Female"), ("M", "Male"), ("U", "Unknown"))
OUTCOMES = {"claimed": "Claimed", "failed": "Failed", "held": "Held", "stale": "Superseded"}


@dataclass
class Row:
    path: str
    label: str
    kind: str
    value: Any
    reasons: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    typed: str | None = None  # what the biller typed, shown again when it was refused

    @property
    def editable(self) -> bool:
        return bool(self.reasons) or self.problem is not None

    @property
    def shown(self) -> str:
        """The value as the field shows it (and as a form sends it back unchanged)."""
        return shown(self.value)

    @property
    def input_value(self) -> str:
        return self.typed if self.typed is not None else self.shown


@dataclass
class Section:
    title: str
    rows: list[Row]
    reasons: list[dict[str, Any]] = field(default_factory=list)


def shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def value_at(charge: Mapping[str, Any], path: str) -> Any:
    node: Any = charge
    for part in path.split("."):
        if isinstance(node, list):
            node = node[int(part)] if part.isdigit() and int(part) < len(node) else None
        elif isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    return node


def dotted(path: str | None) -> str:
    """A rule's field as a correction's path: 'payers[0].member_id' -> 'payers.0.member_id'."""
    return re.sub(r"\[(\d+)\]", r".\1", path or "")


def explained(reason: Mapping[str, Any]) -> dict[str, Any]:
    """A reason with its rule's title and the fix in words."""
    rule = RULES.get(reason.get("code", ""))
    return {
        **reason,
        "path": dotted(reason.get("field")),
        "title": rule.title if rule else reason.get("code"),
        "fix": rule.description if rule else "",
    }


def sections(
    charge: Mapping[str, Any],
    reasons: Iterable[Mapping[str, Any]],
    problems: Mapping[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
) -> tuple[list[Section], list[dict[str, Any]]]:
    """The charge's fields in sections, each failure reason beside the field it names; and
    the reasons that name no field shown (they go above the fields)."""
    out: list[Section] = []
    for title, fields in SECTIONS:
        rows: list[Row] = []
        if title == "Payers":
            for i in range(len(charge.get("payers") or [])):
                for path, label, kind in fields:
                    real = path.format(i=i)
                    rows.append(
                        Row(real, label if i == 0 else f"{label} ({i + 1})", kind, value_at(charge, real))
                    )
        else:
            rows = [Row(path, label, kind, value_at(charge, path)) for path, label, kind in fields]
        out.append(Section(title, rows))
    general: list[dict[str, Any]] = []
    for reason in map(explained, reasons):
        if not _attach(out, reason):
            general.append(reason)
    for section in out:
        for row in section.rows:
            if problems and row.path in problems:
                row.problem = problems[row.path]
            if typed and row.path in typed:
                row.typed = typed[row.path]
    return out, general


def _attach(out: list[Section], reason: dict[str, Any]) -> bool:
    path = reason["path"]
    if not path:
        return False
    rows = [row for section in out for row in section.rows]
    exact = [r for r in rows if r.path == path]
    if exact:
        exact[0].reasons.append(reason)
        return True
    containing = [r for r in rows if path.startswith(r.path + ".")]  # "diagnoses.1" -> diagnoses
    if containing:
        max(containing, key=lambda r: len(r.path)).reasons.append(reason)
        return True
    inside = [r for r in rows if r.path.startswith(path + ".")]  # "payers.0" -> its fields
    if inside:
        inside[0].reasons.append(reason)
        for r in inside[1:]:
            r.reasons.append({**reason, "echo": True})
        return True
    top = path.split(".")[0]
    for section in out:  # "payers" on a charge without one: the section says it
        if any(top == r.path.split(".")[0] for r in section.rows) or section.title.lower() == top:
            section.reasons.append(reason)
            return True
    return False


FIX_PREFIX = "fix."
_SPLIT = re.compile(r"[,\s]+")


def corrections(
    charge: Mapping[str, Any], form: Iterable[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields the biller changed, as corrections (dotted path -> JSON value), and what they
    typed (to show again if refused). A field sent back as it was shown is no correction."""
    changes: dict[str, Any] = {}
    typed: dict[str, str] = {}
    kinds = {p: k for _, fields in SECTIONS for p, _, k in fields}
    for key, raw in form:
        if not key.startswith(FIX_PREFIX):
            continue
        path = key[len(FIX_PREFIX) :]
        text = raw.strip()
        typed[path] = raw
        current = value_at(charge, path)
        if text == shown(current):
            continue
        kind = kinds.get(re.sub(r"^payers\.\d+\.", "payers.{i}.", path), "text")
        changes[path] = _value(kind, text, current)
    return changes, typed


def _value(kind: str, text: str, current: Any) -> Any:
    """What a typed value means as JSON; the Charge's validation judges it (as the worker does)."""
    if kind in ("codes", "numbers"):
        return [p for p in _SPLIT.split(text) if p]
    if not text:
        return "" if kind == "text" and current == "" else None
    if kind == "sex":
        return text.upper()
    return text
