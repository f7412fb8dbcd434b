"""A small, known set of failures made by the real formatter, shared by the report's tests.

acme-therapy: A1 (north-main, Medicare, missing birth date, failed in runs 1 and 2), A2
(north-annex, Aetna, bad procedure code, run 1), A3 (south, two reasons, run 2), A4 claimed,
A5 failed then resolved by its version 2. other-co: O1.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from claimflow.db import unit_of_work
from contracts import Charge
from tests.factories import charge
from workers.common.messages import Incoming, Received
from workers.formatter.handler import FormatterHandler
from workers.formatter.rules import RuleBook

DAY1 = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 11, 21, 15, tzinfo=dt.UTC)
AETNA = [
    {
        "payer_id": "aetna",
        "name": "Aetna",
        "payer_type": "commercial",
        "member_id": "W1234567",
        "electronic_id": "60054",
    }
]


def patient(pid: str, last: str, first: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "first_name": first,
        "last_name": last,
        "birth_date": dt.date(1950, 3, 4),
        "sex": "F",
        "address": {"line1": "1 Test St", "city": "Springfield", "state": "IL", "postal_code": "62701"},
        **extra,
    }


def run_formatter(engine: Engine, charges: list[Charge], now: dt.datetime) -> None:
    """The formatter's real batch step, one run per call."""
    handler = FormatterHandler(RuleBook.default(), clock=lambda: now)
    batch = [Incoming(c, Received("billing.charges", 0, i, None, None)) for i, c in enumerate(charges)]
    with unit_of_work(engine) as conn:
        handler.handle(conn, batch)


def fill(engine: Engine) -> None:
    run_formatter(
        engine,
        [
            charge(
                charge_id="A1",
                patient=patient("P-1", "Alpha", "Ann", birth_date=None),
                amount=Decimal("90.00"),
            ),
            charge(
                charge_id="A2",
                location_id="north-annex",
                patient=patient("P-2", "Beta", "Bob"),
                procedure_code="XX1",
                payers=AETNA,
                amount=Decimal("45.00"),
            ),
            charge(charge_id="A4", patient=patient("P-4", "Delta", "Dee")),  # clean: claimed, never a failure
            charge(charge_id="A5", patient=patient("P-5", "Echo", "Eve", sex=None), amount=Decimal("10.00")),
            charge(
                charge_id="O1", company_id="other-co", patient=patient("P-9", "Other", "Oz", birth_date=None)
            ),
        ],
        DAY1,
    )
    run_formatter(
        engine,
        [
            charge(
                charge_id="A3",
                practice_id="south",
                location_id="south-main",
                patient=patient("P-3", "Gamma", "Gil", sex=None),
                procedure_code="XX2",
                amount=Decimal("120.00"),
            ),
            charge(charge_id="A5", version=2, patient=patient("P-5", "Echo", "Eve"), amount=Decimal("10.00")),
            charge(
                charge_id="A1",
                version=2,
                patient=patient("P-1", "Alpha", "Ann", birth_date=None),
                amount=Decimal("90.00"),
            ),
        ],
        DAY2,
    )
