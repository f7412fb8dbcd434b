"""The report API against real databases (SQLite, PostgreSQL), filled by the real formatter;
reprocessing publishes to the real broker."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import Settings, get_settings
from contracts.codec import decode
from contracts.reprocess import ReprocessRequest
from contracts.topics import REPROCESS_REQUESTS
from devtools.sample.charges import generate_samples
from tests.pipeline import consume_until
from tests.unit.report.data import DAY1, DAY2, fill, run_formatter
from workers.report import accounts
from workers.report.api import create_app
from workers.report.publish import Message

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    create_all(engine)
    fill(engine)
    return engine


def user(engine: Engine, name: str, *companies: str) -> dict[str, str]:
    with unit_of_work(engine) as conn:
        token = accounts.create_user(conn, name, companies, DAY1, token_days=0)
    return {"Authorization": f"Bearer {token}"}


class Published:
    def __init__(self) -> None:
        self.requests: list[ReprocessRequest] = []

    async def __call__(self, message: Message) -> None:
        assert isinstance(message, ReprocessRequest), message
        self.requests.append(message)


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def client(engine: Engine, published: Published) -> Iterator[TestClient]:
    with TestClient(create_app(get_settings(), engine=engine, publisher=published)) as c:
        yield c


@pytest.fixture
def ann(engine: Engine) -> dict[str, str]:
    return user(engine, "ann", "acme-therapy", "beta-co")


def ids(answer: Any) -> list[str]:
    return [i["charge_id"] for i in answer.json()["items"]]


def test_default_search_is_the_users_company_open_failures_oldest_first(
    client: TestClient, ann: dict
) -> None:
    answer = client.get("/failures", headers=ann)
    assert answer.status_code == 200
    body = answer.json()
    assert body["company_id"] == "acme-therapy"
    assert ids(answer) == ["A1", "A2", "A3"]  # A4 claimed, A5 resolved, O1 another company's
    assert (body["total"], body["total_amount"], body["next_offset"]) == (3, "255.00", None)
    a1 = body["items"][0]
    assert a1["patient"] == {"id": "P-1", "name": "Alpha, Ann"}
    assert (a1["amount"], a1["service_date"], a1["procedure_code"], a1["payer_name"]) == (
        "90.00",
        "2026-11-17",
        "97110",
        "Medicare",
    )
    assert (a1["run_number"], a1["failure_count"], a1["oldest_failure_date"], a1["last_failure_date"]) == (
        2,
        2,
        "2026-11-20",
        "2026-11-21",
    )
    assert [r["code"] for r in a1["reasons"]] == ["REQUIRED_FIELD"]
    assert "birth_date" in a1["reasons"][0]["message"]
    a3 = body["items"][2]
    assert {r["code"] for r in a3["reasons"]} == {"REQUIRED_FIELD", "PROCEDURE_CODE_FORMAT"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("practice=south", ["A3"]),
        ("location=north-annex", ["A2"]),
        ("practice=north&location=north-main", ["A1"]),
        ("run=2", ["A1", "A3"]),
        ("run=1", ["A2"]),
        ("reason=procedure_code_format", ["A2", "A3"]),
        ("reason=REQUIRED_FIELD", ["A1", "A3"]),
        ("payer=aetna", ["A2"]),
        ("procedure=97110", ["A1"]),
        ("failed_from=2026-11-21", ["A3"]),
        ("failed_to=2026-11-20", ["A1", "A2"]),
        ("failed_from=2026-11-21&date_field=last", ["A1", "A3"]),
        ("status=resolved", ["A5"]),
        ("status=all", ["A1", "A2", "A5", "A3"]),
        ("status=reprocessing", []),
    ],
)
def test_each_filter(client: TestClient, ann: dict, query: str, expected: list[str]) -> None:
    answer = client.get(f"/failures?{query}", headers=ann)
    assert answer.status_code == 200, answer.text
    assert ids(answer) == expected
    assert answer.json()["total"] == len(expected)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("amount", ["A2", "A1", "A3"]),
        ("-amount", ["A3", "A1", "A2"]),
        ("patient_name", ["A1", "A2", "A3"]),
        ("-patient_name", ["A3", "A2", "A1"]),
        ("-failure_count,charge_id", ["A1", "A2", "A3"]),
        ("payer_name,-amount", ["A2", "A3", "A1"]),
        ("-last_failure_date,-charge_id", ["A3", "A1", "A2"]),
        ("procedure_code", ["A1", "A2", "A3"]),
        ("location_id", ["A2", "A1", "A3"]),
        ("-run_number,amount", ["A1", "A3", "A2"]),
    ],
)
def test_sort_by_any_column(client: TestClient, ann: dict, sort: str, expected: list[str]) -> None:
    assert ids(client.get("/failures", params={"sort": sort}, headers=ann)) == expected


def test_paging_with_total(client: TestClient, ann: dict) -> None:
    seen = []
    offset: int | None = 0
    while offset is not None:
        page = client.get(
            "/failures", params={"limit": 2, "offset": offset, "sort": "-amount"}, headers=ann
        ).json()
        assert page["total"] == 3
        seen += [i["charge_id"] for i in page["items"]]
        offset = page["next_offset"]
    assert seen == ["A3", "A1", "A2"]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("reason", {"REQUIRED_FIELD": (2, "210.00"), "PROCEDURE_CODE_FORMAT": (2, "165.00")}),
        ("practice", {"north": (2, "135.00"), "south": (1, "120.00")}),
        ("location", {"north-main": (1, "90.00"), "north-annex": (1, "45.00"), "south-main": (1, "120.00")}),
        ("payer", {"Medicare": (2, "210.00"), "Aetna": (1, "45.00")}),
        ("run", {"1": (1, "45.00"), "2": (2, "210.00")}),
    ],
)
def test_group_with_counts_and_amounts(client: TestClient, ann: dict, by: str, expected: dict) -> None:
    answer = client.get("/failures/groups", params={"by": by}, headers=ann)
    assert answer.status_code == 200, answer.text
    got = {g["key"]: (g["charges"], g["amount"]) for g in answer.json()["groups"]}
    assert got == expected
    if by == "reason":
        assert {g["label"] for g in answer.json()["groups"]} >= {"Required field missing"}


def test_groups_follow_the_filters(client: TestClient, ann: dict) -> None:
    answer = client.get("/failures/groups", params={"by": "practice", "run": 2}, headers=ann)
    assert {g["key"]: g["charges"] for g in answer.json()["groups"]} == {"north": 1, "south": 1}


def test_drill_down_shows_versions_failures_and_reprocessing(client: TestClient, ann: dict) -> None:
    answer = client.get("/failures/A1", headers=ann)
    assert answer.status_code == 200
    detail = answer.json()
    assert [(v["version"], v["outcome"], v["run_number"]) for v in detail["versions"]] == [
        (1, "failed", 1),
        (2, "failed", 2),
    ]
    assert detail["versions"][0]["charge"]["charge_id"] == "A1"
    assert [(f["version"], f["run_number"]) for f in detail["failures"]] == [(1, 1), (2, 2)]
    assert detail["failures"][0]["reasons"][0]["code"] == "REQUIRED_FIELD"
    assert detail["reprocessing"] in ([], None)  # [] once the reprocess worker's tables exist


def test_drill_down_of_a_resolved_charge_names_its_claim(client: TestClient, ann: dict) -> None:
    detail = client.get("/failures/A5", headers=ann).json()
    assert detail["status"] == "resolved" and detail["resolved_claim_id"]
    assert [v["outcome"] for v in detail["versions"]] == ["failed", "claimed"]


def test_drill_down_shows_what_reprocessing_did(engine: Engine, client: TestClient, ann: dict) -> None:
    from workers.reprocess import tables as reprocess_tables

    with unit_of_work(engine) as conn:
        conn.execute(
            insert(reprocess_tables.requests).values(
                request_id="rr-1",
                company_id="acme-therapy",
                requested_by="ann",
                requested_at=DAY2,
                completed_at=DAY2,
                result_json="{}",
                replayed_json="[]",
            )
        )
        conn.execute(
            insert(reprocess_tables.items).values(
                request_id="rr-1", charge_id="A1", new_version=3, outcome="replayed", reason=None
            )
        )
    (item,) = client.get("/failures/A1", headers=ann).json()["reprocessing"]
    assert (item["request_id"], item["new_version"], item["outcome"]) == ("rr-1", 3, "replayed")
    assert item["request"]["requested_by"] == "ann" and "result_json" not in item["request"]


def test_another_companys_charge_is_not_found(client: TestClient, ann: dict) -> None:
    assert client.get("/failures/O1", headers=ann).status_code == 404
    assert client.get("/failures/NOPE", headers=ann).json() == client.get("/failures/O1", headers=ann).json()
    assert client.get("/failures/A4", headers=ann).status_code == 404  # claimed, never failed


def test_another_company_is_forbidden(client: TestClient, ann: dict) -> None:
    assert client.get("/failures", params={"company": "other-co"}, headers=ann).status_code == 403
    assert (
        client.get("/failures/groups", params={"company": "other-co", "by": "run"}, headers=ann).status_code
        == 403
    )
    assert (
        client.post("/reprocess", json={"company": "other-co", "charge_ids": ["O1"]}, headers=ann).status_code
        == 403
    )


def test_a_second_company_is_searched_when_asked(engine: Engine, client: TestClient) -> None:
    oz = user(engine, "oz", "beta-co", "other-co")
    assert client.get("/failures", headers=oz).json()["total"] == 0  # beta-co: no failures
    assert ids(client.get("/failures", params={"company": "other-co"}, headers=oz)) == ["O1"]
    assert client.get("/failures/O1", headers=oz).status_code == 200


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer cfr_wrong"}, {"Authorization": "Basic eDp5"}]
)
def test_a_token_is_required(client: TestClient, headers: dict) -> None:
    answer = client.get("/failures", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_stops_working(engine: Engine, client: TestClient) -> None:
    headers = user(engine, "bo", "acme-therapy")
    assert client.get("/me", headers=headers).json() == {"user_id": "bo", "companies": ["acme-therapy"]}
    with unit_of_work(engine) as conn:
        accounts.revoke_tokens(conn, "bo", DAY2)
    assert client.get("/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "sort=bogus",
        "limit=0",
        "limit=100000",
        "offset=-1",
        "status=closed",
        "run=abc",
        "failed_from=2026-13-01",
        "failed_from=2026-02-01&failed_to=2026-01-01",
        "reason=NOT%20A%20CODE",
        "unknown=1",
        "date_field=first",
    ],
)
def test_bad_searches_are_422(client: TestClient, ann: dict, query: str) -> None:
    answer = client.get(f"/failures?{query}", headers=ann)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]


def test_reprocess_selected_publishes_one_request(
    client: TestClient, ann: dict, published: Published
) -> None:
    answer = client.post(
        "/reprocess",
        headers=ann,
        json={
            "charge_ids": ["A1", "A5", "O1", "A2"],
            "corrections": {"A1": {"patient.birth_date": "1950-02-01"}, "A5": {"units": 1}},
            "claim_delay_until": "2026-12-01",
        },
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["replaying"] == ["A1", "A2"]
    assert {s["charge_id"]: s["reason"] for s in body["skipped"]} == {
        "A5": "not open (status resolved)",
        "O1": "not found among this company's failed charges",
    }
    (request,) = published.requests
    assert (request.request_id, request.requested_by, request.company_id) == (
        body["request_id"],
        "ann",
        "acme-therapy",
    )
    assert request.charge_ids == ["A1", "A2"]
    assert request.corrections == {"A1": {"patient.birth_date": "1950-02-01"}}
    assert request.claim_delay_until == dt.date(2026, 12, 1)


def test_reprocess_by_filters_takes_the_open_failures_found(
    client: TestClient, ann: dict, published: Published
) -> None:
    answer = client.post(
        "/reprocess", headers=ann, json={"filters": {"reason": "PROCEDURE_CODE_FORMAT"}, "expected_count": 2}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["replaying"] == ["A2", "A3"]
    assert published.requests[0].charge_ids == ["A2", "A3"]


def test_reprocess_of_nothing_open_publishes_nothing(
    client: TestClient, ann: dict, published: Published
) -> None:
    answer = client.post("/reprocess", headers=ann, json={"charge_ids": ["A5", "O1"]})
    assert answer.status_code == 422
    assert len(answer.json()["detail"]["skipped"]) == 2
    assert published.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"charge_ids": []},
        {"charge_ids": ["A1"], "filters": {}},
        {"charge_ids": ["bad id"]},
        {"charge_ids": ["A1"], "corrections": {"A2": {"units": 1}}},
        {"charge_ids": ["A1"], "claim_delay_until": "soon"},
        {"charge_ids": ["A1"], "extra": 1},
    ],
)
def test_bad_reprocess_bodies_are_422(
    client: TestClient, ann: dict, published: Published, body: dict
) -> None:
    assert client.post("/reprocess", headers=ann, json=body).status_code == 422
    assert published.requests == []


def test_sample_failures_group_consistently(db_url: str) -> None:
    """Realistic broken charges from the sample generator: every grouping adds up to the search."""
    engine = make_engine(db_url)
    create_all(engine)
    samples = generate_samples(300, seed=7, today=DAY1.date(), bad_share=0.3)
    run_formatter(engine, [s.charge for s in samples], DAY1)
    company = samples[0].charge.company_id
    headers = user(engine, "sam", company)
    with TestClient(create_app(get_settings(), engine=engine, publisher=Published())) as client:
        page = client.get("/failures", params={"limit": 500}, headers=headers).json()
        assert page["total"] > 0 and len(page["items"]) == page["total"]
        for by in ("practice", "location", "payer", "run"):
            groups = client.get("/failures/groups", params={"by": by}, headers=headers).json()["groups"]
            assert sum(g["charges"] for g in groups) == page["total"]
            assert sum(Decimal(g["amount"]) for g in groups) == Decimal(page["total_amount"])
        reasons = client.get("/failures/groups", params={"by": "reason"}, headers=headers).json()["groups"]
        expected = {r["code"] for i in page["items"] for r in i["reasons"]}
        assert {g["key"] for g in reasons} == expected


def test_openapi_and_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    spec = client.get("/openapi.json").json()
    for path in ("/failures", "/failures/groups", "/failures/{charge_id}", "/reprocess", "/healthz"):
        assert path in spec["paths"]
        for operation in spec["paths"][path].values():
            assert operation["summary"]


def test_reprocess_lands_exactly_one_request_on_the_broker(
    engine: Engine, kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings: Settings = get_settings().model_copy(
        update={"bootstrap_servers": kafka_bootstrap, "topic_prefix": topic_prefix}
    )
    headers = user(engine, "ann", "acme-therapy")
    with TestClient(create_app(settings, engine=engine)) as client:
        answer = client.post(
            "/reprocess",
            headers=headers,
            json={"charge_ids": ["A1", "A3"], "corrections": {"A3": {"procedure_code": "97110"}}},
        )
    assert answer.status_code == 202, answer.text
    topic = settings.topic(REPROCESS_REQUESTS)
    records = asyncio.run(
        consume_until(kafka_bootstrap, [topic], lambda rs: len(rs) >= 1, timeout=60, settle=3)
    )
    assert len(records) == 1
    (record,) = records
    request = decode(record.value, ReprocessRequest)
    assert record.key == request.request_id.encode()
    assert request.request_id == answer.json()["request_id"]
    assert (request.requested_by, request.company_id, request.charge_ids) == (
        "ann",
        "acme-therapy",
        ["A1", "A3"],
    )
    assert request.corrections == {"A3": {"procedure_code": "97110"}}
