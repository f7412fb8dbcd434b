"""The report's amount and service-date filters, group-by procedure, drill-downs from every
group (a null key included) and a company's places, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import get_settings
from tests.factories import charge
from tests.unit.report.data import DAY2, fill, patient, run_formatter
from workers.report import accounts, storage
from workers.report import queries as q
from workers.report.api import create_app
from workers.report.publish import Message

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    create_all(engine)
    fill(engine)
    # A6: no practice, location or payer, and fields missing (REQUIRED_FIELD repeated: one
    # charge in that group still). A7: A1's payer in other letters.
    run_formatter(
        engine,
        [
            charge(
                charge_id="A6",
                practice_id=None,
                location_id=None,
                payers=[],
                patient=patient("P-6", "Foxtrot", "Fay", birth_date=None, sex=None),
                amount=Decimal("60.00"),
            ),
            charge(
                charge_id="A7",
                location_id="north-annex",
                payers=[{"payer_id": "mc2", "name": "MEDICARE", "payer_type": "medicare", "member_id": "1X"}],
                patient=patient("P-7", "Golf", "Gus", birth_date=None),
                procedure_code="XX1",
                amount=Decimal("15.50"),
            ),
        ],
        DAY2,
    )
    return engine


async def _drop(message: Message) -> None:
    return None


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(get_settings(), engine=engine, publisher=_drop)) as c:
        yield c


@pytest.fixture
def ann(engine: Engine) -> dict[str, str]:
    with unit_of_work(engine) as conn:
        token = accounts.create_user(conn, "ann", ["acme-therapy", "beta-co"], DAY2, token_days=0)
    return {"Authorization": f"Bearer {token}"}


def ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return sorted(i["charge_id"] for i in answer.json()["items"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("amount_min=90.00", ["A1", "A3"]),
        ("amount_max=45", ["A2", "A7"]),
        ("amount_min=45.00&amount_max=60.00", ["A2", "A6"]),
        ("amount_min=15.50&amount_max=15.50", ["A7"]),
        ("service_from=2026-11-17&service_to=2026-11-17", ["A1", "A2", "A3", "A6", "A7"]),
        ("service_to=2026-11-16", []),
        ("procedure=xx1", ["A2", "A7"]),
        ("missing=practice", ["A6"]),
        ("missing=location&missing=payer", ["A6"]),
        ("missing=procedure", []),
        ("payer=medicare", ["A1", "A3", "A7"]),
    ],
)
def test_amount_service_date_and_missing_filters(
    client: TestClient, ann: dict, query: str, expected: list[str]
) -> None:
    answer = client.get(f"/failures?{query}", headers=ann)
    assert ids(answer) == expected
    assert answer.json()["total"] == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        "amount_min=1.001",
        "amount_min=ten",
        "amount_min=20&amount_max=10",
        "service_from=2026-02-01&service_to=2026-01-01",
        "service_from=2026-02-30",
        "practice=north&missing=practice",
        "missing=run",
    ],
)
def test_bad_new_filters_are_422(client: TestClient, ann: dict, query: str) -> None:
    answer = client.get(f"/failures?{query}", headers=ann)
    assert answer.status_code == 422, answer.text
    group = client.get(f"/failures/groups?by=payer&{query}", headers=ann)
    assert group.status_code == 422, group.text


def test_group_by_procedure(client: TestClient, ann: dict) -> None:
    answer = client.get("/failures/groups", params={"by": "procedure"}, headers=ann)
    assert answer.status_code == 200, answer.text
    got = {g["key"]: (g["charges"], g["amount"], g["drill"]) for g in answer.json()["groups"]}
    assert got == {
        "97110": (2, "150.00", {"procedure": "97110"}),
        "XX1": (2, "60.50", {"procedure": "XX1"}),
        "XX2": (1, "120.00", {"procedure": "XX2"}),
    }


def test_a_reason_twice_on_one_charge_counts_it_once(engine: Engine, client: TestClient, ann: dict) -> None:
    with engine.connect() as conn:
        codes = [r.code for r in conn.execute(q.reasons_statement(["A6"]))]
    assert codes.count("REQUIRED_FIELD") >= 2
    groups = client.get("/failures/groups", params={"by": "reason"}, headers=ann).json()["groups"]
    required = next(g for g in groups if g["key"] == "REQUIRED_FIELD")
    assert (required["charges"], required["amount"]) == (4, "285.50")  # A1, A3, A6, A7


def test_payers_group_without_case_like_the_payer_filter(client: TestClient, ann: dict) -> None:
    groups = client.get("/failures/groups", params={"by": "payer"}, headers=ann).json()["groups"]
    assert {g["key"].lower() if g["key"] else None: g["charges"] for g in groups} == {
        "medicare": 3,
        "aetna": 1,
        None: 1,
    }


@pytest.mark.parametrize("by", q.GROUPS)
@pytest.mark.parametrize("base", [{}, {"status": "all"}, {"amount_min": "40.00"}, {"run": 2}])
def test_every_group_drills_into_exactly_its_rows(
    client: TestClient, ann: dict, by: str, base: dict[str, Any]
) -> None:
    """Each group's `drill` added to the search it was grouped from finds its charges and its
    amount, no more, no fewer: for every `by`, null keys included."""
    groups = client.get("/failures/groups", params={"by": by, **base}, headers=ann).json()["groups"]
    assert groups
    for g in groups:
        page = client.get("/failures", params={**base, **g["drill"], "limit": 500}, headers=ann).json()
        assert (page["total"], page["total_amount"]) == (g["charges"], g["amount"]), (by, g)
        if by == "reason":
            assert all(g["key"] in {r["code"] for r in i["reasons"]} for i in page["items"])
    if by in ("practice", "location", "payer") and not set(base) - {"status"}:
        assert any(g["key"] is None for g in groups), by


def test_a_companys_places(client: TestClient, ann: dict) -> None:
    answer = client.get("/companies/acme-therapy/places", headers=ann)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "company_id": "acme-therapy",
        "practices": ["north", "south"],
        "locations": [
            {"id": "north-annex", "practice": "north"},
            {"id": "north-main", "practice": "north"},
            {"id": "south-main", "practice": "south"},
        ],
    }
    assert client.get("/companies/beta-co/places", headers=ann).json()["practices"] == []


def test_another_companys_places_are_forbidden(client: TestClient, ann: dict) -> None:
    assert client.get("/companies/other-co/places", headers=ann).status_code == 403
    assert client.get("/companies/other-co/places").status_code == 401


def test_company_places_lists_a_location_under_each_practice(engine: Engine) -> None:
    run_formatter(
        engine,
        [
            charge(
                charge_id="B1",
                company_id="beta-co",
                practice_id="east",
                location_id="shared",
                patient=patient("P-B1", "B", "One", birth_date=None),
            ),
            charge(
                charge_id="B2",
                company_id="beta-co",
                practice_id=None,
                location_id="shared",
                patient=patient("P-B2", "B", "Two", birth_date=None),
            ),
        ],
        DAY2,
    )
    with engine.connect() as conn:
        assert storage.company_places(conn, "beta-co") == {
            "practices": ["east"],
            "locations": [{"id": "shared", "practice": None}, {"id": "shared", "practice": "east"}],
        }
        assert storage.company_places(conn, "nobody") == {"practices": [], "locations": []}
