"""835 claim payments -> transaction codes: one test per row of the mapping table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.sample.era835 import ClaimPayment, Remittance, build
from tests.unit.remittance.builders import PAYERS, bill
from tests.x12 import samples
from workers.posting.bill import Bill
from workers.posting.rules import Applied, apply
from workers.remittance.era import Era, read_eras
from workers.remittance.mapping import CONTRACTUAL, MappingConfig, Plan, plan, posting_id

CONFIG = MappingConfig()


def era_of(remittance: Remittance) -> Era:
    (era,) = read_eras(build(remittance))
    return era


def codes(p: Plan) -> list[str]:
    return [f"{x.code} {x.amount}" if x.amount is not None else x.code for x in p.postings] + (
        [f">{p.postings[-1].next_payer}"] if p.postings and p.postings[-1].next_payer else []
    )


def replay(start: Bill, p: Plan) -> Bill:
    current = start
    for x in p.postings:
        outcome = apply(current, x.code, x.amount, x.next_payer)
        assert isinstance(outcome, Applied), outcome
        current = outcome.bill
    return current


def test_full_payment_is_one_payment() -> None:
    era = era_of(samples.SEVERAL)
    p = plan(bill("CLM-A"), era, era.claims[0], CONFIG)
    assert codes(p) == ["PI 100.00"]
    assert p.bill_after is not None and p.bill_after.balance == 0


def test_partial_payment_posts_allowance_with_carc_and_rebills_the_patient_share() -> None:
    era = era_of(samples.SEVERAL)
    p = plan(bill("CLM-B"), era, era.claims[1], CONFIG)
    assert codes(p) == ["PI 60.00", "C 25.00", "RB"]
    assert p.postings[1].note.startswith("CO-45: Charge exceeds fee schedule")
    assert "remarks: N130: Consult plan benefit documents" in p.postings[0].note
    after = p.bill_after
    assert after is not None and (after.balance, after.current_payer) == (Decimal("15.00"), 2)
    assert any(n.startswith("PR-2: Coinsurance Amount: 15.00") for n in p.notes)


def test_all_deductible_moves_the_payer_by_rejection_not_rebill() -> None:
    # Paid 0.00, all PR-1: not a denial, RB is refused (nothing stands on the payer), so J >2.
    era = era_of(samples.SEVERAL)
    p = plan(bill("CLM-C"), era, era.claims[2], CONFIG)
    assert codes(p) == ["J", ">2"]
    assert p.bill_after is not None and p.bill_after.current_payer == 2
    assert p.bill_after.balance == Decimal("100.00")


def test_no_next_payer_leaves_the_balance() -> None:
    era = era_of(samples.SEVERAL)
    single = bill("CLM-B", payers=(("AET", "Aetna", "commercial"),))
    p = plan(single, era, era.claims[1], CONFIG)
    assert codes(p) == ["PI 60.00", "C 25.00"]


def test_denial_is_a_rejection_with_reasons_in_words() -> None:
    era = era_of(samples.DENIAL)
    p = plan(bill("CLM-D"), era, era.claims[0], CONFIG)
    assert codes(p) == ["J"]
    assert "CO-50: These are non-covered services" in p.postings[0].note
    assert "N115: This decision was based on a Local Coverage Determination" in p.postings[0].note
    assert p.bill_after is not None and p.bill_after.rejected


def test_reversal_undoes_the_payment_and_allowance_then_the_correction_posts() -> None:
    first_era = era_of(samples.FIRST_PAYMENT)
    start = bill("CLM-E")
    first = plan(start, first_era, first_era.claims[0], CONFIG)
    assert codes(first) == ["PI 70.00", "C 20.00", "RB"]
    after_first = replay(start, first)
    era = era_of(samples.REVERSAL)
    reversal = plan(after_first, era, era.claims[0], CONFIG, first.postings, 1)
    assert codes(reversal) == ["UR", "AP 70.00", "AC 20.00"]
    after_reversal = replay(after_first, reversal)
    assert (after_reversal.balance, after_reversal.current_payer) == (Decimal("100.00"), 1)
    corrected = plan(after_reversal, era, era.claims[1], CONFIG)
    assert codes(corrected) == ["PI 80.00", "C 10.00", "RB"]
    final = replay(after_reversal, corrected)
    assert (final.balance, final.current_payer) == (Decimal("10.00"), 2)


def test_reversal_of_a_payment_not_posted_from_an_era_is_parked() -> None:
    era = era_of(samples.REVERSAL)
    p = plan(bill("CLM-E"), era, era.claims[0], CONFIG)
    assert p.parked and "no earlier payment" in p.parked


def test_secondary_oa23_is_recorded_not_a_contractual() -> None:
    primary = era_of(samples.SEVERAL)
    start = bill("CLM-B")
    after_primary = replay(start, plan(start, primary, primary.claims[1], CONFIG))
    era = era_of(samples.SECONDARY)
    p = plan(after_primary, era, era.claims[0], CONFIG)
    assert codes(p) == ["PI 12.00", "RB"]
    assert any(n.startswith("OA-23: The impact of prior payer(s)") for n in p.notes)
    assert p.bill_after is not None and (p.bill_after.balance, p.bill_after.current_payer) == (
        Decimal("3.00"),
        3,
    )


def test_oa_as_contractual_by_configuration_is_refused_when_it_would_go_negative() -> None:
    primary = era_of(samples.SEVERAL)
    start = bill("CLM-B")
    after_primary = replay(start, plan(start, primary, primary.claims[1], CONFIG))
    era = era_of(samples.SECONDARY)
    config = MappingConfig(groups={"OA": CONTRACTUAL, "PI": CONTRACTUAL}, overrides={})
    p = plan(after_primary, era, era.claims[0], config)
    assert p.parked and "a contractual allowance may reduce the balance to zero, not below" in p.parked


def test_payer_not_current_is_parked_and_says_so() -> None:
    era = era_of(samples.SECONDARY)
    p = plan(bill("CLM-B"), era, era.claims[0], CONFIG)
    assert p.parked and "is payer 2 on bill CLM-B, but the current payer is 1 (Aetna)" in p.parked


def test_payer_not_on_bill_is_parked() -> None:
    era = era_of(samples.SEVERAL)
    p = plan(bill("CLM-A", payers=(("BCBS", "Blue", "commercial"),)), era, era.claims[0], CONFIG)
    assert p.parked and "is not on bill CLM-A" in p.parked


def test_posting_ids_are_deterministic_and_fit_the_contract() -> None:
    era = era_of(samples.SEVERAL)
    again = era_of(samples.SEVERAL)
    ids = [posting_id(era, c, n) for c in era.claims for n in range(3)]
    assert ids == [posting_id(again, c, n) for c in again.claims for n in range(3)]
    assert len(set(ids)) == len(ids) and all(len(i) <= 64 for i in ids)


amounts = st.decimals(min_value=0, max_value=200, places=2)


@settings(max_examples=60, deadline=None)  # each example goes through pyx12
@given(
    charge=st.decimals(min_value=Decimal("0.01"), max_value=500, places=2),
    paid_share=st.decimals(min_value=0, max_value=1, places=2),
    co_share=st.decimals(min_value=0, max_value=1, places=2),
    payers=st.integers(min_value=1, max_value=3),
)
def test_any_balanced_claim_payment_posts_or_parks_and_balances_match(
    charge: Decimal, paid_share: Decimal, co_share: Decimal, payers: int
) -> None:
    """Whatever the split of a claim into paid, CO and PR, the postings apply as planned and
    the bill ends at charge - paid - CO; the PR share is what remains."""
    paid = (charge * paid_share).quantize(Decimal("0.01"))
    co = ((charge - paid) * co_share).quantize(Decimal("0.01"))
    pr = charge - paid - co
    adjustments = tuple(a for a in (("CO", "45", str(co)), ("PR", "2", str(pr))) if Decimal(a[2]) > 0)
    claim = ClaimPayment("CLM-H", "1", str(charge), str(paid), str(pr), adjustments=adjustments)
    era = era_of(Remittance(trace="H1", claims=(claim,)))
    start = bill("CLM-H", total=str(charge), payers=PAYERS[:payers])
    p = plan(start, era, era.claims[0], CONFIG)
    assert p.parked is None, p.parked
    after = replay(start, p)
    assert after == p.bill_after
    assert after.balance == pr
    assert after.invariant_violations() == []
    moved = pr > 0 and payers > 1
    assert after.current_payer == (2 if moved else 1)


def test_pi_is_a_contractual_by_default_and_recorded_when_configured() -> None:
    claim = ClaimPayment("CLM-P", "1", "100", "70", adjustments=(("PI", "104", "30"),))
    era = era_of(Remittance(trace="P1", claims=(claim,)))
    assert codes(plan(bill("CLM-P"), era, era.claims[0], CONFIG)) == ["PI 70.00", "C 30.00"]
    recorded = MappingConfig(groups={"OA": "record", "PI": "record"})
    p = plan(bill("CLM-P"), era, era.claims[0], recorded)
    assert codes(p) == ["PI 70.00"]
    assert p.notes == ("PI-104: Managed care withholding: 30.00 stays on the balance",)


def test_a_code_missing_from_the_table_is_shown_as_itself() -> None:
    claim = ClaimPayment("CLM-Q", "1", "100", "90", adjustments=(("CO", "Z9", "10"),))
    era = era_of(Remittance(trace="Q1", claims=(claim,)))
    p = plan(bill("CLM-Q"), era, era.claims[0], CONFIG)
    assert p.postings[1].note == "CO-Z9: (no description on file)"


def test_a_status_that_is_no_payment_is_parked() -> None:
    claim = ClaimPayment("CLM-R", "25", "100", "0", adjustments=(("CO", "45", "100"),))
    era = era_of(Remittance(trace="R1", claims=(claim,)))
    p = plan(bill("CLM-R"), era, era.claims[0], CONFIG)
    assert p.parked and "predetermination pricing only" in p.parked


def _split(charge: Decimal, paid_share: Decimal, co_share: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    paid = (charge * paid_share).quantize(Decimal("0.01"))
    co = ((charge - paid) * co_share).quantize(Decimal("0.01"))
    return paid, co, charge - paid - co


def _claim_payment(index: int, status: str, charge: Decimal, split: tuple[Decimal, ...], pcn: str) -> Any:
    from workers.remittance.era import Cas
    from workers.remittance.era import ClaimPayment as Read

    sign = Decimal(-1) if status == "22" else Decimal(1)
    paid, co, pr = (x * sign for x in split)
    adjustments = tuple(Cas(g, r, a) for g, r, a in (("CO", "45", co), ("PR", "2", pr)) if a != 0)
    return Read(index, "CLM-S", status, charge * sign, paid, pr, pcn, adjustments)


shares = st.decimals(min_value=0, max_value=1, places=2)


@settings(max_examples=300, deadline=None)
@given(
    charge=st.decimals(min_value=Decimal("0.01"), max_value=500, places=2),
    first=st.tuples(shares, shares),
    second=st.tuples(shares, shares),
    payers=st.integers(min_value=1, max_value=3),
)
def test_payment_reversal_and_correction_end_where_the_correction_alone_would(
    charge: Decimal,
    first: tuple[Decimal, Decimal],
    second: tuple[Decimal, Decimal],
    payers: int,
) -> None:
    """Whatever the first payment and the corrected one, after the reversal the bill is the
    bill the corrected payment alone makes: nothing of the first is left standing."""
    era = Era("AET", "AETNA", "S1", Decimal(0), "ACH", None, "")
    start = bill("CLM-S", total=str(charge), payers=PAYERS[:payers])
    original = _claim_payment(1, "1", charge, _split(charge, *first), "PCN-1")
    paid_first = plan(start, era, original, CONFIG)
    assert paid_first.parked is None, paid_first.parked
    after_first = replay(start, paid_first)
    reversal = _claim_payment(2, "22", charge, _split(charge, *first), "PCN-1")
    undone = plan(after_first, era, reversal, CONFIG, paid_first.postings, 1)
    if any(p.next_payer for p in paid_first.postings):
        assert undone.parked and "Rejection (J)" in undone.parked  # J has no undo: by hand
        return
    assert undone.parked is None, undone.parked
    after_reversal = replay(after_first, undone)
    assert (after_reversal.balance, after_reversal.current_payer) == (start.balance, 1)
    assert all(p.cash_balance == 0 and p.contractual_balance == 0 for p in after_reversal.payers)
    corrected = _claim_payment(3, "1", charge, _split(charge, *second), "PCN-2")
    final = replay(after_reversal, plan(after_reversal, era, corrected, CONFIG))
    alone = replay(start, plan(start, era, corrected, CONFIG))
    assert (final.balance, final.current_payer) == (alone.balance, alone.current_payer)
    assert [(p.cash_balance, p.contractual_balance) for p in final.payers] == [
        (p.cash_balance, p.contractual_balance) for p in alone.payers
    ]
