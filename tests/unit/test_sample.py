"""The sample generator: deterministic, realistic, and broken exactly where it says.

The checks below are this test's own reading of spec/formatter-rules.md, deliberately not
the formatter's code; a later test cross-checks the formatter against the same samples.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import Charge, Posting
from contracts.codec import decode, encode
from devtools.sample import BREAKABLE_RULES, SampleCharge, generate_charges, generate_samples
from devtools.sample.__main__ import main as sample_main
from devtools.sample.jsonl import read_jsonl, write_jsonl
from devtools.sample.postings import BillSummary, SamplePosting, generate_posting_samples

TODAY = dt.date(2026, 3, 2)
MBI = re.compile(
    r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9]"
    r"[AC-HJKMNP-RT-Y]{2}[0-9]{2}$"
)
ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
PROCEDURE = re.compile(r"^([0-9]{5}|[0-9]{4}[FT]|[A-Z][0-9]{4})$")
TIMED = {"97110", "97112", "97116", "97140", "97530", "97535"}
EVALUATIONS = {str(c) for c in range(97161, 97169)}
THERAPY_CODES = TIMED | EVALUATIONS | {"97150", "G0283", "92507", "92526"}
PLACES = {"02", "10", "11", "12", "19", "22", "31", "32", "49"}


@pytest.fixture(scope="module")
def samples() -> list[SampleCharge]:
    return generate_samples(600, seed=11, today=TODAY, bad_share=0.2)


def _npi_ok(npi: str) -> bool:
    if not (len(npi) == 10 and npi.isdigit() and npi[0] in "12"):
        return False
    digits = [int(d) for d in "80840" + npi]
    total = 0
    for i, d in enumerate(reversed(digits)):  # Luhn over the full number, check digit last
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def violations(c: Charge, today: dt.date) -> set[str]:
    """Which formatter rules a charge breaks, read straight from the spec."""
    out: set[str] = set()
    p = c.patient
    if p.birth_date is None or p.sex is None or not p.first_name or not p.last_name:
        out.add("REQUIRED_FIELD")
    if not all(_npi_ok(x.npi) for x in (c.rendering_provider, c.billing_provider)):
        out.add("NPI_CHECK_DIGIT")
    if not re.fullmatch(r"[0-9]{9}", (c.billing_provider.tax_id or "").replace("-", "")):
        out.add("TAX_ID_FORMAT")
    assert c.service_date is not None and c.amount is not None and c.units is not None
    if p.birth_date and (
        p.birth_date > min(c.service_date, today) or (today - p.birth_date).days > 150 * 365
    ):
        out.add("BIRTH_DATE_INVALID")
    for payer in c.payers:
        if payer.payer_type != "patient" and not payer.member_id:
            out.add("MEMBER_ID_MISSING")
        elif payer.payer_type == "medicare" and not MBI.match(payer.member_id or ""):
            out.add("MEDICARE_MBI_FORMAT")
    code = c.procedure_code or ""
    if not PROCEDURE.match(code):
        out.add("PROCEDURE_CODE_FORMAT")
    if len(c.modifiers) > 4 or not all(re.fullmatch(r"[A-Z0-9]{2}", m) for m in c.modifiers):
        out.add("MODIFIER_FORMAT")
    therapy = {"GP", "GO", "GN"} & set(c.modifiers)
    medicare = bool(c.payers) and c.payers[0].payer_type == "medicare"
    if medicare and code in THERAPY_CODES and not therapy:
        out.add("THERAPY_MODIFIER_MISSING")
    if len(therapy) > 1:
        out.add("THERAPY_MODIFIER_CONFLICT")
    if ("CQ" in c.modifiers and "GP" not in c.modifiers) or ("CO" in c.modifiers and "GO" not in c.modifiers):
        out.add("ASSISTANT_MODIFIER_MISMATCH")
    if code in EVALUATIONS and c.units != 1:
        out.add("EVALUATION_UNITS")
    elif c.units < 1 or c.units > (8 if code in TIMED else 1):
        out.add("UNITS_INVALID")
    if not Decimal("0.00") < c.amount <= Decimal("99999.99"):
        out.add("AMOUNT_NOT_POSITIVE")
    if not all(ICD10.match(d) for d in c.diagnoses):
        out.add("ICD10_FORMAT")
    if not 1 <= len(c.diagnoses) <= 12:
        out.add("DIAGNOSIS_COUNT")
    if len(set(c.diagnoses)) != len(c.diagnoses):
        out.add("DIAGNOSIS_DUPLICATE")
    ptrs = c.diagnosis_pointers
    if not 1 <= len(ptrs) <= 4 or not all(1 <= x <= len(c.diagnoses) for x in ptrs):
        out.add("DIAGNOSIS_POINTER_INVALID")
    if c.service_date > today:
        out.add("SERVICE_DATE_IN_FUTURE")
    limit = 365 if medicare else 90
    if c.payers and c.payers[0].payer_type != "patient" and (today - c.service_date).days > limit:
        out.add("TIMELY_FILING_EXCEEDED")
    if c.place_of_service not in PLACES:
        out.add("PLACE_OF_SERVICE_INVALID")
    return out


def test_same_seed_same_data() -> None:
    assert generate_samples(150, 3, TODAY) == generate_samples(150, 3, TODAY)
    assert generate_charges(150, 3, TODAY) != generate_charges(150, 4, TODAY)
    assert [encode(c) for c in generate_charges(40, 3, TODAY)] == [
        encode(c) for c in generate_charges(40, 3, TODAY)
    ]


def test_every_charge_decodes(samples: list[SampleCharge]) -> None:
    # A broken charge is a failure for a biller to fix, never an undecodable message.
    for s in samples:
        assert decode(encode(s.charge), Charge) == s.charge


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 120), share=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_bad_share_is_respected(n: int, share: float, seed: int) -> None:
    samples = generate_samples(n, seed, TODAY, share)
    assert len(samples) == n
    assert sum(not s.is_valid for s in samples) == round(n * share)


def test_rejects_nonsense_arguments() -> None:
    with pytest.raises(ValueError):
        generate_samples(10, 1, TODAY, bad_share=1.5)
    with pytest.raises(ValueError):
        generate_samples(-1, 1, TODAY)


def test_bad_charges_spread_over_every_rule(samples: list[SampleCharge]) -> None:
    codes = Counter(s.expected_failure_code for s in samples if not s.is_valid)
    assert set(codes) == set(BREAKABLE_RULES)
    assert max(codes.values()) - min(codes.values()) <= 4  # round robin, not a pile-up


def test_valid_charges_break_no_rule(samples: list[SampleCharge]) -> None:
    for s in samples:
        if s.is_valid:
            assert violations(s.charge, TODAY) == set(), s.charge.charge_id


def test_each_bad_charge_breaks_its_rule_alone(samples: list[SampleCharge]) -> None:
    for s in samples:
        if not s.is_valid:
            assert violations(s.charge, TODAY) == {s.expected_failure_code}, s.charge.charge_id


def test_charges_look_like_therapy_billing(samples: list[SampleCharge]) -> None:
    valid = [s.charge for s in samples if s.is_valid]
    assert len({c.company_id for c in valid}) >= 3
    assert {"11", "22", "02"} <= {c.place_of_service for c in valid}
    assert {"GP", "GO", "GN"} <= {m for c in valid for m in c.modifiers}
    assert {p.payer_type for c in valid for p in c.payers} >= {"medicare", "commercial", "patient"}
    for c in valid:
        assert c.service_date is not None and c.amount is not None and c.units is not None
        assert 0 <= (TODAY - c.service_date).days < 60
        assert c.amount == c.amount.quantize(Decimal("0.01"))
        assert 1 <= c.units <= 4
        if c.minutes is not None:  # Medicare's 8-minute rule
            assert c.units == (c.minutes + 7) // 15
        kinds = [p.payer_type for p in c.payers]
        assert "patient" not in kinds[:-1], "the patient is only ever the last payer"
        if kinds == ["patient"]:
            assert c.payers[0].member_id is None


def test_visits_group_into_claims_and_never_repeat(samples: list[SampleCharge]) -> None:
    visits: dict[tuple[object, ...], list[Charge]] = defaultdict(list)
    for s in samples:
        if s.is_valid:
            c = s.charge
            key = (c.company_id, c.patient.id, c.service_date, c.billing_provider.npi)
            visits[key].append(c)
    assert sum(len(v) > 1 for v in visits.values()) > len(visits) / 3
    for lines in visits.values():
        assert len({(c.payers[0].payer_id, tuple(c.diagnoses)) for c in lines}) == 1
        lines_key = [(c.procedure_code, tuple(c.modifiers)) for c in lines]
        assert len(set(lines_key)) == len(lines_key), "a duplicate charge would fail"


def test_medicare_patients_stay_under_the_kx_threshold(samples: list[SampleCharge]) -> None:
    billed: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    for s in samples:
        c = s.charge
        if s.is_valid and c.payers[0].payer_type == "medicare" and c.service_date and c.amount:
            billed[(c.company_id, c.patient.id, c.service_date.year)] += c.amount
    assert billed and max(billed.values()) < Decimal("2480.00")


def test_charge_ids_are_unique(samples: list[SampleCharge]) -> None:
    ids = [s.charge.charge_id for s in samples]
    assert len(set(ids)) == len(ids)


def test_jsonl_round_trip(tmp_path: object) -> None:
    charges = generate_charges(25, 5, TODAY)
    buffer = io.BytesIO()
    assert write_jsonl(charges, buffer) == 25
    assert buffer.getvalue().count(b"\n") == 25
    assert list(read_jsonl(io.BytesIO(buffer.getvalue()), Charge)) == charges


def test_command_line_writes_charges(tmp_path: pytest.TempPathFactory) -> None:
    out = tmp_path / "charges.jsonl"  # type: ignore[operator]
    assert sample_main([str(out), "--count", "30", "--seed", "2", "--today", "2026-03-02"]) == 0
    assert list(read_jsonl(out, Charge)) == generate_charges(30, 2, TODAY)


# ---- postings -----------------------------------------------------------------------


BILLS = [
    BillSummary(f"bill-{i:04d}", Decimal(amount), payers, names[:payers])
    for i, (amount, payers) in enumerate(
        [("237.00", 3), ("90.00", 2), ("45.00", 1), ("1.00", 2), ("0.50", 1), ("1320.55", 2)] * 40
    )
    for names in [("Medicare Part B", "AARP Medicare Supplement", "Patient (self-pay)")]
]


@dataclass
class _Bill:
    payer_count: int
    balance: Decimal
    late_fee: Decimal = Decimal("0.00")
    current: int = 1
    rebills: list[int] = field(default_factory=list)
    cash: defaultdict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    contractual: defaultdict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    transactions: Counter[int] = field(default_factory=Counter)
    on_hold: bool = False
    in_collections: bool = False


def _apply(b: _Bill, code: str, a: Decimal, next_payer: int | None) -> bool:
    """One posting under spec/posting-rules.md, for the codes the generator uses."""
    cur = b.current
    if code in ("PC", "PI", "PK"):
        b.balance -= a
        b.cash[cur] += a
        b.transactions[cur] += 1
        return True
    if code == "C":
        if a > b.balance:
            return False
        b.balance -= a
        b.contractual[cur] += a
        b.transactions[cur] += 1
        return True
    if code == "F":
        if a > b.cash[cur]:
            return False
        b.balance += a
        b.cash[cur] -= a
        b.transactions[cur] += 1
        return True
    if code == "RB":
        if b.balance <= 0 or cur >= b.payer_count or not (b.cash[cur] or b.contractual[cur]):
            return False
        b.rebills.append(cur)
        b.current = cur + 1
        return True
    if code == "UR":
        return bool(b.rebills)
    if code == "J":
        if b.transactions[cur] or (next_payer or 1) > b.payer_count:
            return False
        b.current = next_payer or cur
        return True
    if code == "AR":
        if b.late_fee + a < 0:
            return False
        b.late_fee += a
        b.balance += a
        return True
    if code in ("HA", "TH"):
        if b.on_hold == (code == "HA"):
            return False
        b.on_hold = code == "HA"
        return True
    if code == "SL":
        if b.in_collections or b.balance <= 0:
            return False
        b.in_collections = True
        return True
    if code == "WB":
        if a > b.balance:
            return False
        b.balance -= a
        return True
    return False  # KB with a balance, and codes outside every family


def _simulate(postings: list[SamplePosting]) -> dict[str, str]:
    bills = {b.bill_id: _Bill(b.payer_count, b.billed_amount) for b in BILLS}
    outcome: dict[str, str] = {}
    for sample in postings:
        p = sample.posting
        if p.posting_id not in outcome:  # a redelivery answers the first answer
            ok = _apply(bills[p.bill_id], p.code, p.amount or Decimal("0.00"), p.next_payer)
            outcome[p.posting_id] = "applied" if ok else "rejected"
    return outcome


def test_postings_follow_the_posting_rules() -> None:
    samples = generate_posting_samples(BILLS, seed=9)
    simulated = _simulate(samples)
    for s in samples:
        assert simulated[s.posting.posting_id] == s.expected, (s.scenario, s.posting)
    assert {"applied", "rejected"} == {s.expected for s in samples}
    assert any("redelivered" in s.scenario for s in samples)


def test_postings_are_deterministic_ordered_and_decodable() -> None:
    first = generate_posting_samples(BILLS, seed=9)
    assert first == generate_posting_samples(BILLS, seed=9)
    assert first != generate_posting_samples(BILLS, seed=10)
    seen: dict[str, dt.datetime] = {}
    originals = [s for s in first if "redelivered" not in s.scenario]
    assert len({s.posting.posting_id for s in originals}) == len(originals)
    for s in first:
        p = s.posting
        assert decode(encode(p), Posting) == p
        assert p.posted_at >= seen.get(p.bill_id, p.posted_at), "a bill's postings stay in order"
        seen[p.bill_id] = p.posted_at
        if p.amount is not None and p.code != "AR":
            assert p.amount > 0
