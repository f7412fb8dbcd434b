"""Diagnoses: ICD10_FORMAT, DIAGNOSIS_COUNT, DIAGNOSIS_DUPLICATE, DIAGNOSIS_POINTER_INVALID."""

from __future__ import annotations

import pytest

from tests.unit.formatter.checking import assert_rule
from tests.unit.formatter.strategies import base_charge, changed

THIRTEEN = [f"A0{n // 10}.{n % 10}" for n in range(13)]


@pytest.mark.parametrize(
    ("code", "fails"),
    [
        ("M54.50", False),
        ("M5450", False),
        ("S72.001A", False),
        ("Z99", False),
        ("F41.1", False),
        ("m54.50", False),  # the contract upper-cases codes
        ("54.50", True),
        ("M5", True),
        ("M54.50000", True),
        ("MM4.5", True),
        ("M54..5", True),
        ("M54.", True),
        ("M54-50", True),
    ],
)
def test_icd10_format(code: str, fails: bool) -> None:
    charge = changed(base_charge(), {"diagnoses": ["R26.89", code], "diagnosis_pointers": [1, 2]})
    found = assert_rule("ICD10_FORMAT", charge, None, fails)
    for result in found:
        assert result.field == "diagnoses[1]"
        assert code not in result.message  # diagnoses stay out of logs


@pytest.mark.parametrize(("count", "fails"), [(1, False), (12, False), (13, True)])
def test_diagnosis_count(count: int, fails: bool) -> None:
    charge = changed(base_charge(), {"diagnoses": THIRTEEN[:count], "diagnosis_pointers": [1]})
    assert_rule("DIAGNOSIS_COUNT", charge, None, fails)


@pytest.mark.parametrize(
    ("diagnoses", "fails"),
    [
        (["M54.50", "M25.561"], False),
        (["M54.50", "M54.50"], True),
        (["M54.50", "M5450"], True),
        (["M54.5", "M54.50"], False),
        (["R26.89", "M54.50", "R26.89"], True),
    ],
)
def test_diagnosis_duplicate(diagnoses: list[str], fails: bool) -> None:
    charge = changed(base_charge(), {"diagnoses": diagnoses, "diagnosis_pointers": [1]})
    found = assert_rule("DIAGNOSIS_DUPLICATE", charge, None, fails)
    for result in found:
        assert result.field == f"diagnoses[{len(diagnoses) - 1}]"


@pytest.mark.parametrize(
    ("diagnoses", "pointers", "fails"),
    [
        (2, [1], False),
        (2, [2, 1], False),
        (5, [1, 2, 3, 4], False),
        (2, [], True),
        (5, [1, 2, 3, 4, 5], True),
        (2, [3], True),
        (2, [0], True),
        (2, [-1], True),
    ],
)
def test_diagnosis_pointer_invalid(diagnoses: int, pointers: list[int], fails: bool) -> None:
    charge = changed(base_charge(), {"diagnoses": THIRTEEN[:diagnoses], "diagnosis_pointers": pointers})
    assert_rule("DIAGNOSIS_POINTER_INVALID", charge, None, fails)
