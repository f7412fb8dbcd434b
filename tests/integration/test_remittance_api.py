"""The report API's remittance endpoints: ERA totals and unmatched remittances, by company."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import get_settings
from devtools.sample.era835 import build
from tests.integration.test_remittance_handler import Pipeline
from tests.x12 import samples
from workers.deadletters import replay as rp
from workers.report import accounts
from workers.report.api import create_app

DAY = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    create_all(engine)
    p = Pipeline(engine)
    p.open("CLM-B")  # company CO1
    p.era(build(samples.SECONDARY))  # parked on CLM-B: the supplement is not current yet
    p.era(build(samples.UNMATCHED))  # parked with no bill
    yield engine
    engine.dispose()


def user(engine: Engine, name: str, *companies: str, operator: bool = False) -> dict[str, str]:
    with unit_of_work(engine) as conn:
        token = accounts.create_user(conn, name, companies, DAY, token_days=0)
        if operator:
            rp.grant(conn, name, "test", DAY)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(get_settings(), engine=engine)) as c:
        yield c


def test_a_biller_sees_their_companies_eras_and_parked_claim_payments(
    client: TestClient, engine: Engine
) -> None:
    ann = user(engine, "ann", "CO1")
    eras = client.get("/remittances/eras", headers=ann).json()
    assert [e["trace"] for e in eras] == ["EFT0007"]
    (era,) = eras
    assert era["deposit"] == "12.00" and era["parked"] == "12.00" and era["balanced"] is True
    unmatched = client.get("/remittances/unmatched", headers=ann).json()
    assert [(u["claim_id"], u["reason_code"]) for u in unmatched] == [("CLM-B", "NOT_POSTABLE")]
    assert "the current payer is 1" in unmatched[0]["reason"]


def test_another_company_sees_nothing(client: TestClient, engine: Engine) -> None:
    bob = user(engine, "bob", "other-co")
    assert client.get("/remittances/eras", headers=bob).json() == []
    assert client.get("/remittances/unmatched", headers=bob).json() == []


def test_an_operator_sees_the_claim_payments_no_bill_matched(client: TestClient, engine: Engine) -> None:
    ops = user(engine, "ops", "CO1", operator=True)
    unmatched = client.get("/remittances/unmatched", headers=ops).json()
    assert {u["claim_id"] for u in unmatched} == {"CLM-B", "CLM-NOPE"}
    assert len(client.get("/remittances/eras", headers=ops).json()) == 2


def test_no_token_is_401(client: TestClient) -> None:
    assert client.get("/remittances/eras").status_code == 401
