"""The remittance endpoints of the report API: ERA totals and the unmatched remittances.

A biller sees the ERAs with a claim payment on a bill of their companies, and the parked
claim payments on those bills. A parked claim payment that matched no bill belongs to no
company yet, so it is shown only to operators (the users `claimflow dead-letters grant`
named), as `claimflow remittances unmatched` shows it on the command line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import Engine

from workers.deadletters import replay as rp
from workers.remittance import views
from workers.report.auth import Caller


class ProviderAdjustmentOut(BaseModel):
    reason: str
    reference: str
    amount: Decimal
    description: str


class EraOut(BaseModel):
    era_key: str
    payer_id: str
    payer_name: str
    trace: str
    paid_on: dt.date | None
    file_name: str
    times_received: int
    deposit: Decimal
    claims_paid: Decimal
    provider_adjustments: Decimal
    balanced: bool
    claim_count: int
    posted: Decimal
    parked: Decimal
    other: Decimal
    outcomes: dict[str, int]
    postings: dict[str, int]
    provider_adjustment_lines: list[ProviderAdjustmentOut]


def remittance_router(engine: Engine, caller: Callable[..., Caller]) -> APIRouter:
    router = APIRouter(prefix="/remittances", tags=["remittances"])
    authenticated = Depends(caller)

    def scope(who: Caller) -> set[str] | None:
        with engine.connect() as conn:
            return None if rp.is_operator(conn, who.user_id) else set(who.companies)

    @router.get("/eras", summary="Each ERA's deposit beside what was posted, parked and the PLB")
    def eras(who: Caller = authenticated) -> list[EraOut]:
        companies = scope(who)
        with engine.connect() as conn:
            rows = views.era_totals(conn, companies)
        return [EraOut(**_fields(r), balanced=r.balanced) for r in rows]

    @router.get("/unmatched", summary="Claim payments parked with their reason (unmatched remittances)")
    def unmatched(who: Caller = authenticated) -> list[views.ParkedClaim]:
        companies = scope(who)
        with engine.connect() as conn:
            return views.parked_claims(conn, companies)

    return router


def _fields(value: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(value)
