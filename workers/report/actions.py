"""The reprocess action shared by the API and the CLI: decide what the request will replay,
then publish exactly one ReprocessRequest naming those charges.

Selecting by filters is resolved to charge ids here, at the moment the biller acts, so the
answer lists exactly what was asked for and a failure that appears a second later is not
swept in unseen.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from contracts.reprocess import ReprocessRequest
from workers.report import storage
from workers.report.models import ReprocessBody, Skipped

#: The contract's cap on charge ids in one request.
MAX_CHARGES = 10000


class NothingToReprocess(ValueError):
    def __init__(self, message: str, skipped: list[Skipped]) -> None:
        super().__init__(message)
        self.skipped = skipped


@dataclass(frozen=True)
class Plan:
    replaying: list[str]
    skipped: list[Skipped] = field(default_factory=list)


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


def prepare(
    conn: Connection, body: ReprocessBody, company_id: str, requested_by: str, now: dt.datetime
) -> tuple[ReprocessRequest, Plan]:
    """The request to publish and what it will do; NothingToReprocess when it would do nothing."""
    if body.filters is not None:
        search = body.filters.model_copy(update={"status": "open"}).to_search(company_id)
        ids = storage.matching_ids(conn, search, MAX_CHARGES)
        if len(ids) > MAX_CHARGES:
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
    corrections: dict[str, dict[str, Any]] = {
        cid: fields for cid, fields in body.corrections.items() if cid in set(result.replaying) and fields
    }
    request = ReprocessRequest(
        request_id=f"rr-{uuid.uuid4().hex}",
        requested_by=requested_by,
        company_id=company_id,
        charge_ids=result.replaying,
        corrections=corrections,
        claim_delay_until=body.claim_delay_until,
        requested_at=now,
    )
    return request, result
