"""The posting handlers against SQLite, no broker: what a batch stores and what it answers."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Engine, func, select

from claimflow.db import create_all, make_engine, unit_of_work
from contracts.claim import Claim
from contracts.codec import decode, encode
from contracts.posting import Posting, PostingApplied, PostingRejected
from contracts.topics import CLAIMS, DEAD_LETTER, POSTING_RESULTS, POSTINGS
from tests.unit.posting.builders import make_claim, parse
from workers.common.batch import BatchRunner
from workers.common.messages import Incoming, Outgoing, Received
from workers.posting import storage, tables
from workers.posting.bill import Bill, open_bill
from workers.posting.handler import ClaimsHandler, PostingHandler
from workers.posting.rules import Applied, apply_posting

NOW = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)
POSTED = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC)
_offsets = itertools.count()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'posting.db'}")
    create_all(engine)  # the migration, as the worker runs it
    yield engine
    engine.dispose()


def received(topic: str, key: str, value: bytes) -> Received:
    return Received(topic=topic, partition=0, offset=next(_offsets), key=key.encode(), value=value)


def incoming(message: Claim | Posting) -> Incoming[Claim] | Incoming[Posting]:
    if isinstance(message, Claim):
        return Incoming(message, received(CLAIMS, message.claim_id, encode(message)))
    return Incoming(message, received(POSTINGS, message.bill_id, encode(message)))


def posting(posting_id: str, text: str, bill_id: str = "B1") -> Posting:
    code, amount, next_payer = parse(text)
    return Posting(
        posting_id=posting_id,
        bill_id=bill_id,
        code=code,
        amount=amount,
        next_payer=next_payer,
        posted_at=POSTED,
    )


def open_claims(engine: Engine, *claims: Claim) -> None:
    with unit_of_work(engine) as conn:
        assert ClaimsHandler().handle(conn, [incoming(c) for c in claims]) == []  # type: ignore[misc]


def post(engine: Engine, *postings: Posting) -> list[Outgoing]:
    handler = PostingHandler(prefix="p.", clock=lambda: NOW)
    with unit_of_work(engine) as conn:
        return handler.handle(conn, [incoming(p) for p in postings])  # type: ignore[misc]


def bills(engine: Engine, *ids: str) -> dict[str, Bill]:
    with engine.connect() as conn:
        return storage.load_bills(conn, ids)


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def answers(out: Sequence[Outgoing]) -> list[PostingApplied | PostingRejected]:
    return [
        cast(PostingApplied | PostingRejected, decode(o.value, PostingApplied, PostingRejected)) for o in out
    ]


def test_a_claim_opens_its_bill_once(engine: Engine) -> None:
    claim = make_claim("B1")
    open_claims(engine, claim, claim)
    open_claims(engine, claim)
    assert bills(engine, "B1") == {"B1": open_bill(claim)}
    assert count(engine, tables.bills) == 1


def test_a_replacement_claim_clears_rejected(engine: Engine) -> None:
    open_claims(engine, make_claim("B1"))
    post(engine, posting("PO-1", "J >2"))
    assert bills(engine, "B1")["B1"].rejected
    open_claims(engine, make_claim("B1", claim_id="CL-B1-R", frequency="replacement"))
    bill = bills(engine, "B1")["B1"]
    assert not bill.rejected and bill.current_payer == 2


def test_postings_for_one_bill_apply_in_order_within_a_batch(engine: Engine) -> None:
    open_claims(engine, make_claim("B1"), make_claim("B2", total="60.00"))
    batch = [
        posting("PO-1", "PI 50"),
        posting("PO-2", "PK 10", "B2"),
        posting("PO-3", "C 20"),
        posting("PO-4", "RB"),
        posting("PO-5", "PK 30"),
        posting("PO-6", "FR 40"),
    ]
    out = post(engine, *batch)
    assert [(o.topic, o.key) for o in out] == [("p." + POSTING_RESULTS, p.bill_id.encode()) for p in batch]
    got = answers(out)
    assert [a.posting_id for a in got] == [p.posting_id for p in batch]
    # FR 40 needs cash on the current payer (Aetna after the rebill), which holds 30.
    assert [type(a).__name__ for a in got] == ["PostingApplied"] * 5 + ["PostingRejected"]
    assert isinstance(got[5], PostingRejected) and got[5].reason_code == "REFUND_EXCEEDS_CASH"

    expected = {"B1": open_bill(make_claim("B1")), "B2": open_bill(make_claim("B2", total="60.00"))}
    for p in batch:
        outcome = apply_posting(expected[p.bill_id], p)
        if isinstance(outcome, Applied):
            expected[p.bill_id] = outcome.bill
    assert bills(engine, "B1", "B2") == expected
    assert expected["B1"].balance == Decimal("0.00") and expected["B1"].current_payer == 2
    last = got[4]
    assert isinstance(last, PostingApplied) and last.bill.balance == Decimal("0.00")
    with engine.connect() as conn:
        ledger = storage.load_ledger(conn)
        stored = storage.find_answers(conn, [p.posting_id for p in batch])
    assert [(line.posting_id, line.code) for line in ledger] == [
        ("PO-1", "PI"),
        ("PO-2", "PK"),
        ("PO-3", "C"),
        ("PO-4", "RB"),
        ("PO-5", "PK"),
    ]
    assert stored == {p.posting_id: o.value for p, o in zip(batch, out, strict=True)}


def test_a_duplicate_changes_nothing_and_gets_the_first_answer(engine: Engine) -> None:
    open_claims(engine, make_claim("B1"))
    first = post(engine, posting("PO-1", "PK 40"), posting("PO-1", "PK 40"), posting("PO-2", "F 99"))
    assert first[0].value == first[1].value
    state = bills(engine, "B1")
    later = post(engine, posting("PO-2", "F 99"), posting("PO-1", "PK 40"))
    assert [o.value for o in later] == [first[2].value, first[0].value]
    assert bills(engine, "B1") == state
    assert state["B1"].balance == Decimal("60.00")
    assert count(engine, tables.ledger) == 1
    assert count(engine, tables.posting_answers) == 2


def test_a_duplicate_id_is_answered_the_same_even_with_other_content(engine: Engine) -> None:
    open_claims(engine, make_claim("B1"))
    first = post(engine, posting("PO-1", "PK 40"))
    again = post(engine, posting("PO-1", "PK 45"))
    assert again[0].value == first[0].value
    assert bills(engine, "B1")["B1"].balance == Decimal("60.00")


def test_a_posting_before_its_bill_is_rejected_and_stays_answered(engine: Engine) -> None:
    out = post(engine, posting("PO-1", "PK 40", "B9"))
    (rejected,) = answers(out)
    assert isinstance(rejected, PostingRejected)
    assert rejected.reason_code == "BILL_NOT_FOUND" and "B9" in rejected.reason
    assert out[0].key == b"B9"
    open_claims(engine, make_claim("B9"))
    # The same posting_id keeps its first answer; a new posting applies.
    assert post(engine, posting("PO-1", "PK 40", "B9"))[0].value == out[0].value
    (applied,) = answers(post(engine, posting("PO-2", "PK 40", "B9")))
    assert isinstance(applied, PostingApplied) and applied.bill.balance == Decimal("60.00")


def test_rejections_carry_reason_and_change_nothing(engine: Engine) -> None:
    open_claims(engine, make_claim("B1"))
    got = answers(post(engine, posting("PO-1", "ZZ 10"), posting("PO-2", "C 500"), posting("PO-3", "RB")))
    assert all(isinstance(a, PostingRejected) and a.reason for a in got)
    assert [a.reason_code for a in got if isinstance(a, PostingRejected)] == [
        "UNKNOWN_CODE",
        "CONTRACTUAL_EXCEEDS_BALANCE",
        "NO_PAYMENT_ON_CURRENT",
    ]
    assert bills(engine, "B1")["B1"] == open_bill(make_claim("B1"))
    assert count(engine, tables.ledger) == 0


def test_nothing_is_kept_when_the_batch_fails(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    open_claims(engine, make_claim("B1"))

    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(storage, "record_answers", broken)
    with pytest.raises(RuntimeError):
        post(engine, posting("PO-1", "PK 40"))
    assert bills(engine, "B1")["B1"].balance == Decimal("100.00")
    assert count(engine, tables.ledger) == 0


async def test_the_batch_loop_answers_postings_and_dead_letters_garbage(engine: Engine) -> None:
    published: list[Outgoing] = []

    async def publish(out: Sequence[Outgoing]) -> None:
        published.extend(out)

    claims = BatchRunner(ClaimsHandler(), engine, publish, topic_prefix="p.")
    postings = BatchRunner(PostingHandler(prefix="p.", clock=lambda: NOW), engine, publish, topic_prefix="p.")
    claim = make_claim("B1")
    await claims.process([received(CLAIMS, claim.claim_id, encode(claim))])
    assert published == []
    good = posting("PO-1", "PK 40")
    await postings.process(
        [
            received(POSTINGS, "B1", b"not json"),
            received(POSTINGS, "B1", encode(good)),
            received(POSTINGS, "B1", b'{"type":"Posting","schema_version":1,"posting_id":"X"}'),
        ]
    )
    assert [o.topic for o in published] == ["p." + POSTING_RESULTS, "p." + DEAD_LETTER, "p." + DEAD_LETTER]
    (applied,) = answers(published[:1])
    assert isinstance(applied, PostingApplied) and applied.bill.balance == Decimal("60.00")
    assert postings.stats.dead_lettered == 2
