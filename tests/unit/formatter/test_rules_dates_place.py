"""Dates, place and payer: SERVICE_DATE_IN_FUTURE, TIMELY_FILING_EXCEEDED,
PLACE_OF_SERVICE_INVALID, AUTHORIZATION_REQUIRED, AUTHORIZATION_RANGE; and holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from contracts.charge import Charge
from tests.unit.formatter.checking import assert_rule
from tests.unit.formatter.strategies import BOOK, TODAY, base_charge, changed, context
from workers.formatter.rules import RuleContext, filing_deadline, is_held

D = dt.date


@pytest.mark.parametrize(
    ("service", "fails"),
    [(TODAY - dt.timedelta(days=1), False), (TODAY, False), (TODAY + dt.timedelta(days=1), True)],
)
def test_service_date_in_future(service: dt.date, fails: bool) -> None:
    charge = changed(base_charge(), {"service_date": service})
    found = assert_rule("SERVICE_DATE_IN_FUTURE", charge, None, fails)
    if fails:
        # A future date is not also "past the filing limit".
        assert_rule("TIMELY_FILING_EXCEEDED", charge, None, False)
        assert found[0].field == "service_date"


def filed(payer_type: str, service: dt.date, today: dt.date, book: Any = BOOK) -> tuple[Charge, RuleContext]:
    charge = changed(base_charge(payer_type), {"service_date": service, "patient.birth_date": D(1950, 1, 1)})
    return charge, context(today=today, book=book)


@pytest.mark.parametrize(
    ("case", "fails"),
    [
        pytest.param(filed("medicare", D(2024, 2, 29), D(2025, 2, 28)), False, id="mcr-29feb-by-28feb"),
        pytest.param(filed("medicare", D(2024, 2, 29), D(2025, 3, 1)), True, id="mcr-29feb-1mar-late"),
        pytest.param(filed("medicare", D(2023, 3, 1), D(2024, 3, 1)), False, id="mcr-one-calendar-year"),
        pytest.param(filed("medicare", D(2023, 3, 1), D(2024, 3, 2)), True, id="mcr-a-day-late"),
        pytest.param(filed("medicare", D(2025, 6, 1), D(2026, 5, 31)), False, id="mcr-in-time"),
        pytest.param(filed("commercial", D(2026, 1, 1), D(2026, 4, 1)), False, id="com-day-90"),
        pytest.param(filed("commercial", D(2026, 1, 1), D(2026, 4, 2)), True, id="com-day-91"),
        pytest.param(
            filed(
                "commercial", D(2026, 1, 1), D(2026, 5, 1), BOOK.with_payer("PAYER-1", timely_filing_days=180)
            ),
            False,
            id="payer-180-days",
        ),
        pytest.param(filed("patient", D(2020, 1, 1), D(2026, 1, 1)), False, id="self-pay-off"),
    ],
)
def test_timely_filing(case: tuple[Charge, RuleContext], fails: bool) -> None:
    charge, ctx = case
    found = assert_rule("TIMELY_FILING_EXCEEDED", charge, ctx, fails)
    for result in found:
        assert "due by" in result.message and result.field == "service_date"


def test_filing_deadline_for_29_february() -> None:
    medicare = BOOK.rules_for("medicare")
    assert filing_deadline(D(2024, 2, 29), medicare) == D(2025, 2, 28)
    assert filing_deadline(D(2024, 2, 28), medicare) == D(2025, 2, 28)
    assert filing_deadline(D(2026, 1, 15), BOOK.rules_for("commercial")) == D(2026, 4, 15)


@pytest.mark.parametrize(
    ("pos", "fails"),
    [
        ("11", False),
        ("02", False),
        ("10", False),
        ("12", False),
        ("19", False),
        ("22", False),
        ("31", False),
        ("32", False),
        ("49", False),
        ("99", False),
        ("00", True),
        ("1", True),
        ("XX", True),
        ("111", True),
        ("28", True),
    ],
)
def test_place_of_service(pos: str, fails: bool) -> None:
    assert_rule("PLACE_OF_SERVICE_INVALID", changed(base_charge(), {"place_of_service": pos}), None, fails)


AUTH = {
    "number": "AUTH-77",
    "start_date": None,
    "end_date": None,
    "visits_authorized": None,
    "visits_used": None,
}
NEEDS_AUTH = BOOK.with_payer("PAYER-1", authorization_required_codes=["97110", "97140"])
ALL_NEED_AUTH = BOOK.with_payer_type("medicare", authorization_required_codes=["*"])


@pytest.mark.parametrize(
    ("auth", "book", "fails"),
    [
        pytest.param(None, BOOK, False, id="none-required-by-default"),
        pytest.param(None, NEEDS_AUTH, True, id="required-and-absent"),
        pytest.param({**AUTH, "number": ""}, NEEDS_AUTH, True, id="required-and-blank"),
        pytest.param(AUTH, NEEDS_AUTH, False, id="required-and-present"),
        pytest.param(None, ALL_NEED_AUTH, True, id="every-code"),
    ],
)
def test_authorization_required(auth: dict[str, Any] | None, book: Any, fails: bool) -> None:
    charge = changed(base_charge(), {"prior_authorization": auth})
    found = assert_rule("AUTHORIZATION_REQUIRED", charge, context(book=book), fails)
    for result in found:
        assert result.field == "prior_authorization.number"


def test_authorization_only_for_the_listed_codes() -> None:
    charge = changed(base_charge(), {"procedure_code": "97530"})
    assert_rule("AUTHORIZATION_REQUIRED", charge, context(book=NEEDS_AUTH), False)


SERVICE = TODAY - dt.timedelta(days=10)


@pytest.mark.parametrize(
    ("auth", "fails"),
    [
        pytest.param({"start_date": SERVICE, "end_date": SERVICE}, False, id="inside"),
        pytest.param({"visits_authorized": 12, "visits_used": 12}, False, id="last-visit"),
        pytest.param({"start_date": SERVICE + dt.timedelta(days=1)}, True, id="before-start"),
        pytest.param({"end_date": SERVICE - dt.timedelta(days=1)}, True, id="after-end"),
        pytest.param({"visits_authorized": 12, "visits_used": 13}, True, id="used-up"),
        pytest.param({"visits_authorized": 12}, False, id="count-unknown"),
    ],
)
def test_authorization_range(auth: dict[str, Any], fails: bool) -> None:
    charge = changed(base_charge(), {"prior_authorization": {**AUTH, **auth}})
    found = assert_rule("AUTHORIZATION_RANGE", charge, None, fails)
    assert all(r.severity == "warning" for r in found)


@pytest.mark.parametrize(
    ("delay", "held"),
    [
        (None, False),
        (TODAY - dt.timedelta(days=1), False),
        (TODAY, False),
        (TODAY + dt.timedelta(days=1), True),
    ],
)
def test_is_held(delay: dt.date | None, held: bool) -> None:
    assert is_held(changed(base_charge(), {"claim_delay_until": delay}), TODAY) is held
