"""The clearinghouse batch step on a real database: files, rows, control numbers, redelivery."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from claimflow.db import create_all, make_engine, unit_of_work
from contracts import Claim
from contracts.codec import decode, encode
from contracts.posting import Posting
from tests.unit.clearinghouse.claims import CREATED, SELF_PAY, claim, dependent_replacement
from tests.unit.clearinghouse.validator import validate
from workers.clearinghouse.handler import ClaimsHandler
from workers.clearinghouse.routing import load_routing
from workers.clearinghouse.tables import x12_claims, x12_counters, x12_interchanges
from workers.common.messages import Incoming, Received

ROUTING = load_routing()


def incoming(claims: list[Claim]) -> list[Incoming[Claim]]:
    return [
        Incoming(c, Received("billing.claims", 0, n, c.claim_id.encode(), encode(c)))
        for n, c in enumerate(claims)
    ]


def run(engine: Engine, handler: ClaimsHandler, claims: list[Claim]) -> None:
    with unit_of_work(engine) as conn:
        assert handler.handle(conn, incoming(claims)) == []


def test_a_batch_becomes_one_interchange_per_receiver_and_each_claim_one_row(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    create_all(engine)
    outbox = tmp_path / "outbox"
    handler = ClaimsHandler(ROUTING, outbox, clock=lambda: CREATED)
    medicare = claim()  # routed to the Medicare contractor
    commercial = dependent_replacement()  # the default clearinghouse
    self_pay = claim(claim_id="CLM-7-3", bill_id="CLM-7-3", payers=[SELF_PAY])
    run(engine, handler, [medicare, commercial, self_pay, medicare])

    files = sorted(p.name for p in outbox.iterdir())
    assert files == ["837P_SAMPLECH_000000001.x12", "837P_SAMPLEMAC_000000002.x12"]
    for name in files:
        verdict = validate((outbox / name).read_text())
        assert verdict.errors == [] and set(verdict.ack_codes) == {"A"}
    with engine.connect() as conn:
        rows = {r.claim_id: r for r in conn.execute(select(x12_claims))}
        assert {k: r.status for k, r in rows.items()} == {
            "CLM-7-1": "sent",
            "CLM-7-2": "sent",
            "CLM-7-3": "not_sent",
        }
        assert "self-pay" in rows["CLM-7-3"].status_detail
        assert conn.execute(select(x12_interchanges)).all().__len__() == 2

    # Redelivered: nothing new. A later batch: the next control numbers.
    run(engine, handler, [medicare, commercial, self_pay])
    assert len(list(outbox.iterdir())) == 2
    run(engine, handler, [claim(claim_id="CLM-8-1", bill_id="CLM-8-1")])
    assert "837P_SAMPLEMAC_000000003.x12" in {p.name for p in outbox.iterdir()}
    with engine.connect() as conn:
        counters = conn.execute(select(x12_counters)).one()
        assert (counters.interchange, counters.grp, counters.txn) == (3, 3, 3)
    assert not [p for p in outbox.iterdir() if p.name.startswith(".")]


def test_a_claim_lacking_what_an_837p_needs_is_rejected_to_its_bill(db_url: str, tmp_path: Path) -> None:
    """A claim of the shape made before the 837P fields: never sent, a Rejection posting instead."""
    engine = make_engine(db_url)
    create_all(engine)
    handler = ClaimsHandler(ROUTING, tmp_path / "outbox", prefix="t.", clock=lambda: CREATED)
    old = claim(
        claim_id="CLM-2-1",
        bill_id="CLM-2-1",
        billing_provider={"npi": "1245319599", "name": "Acme", "tax_id": "123456789"},
        payers=[
            {
                "payer_id": "medicare-b",
                "name": "Medicare",
                "payer_type": "medicare",
                "member_id": "1EG4TE5MK73",
            }
        ],
    )
    with unit_of_work(engine) as conn:
        out = handler.handle(conn, incoming([old]))
    [answer] = out
    assert answer.topic == "t.billing.postings" and answer.key == b"CLM-2-1"
    posting = decode(answer.value, Posting)
    assert posting.code == "JX12" and "billing_provider.address" in posting.note
    assert "payers[0].electronic_id" in posting.note
    assert not (tmp_path / "outbox").exists()
    with engine.connect() as conn:
        assert conn.scalar(select(x12_claims.c.status)) == "rejected"
    with unit_of_work(engine) as conn:  # redelivered: the same answer again, nothing new stored
        [again] = handler.handle(conn, incoming([old]))
    assert decode(again.value, Posting).posting_id == posting.posting_id
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(x12_claims)) == 1
