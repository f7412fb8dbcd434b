"""The report's query building: filters, sorting, grouping and paging, compiled, not run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from workers.report import queries as q


def sql(stmt: Any, dialect: Any = None) -> str:
    compiled = stmt.compile(dialect=dialect or sqlite.dialect(), compile_kwargs={"literal_binds": True})
    return " ".join(str(compiled).split())


def test_every_search_is_scoped_to_its_company_and_defaults_to_open() -> None:
    text = sql(q.rows_statement(q.Search(company_id="acme")))
    assert "charge_failures.company_id = 'acme'" in text
    assert "charge_failures.status = 'open'" in text
    assert "LIMIT 50 OFFSET 0" in text


def test_status_all_drops_the_status_filter_but_not_the_company() -> None:
    text = sql(q.count_statement(q.Search(company_id="acme", status="all")))
    assert "status" not in text
    assert "company_id = 'acme'" in text


def test_each_filter_becomes_a_condition() -> None:
    s = q.Search(
        company_id="acme",
        practice_id="north",
        location_id="north-main",
        run_number=7,
        failure_code="required_field",
        payer_name="Medicare",
        procedure_code="97110",
        failed_from=dt.date(2026, 1, 1),
        failed_to=dt.date(2026, 1, 31),
        charge_ids=("CH-1",),
    )
    text = sql(q.count_statement(s))
    for fragment in (
        "practice_id = 'north'",
        "location_id = 'north-main'",
        "run_number = 7",
        "charge_failure_reasons.code = 'REQUIRED_FIELD'",
        "lower(charge_failures.payer_name) = 'medicare'",
        "procedure_code = '97110'",
        "oldest_failure_date >= '2026-01-01'",
        "oldest_failure_date <= '2026-01-31'",
        "charge_id IN ('CH-1')",
    ):
        assert fragment in text, fragment


def test_date_range_can_apply_to_the_last_failure_date() -> None:
    text = sql(
        q.count_statement(q.Search(company_id="a", failed_from=dt.date(2026, 2, 1), date_field="last"))
    )
    assert "last_failure_date >= '2026-02-01'" in text
    assert "oldest_failure_date" not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, q.DEFAULT_SORT),
        ("", q.DEFAULT_SORT),
        ("amount", (("amount", False),)),
        ("-amount, oldest_failure_date", (("amount", True), ("oldest_failure_date", False))),
        ("+patient_name", (("patient_name", False),)),
    ],
)
def test_parse_sort(text: str | None, expected: tuple[tuple[str, bool], ...]) -> None:
    assert q.parse_sort(text) == expected


def test_unknown_sort_column_is_a_search_error_naming_the_choices() -> None:
    with pytest.raises(q.SearchError, match=r"cannot sort by 'amount;drop'.*charge_id"):
        q.parse_sort("amount;drop")


def test_sort_is_nulls_last_and_ends_with_charge_id_for_stable_pages() -> None:
    text = sql(q.rows_statement(q.Search(company_id="a", sort=(("amount", True),))), postgresql.dialect())
    assert "ORDER BY charge_failures.amount DESC NULLS LAST, charge_failures.charge_id ASC" in text


def test_sorting_by_charge_id_adds_no_second_tie_breaker() -> None:
    text = sql(q.rows_statement(q.Search(company_id="a", sort=(("charge_id", True),))))
    assert text.count("charge_failures.charge_id") >= 1
    assert "ORDER BY charge_failures.charge_id DESC LIMIT" in text


def test_not_null_columns_sort_without_a_nulls_clause() -> None:
    """A NULLS clause against the database's default for the direction keeps it from reading
    an index in order; on a NOT NULL column it changes nothing, so it is left out."""
    text = sql(q.rows_statement(q.Search(company_id="a")), postgresql.dialect())
    assert "ORDER BY charge_failures.oldest_failure_date ASC, charge_failures.charge_id ASC" in text
    text = sql(q.rows_statement(q.Search(company_id="a", sort=(("service_date", False),))))
    assert "service_date ASC NULLS LAST" in text


@pytest.mark.parametrize(
    "bad",
    [
        {"failed_from": dt.date(2026, 2, 1), "failed_to": dt.date(2026, 1, 1)},
        {"status": "closed"},
        {"sort": (("nope", False),)},
        {"limit": 0},
        {"limit": q.MAX_LIMIT + 1},
        {"offset": -1},
        {"service_from": dt.date(2026, 2, 1), "service_to": dt.date(2026, 1, 1)},
        {"amount_min": Decimal("10.00"), "amount_max": Decimal("9.99")},
        {"missing": ("practice",), "practice_id": "north"},
        {"missing": ("run",)},
    ],
)
def test_invalid_searches_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(q.SearchError):
        q.Search(company_id="a", **bad)


@pytest.mark.parametrize(
    ("total", "limit", "offset", "following"),
    [(0, 50, 0, None), (50, 50, 0, None), (51, 50, 0, 50), (120, 50, 50, 100), (120, 50, 100, None)],
)
def test_page_next_offset(total: int, limit: int, offset: int, following: int | None) -> None:
    assert q.Page(total=total, limit=limit, offset=offset).next_offset == following


@pytest.mark.parametrize(
    ("by", "column"),
    [
        ("practice", "practice_id"),
        ("location", "location_id"),
        ("run", "run_number"),
        ("procedure", "procedure_code"),
    ],
)
def test_group_by_a_column_counts_and_sums_within_the_search(by: q.GroupBy, column: str) -> None:
    text = sql(q.group_statement(q.Search(company_id="acme"), by))
    assert f"GROUP BY charge_failures.{column}" in text
    assert "count(*)" in text and "sum(charge_failures.amount)" in text
    assert "company_id = 'acme'" in text and "status = 'open'" in text


def test_group_by_payer_ignores_case_as_the_payer_filter_does() -> None:
    text = sql(q.group_statement(q.Search(company_id="acme"), "payer"))
    assert 'min(charge_failures.payer_name) AS "key"' in text
    assert "GROUP BY lower(charge_failures.payer_name)" in text


def test_service_dates_amounts_and_missing_fields_become_conditions() -> None:
    s = q.Search(
        company_id="acme",
        service_from=dt.date(2026, 3, 1),
        service_to=dt.date(2026, 3, 31),
        amount_min=Decimal("100.00"),
        amount_max=Decimal("250.50"),
        missing=("practice", "payer"),
    )
    text = sql(q.count_statement(s))
    for fragment in (
        "service_date >= '2026-03-01'",
        "service_date <= '2026-03-31'",
        "amount >= 100.00",
        "amount <= 250.50",
        "practice_id IS NULL",
        "payer_name IS NULL",
    ):
        assert fragment in text, fragment
    assert "location_id IS NULL" not in text


@pytest.mark.parametrize(
    ("by", "key", "expected"),
    [
        ("reason", "REQUIRED_FIELD", {"reason": "REQUIRED_FIELD"}),
        ("practice", "north", {"practice": "north"}),
        ("practice", None, {"missing": ["practice"]}),
        ("location", None, {"missing": ["location"]}),
        ("payer", "Aetna", {"payer": "Aetna"}),
        ("payer", None, {"missing": ["payer"]}),
        ("run", "7", {"run": 7}),
        ("procedure", "97110", {"procedure": "97110"}),
        ("procedure", None, {"missing": ["procedure"]}),
    ],
)
def test_every_group_has_a_drill_down_filter(by: q.GroupBy, key: str | None, expected: dict) -> None:
    assert q.drill_filters(by, key) == expected


def test_every_group_by_has_a_drill_down() -> None:
    for by in q.GROUPS:
        assert q.drill_filters(by, "1")  # type: ignore[arg-type]
    with pytest.raises(q.SearchError):
        q.drill_filters("run", None)


def test_places_are_the_companys_practice_location_pairs() -> None:
    text = sql(q.places_statement("acme"))
    assert "SELECT DISTINCT charge_failures.practice_id, charge_failures.location_id" in text
    assert "company_id = 'acme'" in text and "status" not in text


def test_group_by_reason_counts_each_charge_once_per_reason() -> None:
    text = sql(q.group_statement(q.Search(company_id="acme"), "reason"))
    assert (
        "JOIN charge_failure_reasons ON charge_failure_reasons.charge_id = charge_failures.charge_id" in text
    )
    assert (
        "NOT (EXISTS (SELECT * FROM charge_failure_reasons AS charge_failure_reasons_1 "
        "WHERE charge_failure_reasons_1.charge_id = charge_failure_reasons.charge_id "
        "AND charge_failure_reasons_1.code = charge_failure_reasons.code "
        "AND charge_failure_reasons_1.position < charge_failure_reasons.position))"
    ) in text
    assert "GROUP BY charge_failure_reasons.code" in text
    assert "company_id = 'acme'" in text


def test_detail_is_only_found_within_the_callers_companies() -> None:
    text = sql(q.failure_statement("CH-1", ("acme", "beta")))
    assert "charge_id = 'CH-1'" in text and "company_id IN ('acme', 'beta')" in text


def test_attach_reasons_keeps_order_and_gives_empty_lists() -> None:
    rows = [{"charge_id": "A"}, {"charge_id": "B"}]
    reasons = [
        {"charge_id": "A", "code": "X", "message": "x"},
        {"charge_id": "A", "code": "Y", "message": "y"},
    ]
    out = q.attach_reasons(rows, reasons)
    assert [r["code"] for r in out[0]["reasons"]] == ["X", "Y"]
    assert out[1]["reasons"] == []
    assert "charge_id" not in out[0]["reasons"][0]
