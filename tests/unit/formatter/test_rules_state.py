"""State: DUPLICATE_CHARGE, BILL_REJECTED and the product's ALREADY_BILLED."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.charge import Charge
from tests.unit.formatter.checking import assert_rule
from tests.unit.formatter.strategies import base_charge, changed, context
from workers.formatter.rules import BillState, History, RuleContext, claim_key


def claimed_by(charge_id: str, **changes: Any) -> History:
    key = claim_key(changed(base_charge(), changes) if changes else base_charge())
    assert key is not None
    return History(claimed_keys={key: charge_id})


@pytest.mark.parametrize(
    ("charge", "history", "fails"),
    [
        pytest.param(base_charge(), History(), False, id="nothing-claimed"),
        pytest.param(base_charge(), claimed_by("CH-1"), False, id="same-charge-id"),
        pytest.param(base_charge(), claimed_by("CH-9"), True, id="another-charge"),
        pytest.param(
            changed(base_charge(), {"modifiers": ["GP", "59"]}),
            claimed_by("CH-9"),
            False,
            id="other-modifiers",
        ),
        pytest.param(
            changed(base_charge(), {"modifiers": ["59", "GP"]}),
            claimed_by("CH-9", modifiers=["GP", "59"]),
            True,
            id="modifier-order-ignored",
        ),
        pytest.param(
            changed(base_charge(), {"patient.id": "PAT-2"}), claimed_by("CH-9"), False, id="other-patient"
        ),
        pytest.param(
            changed(base_charge(), {"procedure_code": "97140"}), claimed_by("CH-9"), False, id="other-code"
        ),
    ],
)
def test_duplicate_charge(charge: Charge, history: History, fails: bool) -> None:
    found = assert_rule("DUPLICATE_CHARGE", charge, context(history=history), fails)
    for result in found:
        assert "CH-9" in result.message


def bill_ctx(rejected: bool, sent: dict[str, int], via_history: bool = False) -> RuleContext:
    return context(
        history=History(
            bills={"B-1": BillState(rejected=rejected, sent_versions=sent)},
            charge_bills={"CH-1": "B-1"} if via_history else {},
        )
    )


def on_bill(version: int, named: bool = True) -> Charge:
    return changed(base_charge(), {"version": version, "bill_id": "B-1" if named else None})


@pytest.mark.parametrize(
    ("charge", "ctx", "fails"),
    [
        pytest.param(on_bill(1), context(), False, id="bill-unknown"),
        pytest.param(on_bill(2), bill_ctx(False, {}), False, id="not-rejected-new-charge"),
        pytest.param(on_bill(2), bill_ctx(True, {"CH-1": 1}), False, id="correction-passes"),
        pytest.param(
            on_bill(2, named=False),
            bill_ctx(True, {"CH-1": 1}, via_history=True),
            False,
            id="correction-found-via-history",
        ),
        pytest.param(on_bill(1), bill_ctx(True, {"CH-1": 1}), True, id="same-version-again"),
        pytest.param(on_bill(1), bill_ctx(True, {"CH-1": 3}), True, id="older-version"),
        pytest.param(on_bill(1), bill_ctx(True, {"CH-7": 1}), True, id="not-on-the-bill"),
        pytest.param(
            on_bill(1, named=False),
            bill_ctx(True, {"CH-1": 1}, via_history=True),
            True,
            id="resent-unchanged-via-history",
        ),
    ],
)
def test_bill_rejected(charge: Charge, ctx: RuleContext, fails: bool) -> None:
    found = assert_rule("BILL_REJECTED", charge, ctx, fails)
    for result in found:
        assert result.message.startswith("bill B-1 is in Rejected status (a Rejection was posted); ")
    assert_rule("ALREADY_BILLED", charge, ctx, False)


def test_bill_rejected_message_for_a_charge_on_the_bill() -> None:
    (found,) = assert_rule("BILL_REJECTED", on_bill(1), bill_ctx(True, {"CH-1": 1}), True)
    assert found.message == (
        "bill B-1 is in Rejected status (a Rejection was posted); correct the charge and "
        "reprocess it to resend the bill"
    )


@pytest.mark.parametrize(
    ("charge", "ctx", "fails"),
    [
        pytest.param(on_bill(2), bill_ctx(False, {"CH-7": 1}), False, id="another-charge-on-bill"),
        pytest.param(on_bill(2), bill_ctx(False, {"CH-1": 1}), True, id="correction-without-J"),
        pytest.param(on_bill(1), bill_ctx(False, {"CH-1": 1}), True, id="same-version"),
        pytest.param(
            on_bill(2, named=False),
            bill_ctx(False, {"CH-1": 1}, via_history=True),
            True,
            id="found-via-history",
        ),
        pytest.param(on_bill(2), bill_ctx(True, {"CH-1": 1}), False, id="rejected-is-the-other-rule"),
    ],
)
def test_already_billed(charge: Charge, ctx: RuleContext, fails: bool) -> None:
    found = assert_rule("ALREADY_BILLED", charge, ctx, fails)
    for result in found:
        assert result.message == (
            "charge already went out on bill B-1; post a Rejection (J) on the bill before "
            "sending a correction"
        )
