"""999s and 277CAs for our own interchanges (valid per pyx12's maps), imported: statuses and
Rejection postings, once per file; a rejected bill's replacement quotes the payer's number."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from claimflow.db import create_all, make_engine, unit_of_work
from contracts import Claim
from tests.unit.clearinghouse.claims import CREATED, claim, dependent_replacement
from tests.unit.clearinghouse.validator import validate
from workers.clearinghouse.acks import REJECTION_CODE, import_ack
from workers.clearinghouse.handler import send_claims
from workers.clearinghouse.routing import load_routing
from workers.clearinghouse.tables import x12_claims, x12_interchanges
from workers.clearinghouse.x12_ack_files import ClaimAnswer, ElementError, ack_277ca, ack_999
from workers.clearinghouse.x12_acks import AckError, parse
from workers.posting.bill import open_bill
from workers.posting.rules import Applied, apply_posting

ROUTING = load_routing()


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    create_all(engine)
    return engine


def send(engine: Engine, claims: list[Claim], outbox: Path) -> list[Path]:
    with unit_of_work(engine) as conn:
        return send_claims(conn, claims, ROUTING, outbox, CREATED)


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.claim_id: r.status for r in conn.execute(select(x12_claims))}


def commercial(n: int) -> Claim:
    base = dependent_replacement()
    return base.model_copy(
        update={"claim_id": f"CLM-5-{n}", "bill_id": f"CLM-5-{n}", "frequency": "original"}
    )


def test_a_999_accepts_some_claims_and_rejects_one_as_a_rejection_posting(
    engine: Engine, tmp_path: Path
) -> None:
    [path] = send(engine, [commercial(1), commercial(2), commercial(3)], tmp_path)
    error = ElementError("NM1", 12, 9, "7")
    text = ack_999(path.read_text(), 501, CREATED, rejected={"0002": error})
    assert validate(text).errors == []

    with unit_of_work(engine) as conn:
        result = import_ack(conn, parse(text), CREATED)
    assert (result.accepted, result.rejected) == (["CLM-5-1", "CLM-5-3"], ["CLM-5-2"])
    [posting] = result.postings
    assert (posting.bill_id, posting.code) == ("CLM-5-2", REJECTION_CODE)
    assert "segment NM1 at position 12, element 9: invalid code value" in posting.note
    assert statuses(engine) == {"CLM-5-1": "accepted", "CLM-5-2": "rejected", "CLM-5-3": "accepted"}
    with engine.connect() as conn:
        assert conn.scalar(select(x12_interchanges.c.ack_status)) == "partial"

    # The posting worker's rules turn the bill rejected.
    outcome = apply_posting(open_bill(commercial(2)), posting)
    assert isinstance(outcome, Applied) and outcome.bill.rejected

    # The same file again: nothing changes, the same postings to publish again.
    with unit_of_work(engine) as conn:
        again = import_ack(conn, parse(text), CREATED)
    assert again.repeated and again.postings == result.postings


def test_a_277ca_rejection_and_acceptance_and_the_replacement_that_follows(
    engine: Engine, tmp_path: Path
) -> None:
    first, second = commercial(1), commercial(2)
    send(engine, [first, second], tmp_path)
    text = ack_277ca(
        [
            ClaimAnswer(first, "A2", "20", payer_claim_number="PCN0001"),
            ClaimAnswer(second, "A7", "21", "IL", message="SUBSCRIBER ID INVALID"),
        ],
        "SAMPLECH",
        "CLAIMFLOW",
        77,
        CREATED,
    )
    assert validate(text).errors == []
    with unit_of_work(engine) as conn:
        result = import_ack(conn, parse(text), CREATED)
    assert statuses(engine) == {"CLM-5-1": "payer_accepted", "CLM-5-2": "rejected"}
    [posting] = result.postings
    assert posting.bill_id == "CLM-5-2"
    assert (
        "A7 rejected for invalid information, 21 missing or invalid information (subscriber)" in posting.note
    )
    assert "SUBSCRIBER ID INVALID" in posting.note

    # A corrected claim for the first bill quotes the payer's claim control number.
    replacement = first.model_copy(update={"claim_id": "CLM-6-1", "frequency": "replacement"})
    [path] = send(engine, [replacement], tmp_path)
    body = path.read_text()
    assert "CLM*CLM-6-1*120***11:B:7*Y*A*Y*Y~" in body and "REF*F8*PCN0001~" in body
    assert validate(body).errors == []


def test_unknown_claims_are_reported_not_guessed(engine: Engine) -> None:
    text = ack_277ca(
        [ClaimAnswer(claim(claim_id="CLM-404-1"), "A7", "21")], "SAMPLECH", "CLAIMFLOW", 78, CREATED
    )
    with unit_of_work(engine) as conn:
        result = import_ack(conn, parse(text), CREATED)
    assert result.unknown == ["CLM-404-1"] and result.postings == []


def test_a_file_that_is_not_an_acknowledgment_is_refused_in_words() -> None:
    with pytest.raises(AckError, match="ISA"):
        parse("hello")
