"""The 835 reader: the test files validate and read as stated; broken ones are refused whole."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from devtools.sample.era835 import ClaimPayment, Line, Remittance, build
from tests.x12 import samples
from workers.remittance.era import EraRefused, read_eras


@pytest.mark.parametrize("name", sorted(samples.SAMPLES))
def test_checked_in_files_are_the_samples_and_validate(name: str) -> None:
    text = (samples.HERE / name).read_text()
    assert text == samples.texts()[name], "run python -m tests.x12.samples"
    (era,) = read_eras(text)
    sample = samples.SAMPLES[name]
    assert era.trace == sample.trace
    assert era.payer_id == sample.payer_id
    assert era.total == sample.total
    assert [c.claim_id for c in era.claims] == [c.claim_id for c in sample.claims]


def test_several_claims_read_with_lines_adjustments_and_remarks() -> None:
    (era,) = read_eras(build(samples.SEVERAL))
    b = era.claims[1]
    assert (b.claim_id, b.status, b.charge, b.paid, b.patient_responsibility) == (
        "CLM-B",
        "1",
        Decimal("100.00"),
        Decimal("60.00"),
        Decimal("15.00"),
    )
    assert [(a.label, a.amount) for a in b.all_adjustments] == [
        ("CO-45", Decimal("10.00")),
        ("PR-2", Decimal("10.00")),
        ("CO-45", Decimal("15.00")),
        ("PR-2", Decimal("5.00")),
    ]
    assert [line.procedure for line in b.lines] == ["97110", "97140"]
    assert b.all_remarks == ("N130",)
    assert era.claims[2].remarks == ("MA01",)


def test_provider_adjustments_are_read() -> None:
    (era,) = read_eras(build(samples.PROVIDER_ADJUSTMENTS))
    assert [(a.reason, a.reference, a.amount) for a in era.provider_adjustments] == [
        ("L6", "INT2026", Decimal("-2.50")),
        ("WO", "PCN-OLD9", Decimal("30.00")),
    ]
    assert era.total == Decimal("52.50")


def test_bpr_that_does_not_balance_is_refused() -> None:
    text = build(Remittance(trace="T", claims=samples.SEVERAL.claims, bpr_amount="150"))
    with pytest.raises(EraRefused, match=re.escape("BPR02 150.00 is not the claims paid 160.00")):
        read_eras(text)


def test_claim_that_does_not_balance_is_refused() -> None:
    claim = ClaimPayment("CLM-X", "1", "100", "80", adjustments=(("CO", "45", "15"),))
    with pytest.raises(
        EraRefused, match=re.escape("claim CLM-X: charge 100.00 - paid 80.00 is not the adjustments 15.00")
    ):
        read_eras(build(Remittance(trace="T", claims=(claim,))))


def test_service_line_that_does_not_balance_is_refused() -> None:
    line = Line("97110", "100", "80", adjustments=(("CO", "45", "10"),))
    claim = ClaimPayment("CLM-X", "1", "100", "80", adjustments=(("CO", "45", "10"),), lines=(line,))
    with pytest.raises(EraRefused, match="line 1 \\(97110\\)"):
        read_eras(build(Remittance(trace="T", claims=(claim,))))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("hello", "does not begin with an ISA"),
        (
            build(samples.DENIAL).replace("CLP*CLM-D*4", "CLP*CLM-D*99"),
            "not a valid code for Claim Status Code",
        ),
        (build(samples.DENIAL).replace("N3*PO BOX 981106~\n", ""), 'Mandatory segment "Payer Address"'),
        (build(samples.DENIAL).replace("~\nIEA", "~\nXXX*1~\nIEA"), "the 835"),
    ],
    ids=["not-x12", "bad-code", "missing-segment", "unknown-segment"],
)
def test_a_file_that_does_not_validate_is_refused_with_pyx12s_words(text: str, words: str) -> None:
    with pytest.raises(EraRefused) as refused:
        read_eras(text)
    assert words in refused.value.reason


def test_the_import_key_is_the_payer_and_trace_number() -> None:
    from workers.remittance.cli import era_key_of

    assert era_key_of(build(samples.SEVERAL)) == "AET:EFT0001"
    assert era_key_of(build(samples.SECONDARY)) == "MCS:EFT0007"
    assert era_key_of("hello") == ""
