"""The reprocess action shared by the API, the CLI and the web pages: decide what the request
will replay, check its corrections as the reprocess worker will, then publish exactly one
ReprocessRequest naming those charges.

Selecting by filters is resolved to charge ids here, at the moment the biller acts, so the
answer lists exactly what was asked for and a failure that appears a second later is not
swept in unseen; the biller confirms the count first (`preview`, then `expected_count`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from contracts.reprocess import ReprocessRequest
from workers.formatter import read as formatter_read
from workers.report import queries as q
from workers.report import storage
from workers.report.models import MAX_CHARGES, FieldProblem, ReprocessBody, SearchFilters, Skipped
from workers.reprocess.corrections import CorrectionError, apply_corrections, replay_changes
from workers.reprocess.ownership import changed_references, foreign, wanted

#: Charge ids a preview lists (the count covers them all).
PREVIEW_IDS = 10


class NothingToReprocess(ValueError):
    def __init__(self, message: str, skipped: list[Skipped]) -> None:
        super().__init__(message)
        self.skipped = skipped


class InvalidCorrections(ValueError):
    """A correction (or the claim delay) the reprocess worker would refuse; nothing is published."""

    def __init__(self, problems: dict[str, list[FieldProblem]]) -> None:
        named = ", ".join(sorted(problems)[:10]) + (" and more" if len(problems) > 10 else "")
        super().__init__(f"corrections that cannot be applied, on {len(problems)} charge(s): {named}")
        self.problems = problems


class CountChanged(ValueError):
    """The filters select another number of open failures than the biller confirmed."""

    def __init__(self, count: int, expected: int | None) -> None:
        super().__init__(
            f"the filters select {count} open failure(s) now, not the {expected} confirmed; "
            "preview again and confirm the new count"
        )
        self.count = count


class InvalidRequest(ValueError):
    """The request the action would publish breaks the contract (e.g. a claim delay too far ahead)."""


@dataclass(frozen=True)
class Plan:
    replaying: list[str]
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class Preview:
    count: int
    first: list[str]


def plan(selected: Sequence[str], statuses: Mapping[str, str]) -> Plan:
    """Which selected charges are open failures in the company. Another company's charge
    reads 'not found', exactly like a charge id that does not exist."""
    replaying: list[str] = []
    skipped: list[Skipped] = []
    for charge_id in dict.fromkeys(selected):
        status = statuses.get(charge_id)
        if status is None:
            skipped.append(
                Skipped(charge_id=charge_id, reason="not found among this company's failed charges")
            )
        elif status != "open":
            skipped.append(Skipped(charge_id=charge_id, reason=f"not open (status {status})"))
        else:
            replaying.append(charge_id)
    return Plan(replaying, skipped)


def _open_search(filters: SearchFilters, company_id: str) -> q.Search:
    return filters.model_copy(update={"status": "open"}).to_search(company_id)


def preview(
    conn: Connection, company_id: str, *, filters: SearchFilters | None = None, charge_ids: Sequence[str] = ()
) -> Preview:
    """How many open failures the selection would replay now, and the first few: the count a
    biller confirms before reprocessing by filters."""
    if filters is not None:
        search = _open_search(filters, company_id)
        return Preview(
            storage.count(conn, search), storage.matching_ids(conn, search, PREVIEW_IDS)[:PREVIEW_IDS]
        )
    result = plan(charge_ids, storage.selection(conn, company_id, charge_ids))
    return Preview(len(result.replaying), result.replaying[:PREVIEW_IDS])


def check_corrections(
    conn: Connection,
    company_id: str,
    corrections: Mapping[str, Mapping[str, Any]],
    *,
    claim_delay_until: dt.date | None = None,
    charge_ids: Iterable[str] = (),
) -> dict[str, list[FieldProblem]]:
    """Per charge, what is wrong with its corrections (and the claim delay, which applies to
    `charge_ids` too), checked exactly as the reprocess worker will: applied to the charge its
    failure last failed as, decoded as a Charge, and refused when they move it to another
    company's practice, location, patient or bill. Charges that are not failures of the
    company are not checked (the plan skips them). Empty: every correction would apply."""
    ids = list(dict.fromkeys([*corrections, *(charge_ids if claim_delay_until is not None else ())]))
    if not ids:
        return {}
    stored = formatter_read.failed_charges(conn, company_id, ids)
    problems: dict[str, list[FieldProblem]] = {}
    moved: dict[str, dict[str, str]] = {}
    for charge_id in ids:
        original = stored.get(charge_id)
        if original is None:
            continue
        try:
            corrected = apply_corrections(
                original, replay_changes(corrections.get(charge_id, {}), claim_delay_until)
            )
        except CorrectionError as exc:
            problems[charge_id] = [FieldProblem(field=exc.field, problem=exc.problem)]
            continue
        changed = changed_references(original, corrected)
        if changed:
            moved[charge_id] = changed
    if moved:
        owned = formatter_read.owned_references(conn, company_id, wanted(moved.values()))
        for charge_id, changed in moved.items():
            bad = foreign(changed, owned)
            if bad:
                problems[charge_id] = [FieldProblem(field=e.field, problem=e.problem) for e in bad]
    return problems


def prepare(
    conn: Connection, body: ReprocessBody, company_id: str, requested_by: str, now: dt.datetime
) -> tuple[ReprocessRequest, Plan]:
    """The request to publish and what it will do. Raises NothingToReprocess when it would do
    nothing, CountChanged when the filters' count is not the confirmed one, InvalidCorrections
    or InvalidRequest when the worker would refuse what it carries."""
    if body.filters is not None:
        search = _open_search(body.filters, company_id)
        ids = storage.matching_ids(conn, search, MAX_CHARGES)
        count = len(ids) if len(ids) <= MAX_CHARGES else storage.count(conn, search)
        if count != body.expected_count:
            raise CountChanged(count, body.expected_count)
        if count > MAX_CHARGES:
            raise NothingToReprocess(
                f"the filters find more than {MAX_CHARGES} open failures; narrow them and reprocess in parts",
                [],
            )
        result = Plan(ids)
    else:
        result = plan(body.charge_ids, storage.selection(conn, company_id, body.charge_ids))
    if not result.replaying:
        raise NothingToReprocess(
            "none of the selected charges is an open failure in this company", result.skipped
        )
    replaying = set(result.replaying)
    corrections: dict[str, dict[str, Any]] = {
        cid: fields for cid, fields in body.corrections.items() if cid in replaying and fields
    }
    try:
        request = ReprocessRequest(
            request_id=f"rr-{uuid.uuid4().hex}",
            requested_by=requested_by,
            company_id=company_id,
            charge_ids=result.replaying,
            corrections=corrections,
            claim_delay_until=body.claim_delay_until,
            requested_at=now,
        )
    except ValidationError as exc:
        raise InvalidRequest(in_words(exc)) from None
    problems = check_corrections(
        conn, company_id, corrections, claim_delay_until=body.claim_delay_until, charge_ids=result.replaying
    )
    if problems:
        raise InvalidCorrections(problems)
    return request, result


def in_words(exc: ValidationError) -> str:
    """A validation error as a sentence, without the values (they may be patient data)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)[:10]
    )
