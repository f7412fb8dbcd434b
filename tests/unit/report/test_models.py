"""The API's request models: clear 4xx errors come from these."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from workers.report.models import (
    FailedCharge,
    GroupQuery,
    ReprocessBody,
    ReprocessSelection,
    SearchFilters,
    SearchQuery,
)


def test_reprocess_needs_exactly_one_selection() -> None:
    with pytest.raises(ValidationError, match="charge_ids or by filters"):
        ReprocessBody()
    with pytest.raises(ValidationError, match="charge_ids or by filters"):
        ReprocessBody(charge_ids=["A"], filters=SearchFilters())
    assert ReprocessBody(filters=SearchFilters(reason="required_field"), expected_count=2).filters is not None


def test_reprocess_by_filters_carries_the_confirmed_count() -> None:
    with pytest.raises(ValidationError, match="needs expected_count"):
        ReprocessBody(filters=SearchFilters())
    with pytest.raises(ValidationError, match="expected_count goes with filters"):
        ReprocessBody(charge_ids=["A"], expected_count=1)
    assert ReprocessSelection(filters=SearchFilters()).expected_count is None  # the preview's body


@pytest.mark.parametrize(
    "fields",
    [
        {"run": 99999999999999999999},
        {"run": 2**31},
        {"run": 0},
        {"offset": 9223372036854775808},
        {"offset": -1},
        {"limit": 10**30},
        {"sort": "amount," * 1000},
        {"payer": "x" * 201},
    ],
)
def test_every_number_and_string_a_client_sends_is_bounded(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SearchQuery.model_validate(fields)


@pytest.mark.parametrize(
    "corrections",
    [
        {"A": {"x" * 2001: 1}},
        {"A": {"patient.first_name": "x" * 4_000_000}},
        {"A": {"patient..sex": "F"}},
        {"A": {f"f{i}": 1 for i in range(41)}},
    ],
)
def test_corrections_are_bounded(corrections: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ReprocessBody(charge_ids=["A"], corrections=corrections)


def test_corrections_only_for_selected_charges() -> None:
    with pytest.raises(ValidationError, match="not selected: B"):
        ReprocessBody(charge_ids=["A"], corrections={"B": {"patient.sex": "F"}})


def test_charge_ids_are_identifiers() -> None:
    with pytest.raises(ValidationError):
        ReprocessBody(charge_ids=["a:b"])


def test_search_filters_normalise_and_check() -> None:
    assert SearchFilters(reason=" required_field ").reason == "REQUIRED_FIELD"
    with pytest.raises(ValidationError, match="after failed_to"):
        SearchFilters(failed_from=dt.date(2026, 2, 1), failed_to=dt.date(2026, 1, 1))
    with pytest.raises(ValidationError):
        SearchFilters.model_validate({"unknown": 1})
    with pytest.raises(ValidationError):
        SearchQuery(limit=0)
    with pytest.raises(ValidationError):
        GroupQuery.model_validate({"by": "patient"})


def test_service_amount_and_missing_filters_check_their_input() -> None:
    with pytest.raises(ValidationError, match="after service_to"):
        SearchFilters(service_from=dt.date(2026, 2, 1), service_to=dt.date(2026, 1, 1))
    with pytest.raises(ValidationError, match="more than amount_max"):
        SearchFilters.model_validate({"amount_min": "10.00", "amount_max": "9.00"})
    with pytest.raises(ValidationError, match="two decimal places"):
        SearchFilters.model_validate({"amount_min": "10.001"})
    with pytest.raises(ValidationError, match="choose one"):
        SearchFilters.model_validate({"practice": "north", "missing": ["practice"]})
    with pytest.raises(ValidationError):
        SearchFilters.model_validate({"missing": ["run"]})
    s = SearchFilters.model_validate(
        {
            "service_from": "2026-01-01",
            "service_to": "2026-01-31",
            "amount_min": "10.50",
            "amount_max": "99",
            "missing": ["location", "location"],
        }
    ).to_search("acme")
    assert (s.service_from, s.service_to) == (dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert (s.amount_min, s.amount_max) == (Decimal("10.50"), Decimal("99.00"))
    assert s.missing == ("location",)
    assert GroupQuery.model_validate({"by": "procedure", "amount_min": "1.00"}).by == "procedure"


def test_to_search_carries_every_filter() -> None:
    s = SearchFilters(practice="p", location="l", run=3, reason="X", status="all").to_search("acme")
    assert (s.company_id, s.practice_id, s.location_id, s.run_number, s.failure_code, s.status) == (
        "acme",
        "p",
        "l",
        3,
        "X",
        "all",
    )


def test_money_is_a_two_place_string_and_the_patient_is_last_first() -> None:
    row: dict[str, Any] = {
        "charge_id": "A",
        "company_id": "c",
        "practice_id": None,
        "location_id": None,
        "patient_id": "P-1",
        "patient_name": "Doe, Jane",
        "service_date": dt.date(2026, 1, 2),
        "procedure_code": "97110",
        "amount": Decimal("90"),
        "payer_name": "Medicare",
        "reasons": [],
        "run_number": 1,
        "oldest_failure_date": dt.date(2026, 1, 3),
        "last_failure_date": dt.date(2026, 1, 4),
        "failure_count": 2,
        "status": "open",
        "latest_version": 1,
    }
    data = FailedCharge.from_row(row).model_dump(mode="json")
    assert data["amount"] == "90.00"
    assert data["patient"] == {"id": "P-1", "name": "Doe, Jane"}
    assert data["service_date"] == "2026-01-02"
