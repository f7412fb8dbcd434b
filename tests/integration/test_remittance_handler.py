"""The remittance handler against a real database, no broker: claims open bills (the posting
worker's handler), ERAs become postings, the posting handler applies them; every bill ends
where a hand calculation from the 835 says, and equals a replay of its postings."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from claimflow.db import create_all, make_engine, unit_of_work
from contracts.codec import decode, encode
from contracts.posting import Posting
from contracts.remittance import RemittanceFile, RemittanceRetry
from contracts.topics import CLAIMS, DEAD_LETTER, POSTINGS, REMITTANCES
from devtools.sample.era835 import build
from tests.unit.posting.builders import make_claim
from tests.unit.remittance.builders import PAYERS
from tests.x12 import samples
from workers.common.messages import Incoming, Outgoing, Received
from workers.posting import storage as posting_storage
from workers.posting.bill import Bill, open_bill
from workers.posting.handler import ClaimsHandler, PostingHandler
from workers.posting.rules import Applied, apply_posting
from workers.remittance import views
from workers.remittance.handler import ClaimsWatch, RemittanceHandler

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
_offsets = itertools.count()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    create_all(engine)
    yield engine
    engine.dispose()


class Pipeline:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.remittances = RemittanceHandler(clock=lambda: NOW)
        self.watch = ClaimsWatch(self.remittances)
        self.postings = PostingHandler(clock=lambda: NOW)
        self.claims = ClaimsHandler(clock=lambda: NOW)
        self.dead: list[Outgoing] = []
        self.published: list[Posting] = []

    def open(self, *claim_ids: str) -> None:
        claims = [make_claim(c, claim_id=c, payers=PAYERS) for c in claim_ids]
        items = [Incoming(c, _received(CLAIMS, encode(c))) for c in claims]
        self._run(self.claims, items)
        self._post(self._run(self.watch, items))

    def era(self, text: str, *, offset: int | None = None) -> list[Outgoing]:
        message = RemittanceFile(x12=text, file_name="t.835", submitted_at=NOW)
        source = _received(REMITTANCES, encode(message), offset)
        out = self._run(self.remittances, [Incoming(message, source)])
        self.dead += [o for o in out if o.topic == DEAD_LETTER]
        self._post(out)
        return out

    def retry(self) -> None:
        message = RemittanceRetry(requested_at=NOW)
        self._post(self._run(self.remittances, [Incoming(message, _received(REMITTANCES, encode(message)))]))

    def _post(self, out: Sequence[Outgoing]) -> None:
        postings = [decode(o.value, Posting) for o in out if o.topic == POSTINGS]
        self.published += postings
        if postings:
            self._run(self.postings, [Incoming(p, _received(POSTINGS, encode(p))) for p in postings])

    def _run(self, handler: Any, items: list[Any]) -> list[Outgoing]:
        with unit_of_work(self.engine) as conn:
            out: list[Outgoing] = handler.handle(conn, items)
        return out

    def bill(self, bill_id: str) -> Bill:
        with self.engine.connect() as conn:
            return posting_storage.load_bills(conn, [bill_id])[bill_id]


def _received(topic: str, value: bytes, offset: int | None = None) -> Received:
    return Received(
        topic=topic, partition=0, offset=next(_offsets) if offset is None else offset, key=None, value=value
    )


def replayed(pipeline: Pipeline, bill_id: str) -> Bill:
    """The bill from its claim and its ledger's postings, through the pure rules alone."""
    bill = open_bill(make_claim(bill_id, claim_id=bill_id, payers=PAYERS))
    with pipeline.engine.connect() as conn:
        lines = posting_storage.load_ledger(conn, [bill_id])
    by_id = {p.posting_id: p for p in pipeline.published}
    for line in lines:
        outcome = apply_posting(bill, by_id[line.posting_id])
        assert isinstance(outcome, Applied)
        bill = outcome.bill
    return bill


def test_several_claims_end_at_the_hand_calculated_balances(engine: Engine) -> None:
    p = Pipeline(engine)
    p.open("CLM-A", "CLM-B", "CLM-C")
    p.era(build(samples.SEVERAL))
    a, b, c = p.bill("CLM-A"), p.bill("CLM-B"), p.bill("CLM-C")
    # A: paid in full. B: 100 - 60 paid - 25 CO-45 = 15 PR, rebilled to payer 2.
    # C: 100 all deductible: J moves it to payer 2 with the whole balance.
    assert (a.balance, a.current_payer) == (Decimal("0.00"), 1)
    assert (b.balance, b.current_payer, b.payers[0].cash_balance, b.payers[0].contractual_balance) == (
        Decimal("15.00"),
        2,
        Decimal("60.00"),
        Decimal("25.00"),
    )
    assert (c.balance, c.current_payer, c.rejected) == (Decimal("100.00"), 2, True)
    for bill_id in ("CLM-A", "CLM-B", "CLM-C"):
        assert p.bill(bill_id) == replayed(p, bill_id)
    with engine.connect() as conn:
        notes = [line.note for line in posting_storage.load_ledger(conn, ["CLM-B"])]
    assert any(n.startswith("CO-45: Charge exceeds fee schedule") for n in notes)


def test_the_same_file_twice_changes_nothing_and_says_so(engine: Engine) -> None:
    p = Pipeline(engine)
    p.open("CLM-A", "CLM-B", "CLM-C")
    first = p.era(build(samples.SEVERAL))
    before = [p.bill(b) for b in ("CLM-A", "CLM-B", "CLM-C")]
    again = p.era(build(samples.SEVERAL))
    assert [o.value for o in again] == [o.value for o in first]  # the same postings, same ids
    assert [p.bill(b) for b in ("CLM-A", "CLM-B", "CLM-C")] == before
    with engine.connect() as conn:
        (era,) = views.era_totals(conn)
        assert len(posting_storage.load_ledger(conn, ["CLM-B"])) == 3
    assert era.times_received == 2
    assert (era.deposit, era.posted, era.parked) == (Decimal("160.00"), Decimal("160.00"), Decimal("0.00"))
    assert era.postings == {"applied": 5}


def test_a_replay_of_the_same_message_is_not_counted_as_a_second_import(engine: Engine) -> None:
    p = Pipeline(engine)
    p.open("CLM-A")
    text = build(samples.SEVERAL)
    p.era(text, offset=10_000)
    p.era(text, offset=10_000)
    with engine.connect() as conn:
        assert views.era_totals(conn)[0].times_received == 1


def test_denial_rejects_the_bill_with_reasons(engine: Engine) -> None:
    p = Pipeline(engine)
    p.open("CLM-D")
    p.era(build(samples.DENIAL))
    bill = p.bill("CLM-D")
    assert bill.rejected and bill.balance == Decimal("100.00")
    with engine.connect() as conn:
        (line,) = posting_storage.load_ledger(conn, ["CLM-D"])
    assert line.code == "J" and "CO-50" in line.note and "N115" in line.note


def test_reversal_and_correction(engine: Engine) -> None:
    p = Pipeline(engine)
    p.open("CLM-E")
    p.era(build(samples.FIRST_PAYMENT))
    assert (p.bill("CLM-E").balance, p.bill("CLM-E").current_payer) == (Decimal("10.00"), 2)
    p.era(build(samples.REVERSAL))
    bill = p.bill("CLM-E")
    # Reversed: UR, AP 70, AC 20; corrected: PI 80, C 10, RB. 100 - 80 - 10 = 10 on payer 2.
    assert (bill.balance, bill.current_payer) == (Decimal("10.00"), 2)
    assert (bill.payers[0].cash_balance, bill.payers[0].contractual_balance) == (
        Decimal("80.00"),
        Decimal("10.00"),
    )
    assert p.bill("CLM-E") == replayed(p, "CLM-E")


def test_provider_adjustments_are_recorded_beside_the_totals(engine: Engine) -> None:
    p = Pipeline(engine)
    p.open("CLM-F")
    p.era(build(samples.PROVIDER_ADJUSTMENTS))
    with engine.connect() as conn:
        (era,) = views.era_totals(conn)
    assert era.balanced and era.deposit == Decimal("52.50")
    assert [(a["reason"], a["amount"]) for a in era.provider_adjustment_lines] == [
        ("L6", Decimal("-2.50")),
        ("WO", Decimal("30.00")),
    ]
    assert era.provider_adjustment_lines[0]["description"] == "L6: Interest owed"


def test_unmatched_claim_is_parked_then_posted_when_its_bill_opens(engine: Engine) -> None:
    p = Pipeline(engine)
    p.era(build(samples.UNMATCHED))
    with engine.connect() as conn:
        (parked,) = views.parked_claims(conn)
    assert parked.claim_id == "CLM-NOPE" and "no bill for claim CLM-NOPE" in parked.reason
    p.open("CLM-NOPE")
    with engine.connect() as conn:
        assert views.parked_claims(conn) == []
        (era,) = views.era_totals(conn)
    assert era.posted == Decimal("80.00")
    assert p.bill("CLM-NOPE").balance == Decimal("0.00")


def test_secondary_era_with_oa23_after_the_primary(engine: Engine) -> None:
    p = Pipeline(engine)
    p.open("CLM-B")
    p.era(build(samples.SEVERAL))  # parks A and C (no bills), posts B
    p.era(build(samples.SECONDARY))
    bill = p.bill("CLM-B")
    assert (bill.balance, bill.current_payer) == (Decimal("3.00"), 3)
    assert bill.payers[1].cash_balance == Decimal("12.00") and bill.payers[1].contractual_balance == 0


def test_secondary_era_before_the_payer_moved_is_parked_then_retried(engine: Engine) -> None:
    p = Pipeline(engine)
    p.open("CLM-B")
    p.era(build(samples.SECONDARY))
    with engine.connect() as conn:
        (parked,) = views.parked_claims(conn)
    assert "the current payer is 1 (Aetna)" in parked.reason
    p.era(build(samples.SEVERAL))
    p.retry()
    assert p.bill("CLM-B").current_payer == 3


def test_malformed_835_is_dead_lettered_with_its_reason(engine: Engine) -> None:
    p = Pipeline(engine)
    out = p.era(build(samples.DENIAL).replace("CLP*CLM-D*4", "CLP*CLM-D*99"))
    (dead,) = out
    assert dead.topic == DEAD_LETTER
    headers = dict(dead.headers)
    assert headers["x-error_kind"] == b"invalid"
    assert b"Claim Status Code" in headers["x-error"]


def test_cli_lists_eras_and_unmatched_and_resolves_by_hand(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from claimflow.settings import Settings
    from workers.remittance import cli

    p = Pipeline(engine)
    p.era(build(samples.UNMATCHED))
    p.era(build(samples.PROVIDER_ADJUSTMENTS))
    monkeypatch.setattr(cli, "get_settings", lambda: Settings().model_copy(update={"database_url": db_url}))
    runner = CliRunner()
    eras = runner.invoke(cli.remittance_app, ["eras", "--json"])
    assert eras.exit_code == 0, eras.output
    assert {e["trace"] for e in json.loads(eras.output)} == {"EFT0006", "EFT0005"}
    table = runner.invoke(cli.remittance_app, ["eras"])
    assert "L6: Interest owed (INT2026): -2.50" in table.output
    unmatched = json.loads(runner.invoke(cli.remittance_app, ["unmatched", "--json"]).output)
    assert [u["claim_id"] for u in unmatched] == ["CLM-NOPE", "CLM-F"]
    resolved = runner.invoke(
        cli.remittance_app, ["resolve", str(unmatched[0]["id"]), "--note", "posted by hand"]
    )
    assert resolved.exit_code == 0, resolved.output
    again = runner.invoke(cli.remittance_app, ["resolve", str(unmatched[0]["id"]), "--note", "twice"])
    assert again.exit_code == 2
    left = json.loads(runner.invoke(cli.remittance_app, ["unmatched", "--json"]).output)
    assert [u["claim_id"] for u in left] == ["CLM-F"]
    with engine.connect() as conn:
        (era,) = [e for e in views.era_totals(conn) if e.trace == "EFT0006"]
    assert era.other == Decimal("80.00") and era.outcomes == {"resolved": 1}
