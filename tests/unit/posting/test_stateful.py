"""Arbitrary sequences of every code keep the spec's invariant, and a refusal changes nothing."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.unit.posting.builders import PAYERS, make_claim
from workers.posting.bill import Bill, open_bill
from workers.posting.codes import REGISTRY, Amount, rule_for
from workers.posting.rules import Applied, Rejected, apply

FIXED = sorted(k for k, r in REGISTRY.items() if not r.family)
OTHERS = ["P", "PC", "PK", "PI", "C", "CX", "F", "FR", "J", "JX", "ZZ", "A", "U1"]
codes = st.one_of(st.sampled_from(FIXED), st.sampled_from(OTHERS))

money = st.one_of(
    st.decimals(min_value=-300, max_value=300, places=2),
    st.decimals(min_value=Decimal("0.01"), max_value=30, places=2),
)


def relevant_amounts(bill: Bill) -> list[Decimal]:
    """Amounts that hit the edges: exactly what stands on the bill, each way round."""
    amounts = [bill.balance, bill.late_fee_balance, bill.bad_debt, -bill.balance]
    amounts.append(-bill.late_fee_balance)
    for payer in bill.payers:
        amounts += [payer.cash_balance, payer.contractual_balance, *payer.refunds]
    return amounts


class PostingMachine(RuleBasedStateMachine):
    bill: Bill

    @initialize(
        payers=st.integers(min_value=1, max_value=3),
        total=st.decimals(min_value=0, max_value=500, places=2),
    )
    def open(self, payers: int, total: Decimal) -> None:
        self.bill = open_bill(make_claim(payers=PAYERS[:payers], total=str(total)))

    @rule(data=st.data(), code=codes, fitting=st.booleans())
    def post(self, data: st.DataObject, code: str, fitting: bool) -> None:
        # Half the postings fit their code's amount shape, so they reach the code's own
        # checks instead of stopping at the shared ones; the other half are anything.
        rule_ = rule_for(code)
        edges = st.sampled_from(relevant_amounts(self.bill))
        anything = st.one_of(st.none(), st.just(Decimal("0.00")), money, edges)
        if not fitting or rule_ is None:
            amounts, next_payers = anything, st.one_of(st.none(), st.integers(1, 4))
        else:
            amounts = {
                Amount.NONE: st.none(),
                Amount.POSITIVE: st.one_of(edges, money).filter(lambda a: a > 0),
                Amount.NONZERO: st.one_of(edges, money).filter(lambda a: a != 0),
            }[rule_.amount]
            next_payers = st.one_of(st.none(), st.integers(1, 4)) if rule_.takes_next_payer else st.none()
        amount = data.draw(amounts, label="amount")
        next_payer = data.draw(next_payers, label="next_payer")
        self.check_post(code, amount, next_payer)

    @rule(share=st.decimals(min_value=Decimal("0.01"), max_value=1, places=2))
    def pay_part_then_rebill(self, share: Decimal) -> None:
        # RB, UR and UF need a bill in just the right state; walk it there now and then.
        self.check_post("P", (self.bill.balance * share).quantize(Decimal("0.01")), None)
        self.check_post("RB", None, None)

    @rule()
    def undo_rebill(self) -> None:
        self.check_post("UR", None, None)

    @rule(share=st.decimals(min_value=Decimal("0.01"), max_value=1, places=2))
    def refund_part_then_undo(self, share: Decimal) -> None:
        payer = self.bill.current
        cash = payer.cash_balance if payer else Decimal(0)
        amount = (cash * share).quantize(Decimal("0.01"))
        self.check_post("FR", amount, None)
        self.check_post("UF", amount, None)

    @rule(paid=st.decimals(min_value=Decimal("0.01"), max_value=100, places=2))
    def write_off_then_adjust(self, paid: Decimal) -> None:
        self.check_post("WB", self.bill.balance if self.bill.balance > 0 else None, None)
        self.check_post("PK", paid, None)
        self.check_post("AB", min(-self.bill.balance, self.bill.bad_debt), None)

    def check_post(self, code: str, amount: Decimal | None, next_payer: int | None) -> None:
        rule_ = rule_for(code)
        before = self.bill
        outcome = apply(before, code, amount, next_payer)
        assert self.bill is before and before == self.bill
        if isinstance(outcome, Rejected):
            assert outcome.reason_code != "INVARIANT_VIOLATION", outcome.reason
            assert outcome.reason
            event(f"rejected {outcome.reason_code}")
            return
        assert isinstance(outcome, Applied)
        event(f"applied {rule_.code if rule_ else code}")
        assert not before.killed or code == "UK"
        assert outcome.line.balance_after == outcome.bill.balance
        self.bill = outcome.bill

    @invariant()
    def balances_add_up(self) -> None:
        bill = self.bill
        cash = sum((p.cash_balance for p in bill.payers), Decimal(0))
        contractual = sum((p.contractual_balance for p in bill.payers), Decimal(0))
        assert bill.balance == bill.billed_amount - cash - contractual - bill.bad_debt
        assert bill.late_fee_balance >= 0
        assert bill.bad_debt >= 0
        assert all(p.cash_balance >= 0 and p.contractual_balance >= 0 for p in bill.payers)
        assert all(r > 0 for p in bill.payers for r in p.refunds)
        assert 1 <= bill.current_payer <= len(bill.payers)
        assert bill.balance == bill.balance.quantize(Decimal("0.01"))

    @invariant()
    def payer_can_always_move(self) -> None:
        # The amended J row: RB and J are exact complements, so a bill with a balance and a
        # next payer is never trapped on its current payer (e.g. after P; AP, a reversal).
        bill = self.bill
        following = bill.current_payer + 1
        if bill.killed or bill.balance <= 0 or bill.payer(following) is None:
            return
        by_rebill = apply(bill, "RB", None, None)
        by_rejection = apply(bill, "J", None, following)
        assert isinstance(by_rebill, Applied) != isinstance(by_rejection, Applied), (by_rebill, by_rejection)
        moved = by_rebill if isinstance(by_rebill, Applied) else by_rejection
        assert isinstance(moved, Applied)
        assert moved.bill.current_payer == following


PostingMachine.TestCase.settings = settings(max_examples=400, stateful_step_count=40, deadline=None)
TestPostingRules = PostingMachine.TestCase
