"""The rule book and the code tables: defaults, layering, overrides, loading from a path."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.formatter.strategies import BOOK
from workers.formatter.rules import RULES, RuleBook, RuleBookError, TableError
from workers.formatter.rules.tables import parse_kx_thresholds, parse_mue


def test_defaults_for_medicare_and_commercial() -> None:
    medicare, commercial = BOOK.rules_for("medicare"), BOOK.rules_for("commercial")
    assert (medicare.timely_filing_days, medicare.timely_filing_calendar_year) == (365, True)
    assert (commercial.timely_filing_days, commercial.timely_filing_calendar_year) == (90, False)
    assert medicare.applies("THERAPY_MODIFIER_MISSING") and not commercial.applies("THERAPY_MODIFIER_MISSING")
    assert medicare.applies("KX_MODIFIER_REQUIRED") and not commercial.applies("KX_MODIFIER_REQUIRED")
    assert medicare.timing_method == "eight_minute"
    assert medicare.authorization_required_codes == frozenset()
    assert commercial.authorization_required_codes == frozenset()
    assert all(medicare.applies(code) for code in RULES)


def test_every_payer_type_resolves_and_no_payer_uses_the_defaults() -> None:
    for payer_type in ("medicare", "medicaid", "commercial", "workers_comp", "auto", "patient"):
        assert BOOK.rules_for(payer_type).timely_filing_days >= 90
    assert BOOK.rules_for(None).timely_filing_days == 90


def test_payer_override_layers_over_its_type() -> None:
    book = BOOK.with_payer("AETNA", rules={"THERAPY_MODIFIER_MISSING": True}, timely_filing_days=120)
    book = book.with_payer("AETNA", authorization_required_codes=["97110"])
    aetna = book.rules_for("commercial", "AETNA")
    assert aetna.applies("THERAPY_MODIFIER_MISSING")
    assert aetna.timely_filing_days == 120 and aetna.authorization_required("97110")
    assert not book.rules_for("commercial", "OTHER").applies("THERAPY_MODIFIER_MISSING")
    # The original book is untouched: overrides return a copy.
    assert not BOOK.rules_for("commercial", "AETNA").applies("THERAPY_MODIFIER_MISSING")


def test_a_payer_stating_days_means_days_even_over_medicare() -> None:
    rules = BOOK.with_payer("MA-PLAN", timely_filing_days=180).rules_for("medicare", "MA-PLAN")
    assert (rules.timely_filing_days, rules.timely_filing_calendar_year) == (180, False)


@pytest.mark.parametrize(
    "settings",
    [
        {"rules": {"NOT_A_RULE": True}},
        {"timing_method": "sundial"},
        {"timely_filing_days": 0},
        {"surprise": 1},
        {"timely_filing_days": 400, "timely_filing_calendar_year": True},
    ],
)
def test_bad_settings_fail_when_loaded(settings: dict[str, object]) -> None:
    with pytest.raises(RuleBookError):
        BOOK.with_payer("X", **settings)


def test_load_from_a_path_with_a_real_mue_file(tmp_path: Path) -> None:
    # The CMS file opens with notice lines before its header.
    (tmp_path / "mue.csv").write_text(
        '"CPT codes, descriptions and other data only are copyright AMA."\n'
        '"Effective 2026-04-01"\n'
        '"HCPCS/CPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator","MUE Rationale"\n'
        '"97110","4","3 Date of Service Edit: Clinical","Clinical: Data"\n'
    )
    book_file = tmp_path / "rules.json"
    book_file.write_text(
        json.dumps(
            {
                "tables": {"mue": "mue.csv"},
                "defaults": {"timely_filing_days": 60},
                "payers": {"BCBS": {"authorization_required_codes": ["*"]}},
            }
        )
    )
    book = RuleBook.load(book_file)
    assert book.tables.mue["97110"].limit == 4
    assert book.tables.mue["97110"].adjudication_indicator == 3
    assert "97530" not in book.tables.mue
    assert book.tables.place_of_service == BOOK.tables.place_of_service  # shipped table
    assert book.rules_for("commercial").timely_filing_days == 60
    assert book.rules_for("commercial", "BCBS").authorization_required("97999")


@pytest.mark.parametrize(
    "data",
    [
        {"payer_types": {"martian": {}}},
        {"extra": {}},
        {"tables": {"mue": "missing.csv"}},
        {"tables": {"unknown": "x.csv"}},
    ],
)
def test_bad_books_fail_to_load(tmp_path: Path, data: dict[str, object]) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RuleBookError):
        RuleBook.load(path)


def test_shipped_tables_cover_the_therapy_codes() -> None:
    tables = BOOK.tables
    required = {
        "97110",
        "97112",
        "97116",
        "97140",
        "97150",
        "97530",
        "97535",
        "G0283",
        "92507",
        "92526",
        *(f"9716{n}" for n in range(1, 9)),
    }
    assert required <= set(tables.therapy_codes)
    assert set(tables.therapy_codes) <= set(tables.mue)
    assert {"02", "10", "11", "12", "19", "22", "31", "32", "49"} <= tables.place_of_service


def test_kx_thresholds_by_year() -> None:
    tables = BOOK.tables
    assert tables.kx_threshold(2024, "PT_SLP") == Decimal("2410.00")
    assert tables.kx_threshold(2025, "OT") == Decimal("2410.00")
    assert tables.kx_threshold(2026, "PT_SLP") == Decimal("2480.00")
    assert tables.kx_threshold(2026, "OT") == Decimal("2480.00")
    assert tables.kx_threshold(2027, "OT") == Decimal("2480.00")  # not yet published
    assert tables.kx_threshold(2019, "OT") is None


@pytest.mark.parametrize(
    "text",
    ['"HCPCS/CPT Code","MUE","Ind","Why"\n"97110","six","3 x","y"\n', "no header here\n"],
)
def test_bad_mue_files(text: str) -> None:
    with pytest.raises(TableError):
        parse_mue(text)


def test_bad_kx_discipline() -> None:
    with pytest.raises(TableError):
        parse_kx_thresholds("year,discipline,threshold\n2026,PT,2480.00\n")
