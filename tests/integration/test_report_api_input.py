"""The report API on bad input (SQLite, PostgreSQL): always a 4xx in words, never a 500; and
the reprocess action's checks: corrections as the worker applies them, other companies'
references, the confirmed count of a selection by filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import get_settings
from contracts.reprocess import ReprocessRequest
from tests.unit.report.data import DAY1, fill
from workers.formatter import tables as ft
from workers.report import accounts, actions
from workers.report.api import create_app
from workers.report.models import FieldProblem
from workers.report.publish import MessageTooLarge

pytestmark = pytest.mark.integration

HUGE = ["99999999999999999999", "9223372036854775808", "-9223372036854775809", "2147483648"]
BAD_TEXT = [
    "-1",
    "0",
    "abc",
    "1.5",
    "1e400",
    "NaN",
    "",
    "x" * 5000,
    "%00",
    "\x00",
    "a\x1fb",
    "2026-13-45",
    "9999-12-31",
]
BAD_JSON: list[Any] = [
    99999999999999999999,
    9223372036854775808,
    -9223372036854775809,
    -1,
    1.5,
    True,
    None,
    "x" * 100_000,
    "\u0000",
    "9999-12-31",
    [],
    {},
    [99999999999999999999],
    {"a": [1] * 5000},
]


class Published:
    def __init__(self) -> None:
        self.requests: list[ReprocessRequest] = []
        self.fail: Exception | None = None

    async def __call__(self, request: ReprocessRequest) -> None:
        if self.fail is not None:
            raise self.fail
        self.requests.append(request)


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    create_all(engine)
    fill(engine)
    return engine


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def client(engine: Engine, published: Published) -> Iterator[TestClient]:
    with TestClient(create_app(get_settings(), engine=engine, publisher=published)) as c:
        yield c


@pytest.fixture
def ann(engine: Engine) -> dict[str, str]:
    with unit_of_work(engine) as conn:
        token = accounts.create_user(conn, "ann", ["acme-therapy"], DAY1)
    return {"Authorization": f"Bearer {token}"}


def words(answer: Any) -> str:
    return str(answer.json()["detail"])


# ---- 4xx, never 500 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/failures?offset=9223372036854775808", None),
        ("get", "/failures?offset=99999999999999999999", None),
        ("get", "/failures?run=99999999999999999999", None),
        ("get", "/failures/groups?by=run&run=99999999999999999999", None),
        ("post", "/reprocess", {"filters": {"run": 99999999999999999999}, "expected_count": 0}),
        ("post", "/reprocess", {"charge_ids": ["A1"], "corrections": {"A1": {"x" * 2001: "F"}}}),
        ("post", "/reprocess/preview", {"filters": {"run": 99999999999999999999}}),
    ],
)
def test_the_reported_holes_answer_422_in_words(
    client: TestClient, ann: dict, published: Published, method: str, url: str, body: Any
) -> None:
    answer = client.request(method, url, headers=ann, json=body)
    assert answer.status_code == 422, answer.text
    assert "should be less than or equal" in answer.text or "at most" in answer.text
    assert "99999999999999999999" not in answer.text and "x" * 100 not in answer.text  # no echo
    assert published.requests == []


def test_every_query_parameter_refuses_bad_values_without_a_500(client: TestClient, ann: dict) -> None:
    spec = client.get("/openapi.json").json()
    tried = 0
    errors = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        params = [p for p in get.get("parameters", []) if p["in"] in ("query", "path")]
        for param in params:
            for value in HUGE + BAD_TEXT:
                query = {"by": "run"} if path == "/failures/groups" and param["name"] != "by" else {}
                url = path
                if param["in"] == "path":
                    raw = value if value.isprintable() else quote(value)  # a NUL arrives as %00
                    url = path.replace("{" + param["name"] + "}", raw or "x")
                else:
                    query[param["name"]] = value
                answer = client.get(url, params=query, headers=ann)
                tried += 1
                if answer.status_code >= 500 or answer.status_code < 200:
                    errors.append((url, query, answer.status_code))
    assert tried > 200 and errors == []


def body_variants() -> Iterator[tuple[str, dict[str, Any]]]:
    for value in BAD_JSON:
        for name in (
            "company",
            "charge_ids",
            "filters",
            "corrections",
            "claim_delay_until",
            "expected_count",
        ):
            yield name, {"charge_ids": ["A1"], name: value}
        yield "charge_ids[0]", {"charge_ids": [value]}
        for name in ("company", "practice", "location", "run", "reason", "payer", "procedure"):
            yield f"filters.{name}", {"filters": {name: value}, "expected_count": 3}
        for name in ("failed_from", "failed_to", "date_field", "status"):
            yield f"filters.{name}", {"filters": {name: value}, "expected_count": 3}
        yield "expected_count", {"filters": {}, "expected_count": value}
        yield "corrections.value", {"charge_ids": ["A1"], "corrections": {"A1": {"units": value}}}
        yield "corrections.patient", {"charge_ids": ["A1"], "corrections": {"A1": {"patient": value}}}
        yield "corrections.fields", {"charge_ids": ["A1"], "corrections": {"A1": value}}
        yield (
            "corrections.nested",
            {"charge_ids": ["A1"], "corrections": {"A1": {"patient.address.city": value}}},
        )


@pytest.mark.parametrize("path", ["/reprocess", "/reprocess/preview"])
def test_every_body_field_refuses_bad_values_without_a_500(client: TestClient, ann: dict, path: str) -> None:
    errors = []
    tried = 0
    for name, body in body_variants():
        answer = client.post(path, headers=ann, json=body)
        tried += 1
        if answer.status_code >= 500:
            errors.append((name, str(body)[:80], answer.status_code, answer.text[:200]))
    assert tried > 200 and errors == []


def test_bodies_over_the_limit_are_413_unread(client: TestClient, ann: dict, published: Published) -> None:
    big = (
        b'{"charge_ids": ["A1"], "corrections": {"A1": {"patient.first_name": "' + b"x" * 8_000_000 + b'"}}}'
    )
    answer = client.post("/reprocess", headers={**ann, "Content-Type": "application/json"}, content=big)
    assert answer.status_code == 413 and "larger than 1048576 bytes" in words(answer)

    def chunked() -> Iterator[bytes]:
        yield big[:100]
        for start in range(100, len(big), 65536):
            yield big[start : start + 65536]

    answer = client.post("/reprocess", headers={**ann, "Content-Type": "application/json"}, content=chunked())
    assert answer.status_code == 413 and "larger than" in words(answer)
    assert published.requests == []


def test_a_4mb_correction_is_a_4xx_in_words_even_under_a_large_body_limit(
    engine: Engine, ann: dict, published: Published
) -> None:
    settings = get_settings().model_copy(update={"max_body_bytes": 16 * 1024 * 1024})
    with TestClient(create_app(settings, engine=engine, publisher=published)) as client:
        body = {"charge_ids": ["A1"], "corrections": {"A1": {"patient.first_name": "x" * 4_000_000}}}
        answer = client.post("/reprocess", headers=ann, json=body)
    assert answer.status_code == 422 and "at most 1000" in answer.text
    assert len(answer.content) < 2000 and published.requests == []


def test_a_message_too_large_for_the_broker_is_413(
    client: TestClient, ann: dict, published: Published
) -> None:
    published.fail = MessageTooLarge("the request is 2000000 bytes, more than the broker takes; select fewer")
    answer = client.post("/reprocess", headers=ann, json={"charge_ids": ["A1"]})
    assert answer.status_code == 413 and "more than the broker takes" in words(answer)


# ---- corrections checked when submitted -----------------------------------------------


def test_an_invalid_correction_is_422_naming_charge_and_field(
    client: TestClient, ann: dict, published: Published
) -> None:
    answer = client.post(
        "/reprocess",
        headers=ann,
        json={
            "charge_ids": ["A1", "A2"],
            "corrections": {"A1": {"patient.sex": "X"}, "A2": {"patient.shoe_size": 9}},
        },
    )
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]["problems"]
    assert [p["field"] for p in problems["A1"]] == ["patient.sex"]
    assert "invalid" in problems["A1"][0]["problem"]
    assert problems["A2"] == [{"field": "patient.shoe_size", "problem": "unknown field"}]
    assert published.requests == []


def test_a_claim_delay_the_worker_would_refuse_is_422(
    client: TestClient, ann: dict, published: Published
) -> None:
    for day in ("9999-12-31", "2029-12-31"):  # past the request's reach; past A1's service date + 3 years
        answer = client.post("/reprocess", headers=ann, json={"charge_ids": ["A1"], "claim_delay_until": day})
        assert answer.status_code == 422, answer.text
        assert "claim_delay_until" in answer.text
    assert published.requests == []


def test_another_companys_references_are_refused(
    engine: Engine, client: TestClient, ann: dict, published: Published
) -> None:
    with engine.connect() as conn:
        own_bill = conn.execute(
            select(ft.claims.c.bill_id).where(ft.claims.c.company_id == "acme-therapy")
        ).scalar()
    # P-9 is other-co's patient (charge O1); the rest no charge of acme-therapy ever named.
    foreign = {"practice_id": "rival", "location_id": "rival-main", "patient.id": "P-9", "bill_id": "B-rival"}
    for path, value in foreign.items():
        answer = client.post(
            "/reprocess", headers=ann, json={"charge_ids": ["A1"], "corrections": {"A1": {path: value}}}
        )
        assert answer.status_code == 422, (path, answer.text)
        (problem,) = answer.json()["detail"]["problems"]["A1"]
        assert problem["field"] == path and "not one of this company's" in problem["problem"]
    assert published.requests == []
    fine = {"practice_id": "south", "patient.id": "P-2", "bill_id": own_bill}
    answer = client.post("/reprocess", headers=ann, json={"charge_ids": ["A1"], "corrections": {"A1": fine}})
    assert answer.status_code == 202, answer.text


# ---- reprocess by filters: the count confirmed ----------------------------------------


def test_preview_counts_and_reprocess_needs_that_count(
    client: TestClient, ann: dict, published: Published
) -> None:
    preview = client.post("/reprocess/preview", headers=ann, json={"filters": {}})
    assert preview.status_code == 200, preview.text
    assert preview.json()["count"] == 3 and preview.json()["first"] == ["A1", "A2", "A3"]
    assert published.requests == []
    narrow = client.post("/reprocess/preview", headers=ann, json={"filters": {"practice": "south"}}).json()
    assert (narrow["count"], narrow["first"]) == (1, ["A3"])

    unconfirmed = client.post("/reprocess", headers=ann, json={"filters": {}})
    assert unconfirmed.status_code == 422 and "expected_count" in unconfirmed.text
    stale = client.post("/reprocess", headers=ann, json={"filters": {}, "expected_count": 2})
    assert stale.status_code == 409
    assert stale.json()["detail"]["count"] == 3 and "select 3 open failure(s) now" in stale.text
    assert published.requests == []

    done = client.post("/reprocess", headers=ann, json={"filters": {}, "expected_count": 3})
    assert done.status_code == 202, done.text
    assert published.requests[0].charge_ids == ["A1", "A2", "A3"]


def test_preview_by_charge_ids_counts_the_open_ones(client: TestClient, ann: dict) -> None:
    answer = client.post("/reprocess/preview", headers=ann, json={"charge_ids": ["A1", "A5", "O1"]}).json()
    assert (answer["count"], answer["first"]) == (1, ["A1"])


def test_check_corrections_is_a_plain_function(engine: Engine) -> None:
    """What the web pages call: per charge, the fields and problems in words; {} when fine."""
    with engine.connect() as conn:
        assert (
            actions.check_corrections(conn, "acme-therapy", {"A1": {"patient.birth_date": "1950-02-01"}})
            == {}
        )
        found = actions.check_corrections(
            conn,
            "acme-therapy",
            {"A1": {"patient.sex": "X"}, "A2": {"location_id": "rival-main"}, "O1": {"units": "x"}},
        )
        assert set(found) == {"A1", "A2"}  # O1 is another company's: not checked, the plan skips it
        assert found["A2"] == [
            FieldProblem(field="location_id", problem="names a location that is not one of this company's")
        ]
        late = actions.check_corrections(
            conn, "acme-therapy", {}, claim_delay_until=dt.date(2031, 1, 1), charge_ids=["A1"]
        )
        assert [p.field for p in late["A1"]] == ["claim_delay_until"]
