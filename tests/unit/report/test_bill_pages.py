"""The Bills pages over SQLite with the posting worker's real handler standing in for the
worker: what is shown, what a posting form does, and that another company's biller gets
404 for everything. The browser tests (tests/browser/test_bills.py) run the real thing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import get_settings
from contracts.posting import Posting
from tests.unit.posting.builders import make_claim
from workers.common.messages import Incoming, Received
from workers.formatter.tables import claims
from workers.posting import storage
from workers.posting.handler import PostingHandler
from workers.report import accounts
from workers.report.api import create_app
from workers.report.publish import Message, PublishError
from workers.report.web import session as web_session

NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)


class Worker:
    """Publishing applies the posting at once with the posting worker's handler."""

    def __init__(self, engine: Engine, *, answers: bool = True) -> None:
        self.engine = engine
        self.answers = answers
        self.sent: list[Posting] = []

    async def __call__(self, message: Message) -> None:
        assert isinstance(message, Posting)
        self.sent.append(message)
        if self.answers:
            with unit_of_work(self.engine) as conn:
                source = Received("billing.postings", 0, len(self.sent), None, None)
                PostingHandler(clock=lambda: NOW).handle(conn, [Incoming(message, source)])


class NoWait:
    def __init__(self, _settings: Any) -> None: ...

    async def __aenter__(self) -> NoWait:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def wait(self, posting_id: str, seconds: float) -> bytes | None:
        return None


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    db = make_engine(f"sqlite:///{tmp_path / 'bills.db'}")
    create_all(db)
    made = [
        make_claim("AC-1", company_id="acme"),
        make_claim("AC-2", company_id="acme", total="250.00"),
        make_claim("BY-1", company_id="bayside"),
    ]
    with unit_of_work(db) as conn:
        storage.open_bills_from_claims(conn, made)
        # The formatter's record of the first claim, which names its patient.
        c = made[0]
        conn.execute(
            insert(claims).values(
                claim_id=c.claim_id,
                bill_id=c.bill_id,
                frequency=c.frequency,
                run_number=c.run_number,
                company_id=c.company_id,
                patient_id=c.patient.id,
                service_date=c.service_date,
                total_amount=c.total_amount,
                claim_json=c.model_dump_json(),
                created_at=c.created_at,
            )
        )
        accounts.create_user(conn, "amy", ["acme"], NOW)
        accounts.create_user(conn, "ben", ["bayside"], NOW)
    yield db
    db.dispose()


@pytest.fixture
def worker(engine: Engine) -> Worker:
    return Worker(engine)


def client_for(
    engine: Engine, worker: Worker, user: str, companies: tuple[str, ...] | None = None
) -> tuple[TestClient, str]:
    app = create_app(get_settings(), engine=engine, publisher=worker, clock=lambda: NOW)
    app.state.answer_watch = NoWait
    with unit_of_work(engine) as conn:
        caller = accounts.Caller(user, companies or (("acme",) if user == "amy" else ("bayside",)))
        cookie, found = accounts.start_session(conn, caller, NOW, 8)
    client = TestClient(app, headers={"accept": "text/html"})
    client.cookies.set(web_session.COOKIE, cookie)
    return client, found.csrf_token


@pytest.fixture
def amy(engine: Engine, worker: Worker) -> tuple[TestClient, str]:
    return client_for(engine, worker, "amy")


def posting_id(html: str) -> str:
    found = re.search(r'name="posting_id" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_bills_lists_only_the_company_s_bills_and_finds_by_status(amy: tuple[TestClient, str]) -> None:
    client, _ = amy
    page = client.get("/bills")
    assert page.status_code == 200
    assert "AC-1" in page.text and "AC-2" in page.text and "BY-1" not in page.text
    assert "AC-1" not in client.get("/bills", params={"q": "ac-2"}).text
    by_patient = client.get("/bills", params={"q": "doe, pat"}).text
    assert "AC-1" in by_patient and "AC-2" not in by_patient and "Doe, Pat (PAT-1)" in by_patient
    assert "2 bills found" in client.get("/bills", params={"status": "open", "payer": "medic"}).text
    assert client.get("/bills", params={"company": "bayside"}).status_code == 404
    assert client.get("/bills", params={"status": "nonsense", "page": "x"}).status_code == 200


def test_a_payment_is_applied_and_shown(amy: tuple[TestClient, str], worker: Worker) -> None:
    client, csrf = amy
    form = client.get("/bills/AC-2")
    assert "Payers, in billing order" in form.text
    pid = posting_id(form.text)
    sent = {"csrf_token": csrf, "posting_id": pid, "code": "P", "amount": "40.00", "next_payer": ""}
    done = client.post("/bills/AC-2/postings", data=sent)
    assert done.status_code == 200 and "Applied:" in done.text
    assert "210.00" in done.text
    # The same form again (a double submit) posts nothing more.
    again = client.post("/bills/AC-2/postings", data=sent)
    assert "Applied:" in again.text and len(worker.sent) == 1


def test_a_refused_refund_shows_its_reason(amy: tuple[TestClient, str]) -> None:
    client, csrf = amy
    pid = posting_id(client.get("/bills/AC-1").text)
    done = client.post(
        "/bills/AC-1/postings",
        data={"csrf_token": csrf, "posting_id": pid, "code": "F", "amount": "500.00"},
    )
    assert "Posting refused" in done.text
    assert "exceeds the cash balance" in done.text


def test_the_form_is_checked_before_anything_is_published(
    amy: tuple[TestClient, str], worker: Worker
) -> None:
    client, csrf = amy
    pid = posting_id(client.get("/bills/AC-1").text)
    for fields, message in (
        ({"code": "P", "amount": "12.345"}, "at most two decimal places"),
        ({"code": "P", "amount": ""}, "needs an amount above zero"),
        ({"code": "HA", "amount": "5.00"}, "takes no amount"),
        ({"code": "ZZ", "amount": "5.00"}, "is not a transaction code"),
        ({"code": "P", "amount": "-5.00"}, "Only AR may be negative"),
        ({"code": "J", "next_payer": "9"}, "Next payer is a payer"),
    ):
        page = client.post("/bills/AC-1/postings", data={"csrf_token": csrf, "posting_id": pid, **fields})
        assert page.status_code == 422, fields
        assert message in page.text, fields
    assert worker.sent == []
    refused = client.post("/bills/AC-1/postings", data={"posting_id": pid, "code": "P", "amount": "1.00"})
    assert refused.status_code == 403


def test_no_answer_in_time_says_queued(engine: Engine) -> None:
    client, csrf = client_for(engine, Worker(engine, answers=False), "amy")
    pid = posting_id(client.get("/bills/AC-1").text)
    done = client.post("/bills/AC-1/postings", data={"csrf_token": csrf, "posting_id": pid, "code": "HA"})
    assert "Queued:" in done.text


def test_another_company_s_biller_reaches_none_of_it(engine: Engine, worker: Worker) -> None:
    ben, csrf = client_for(engine, worker, "ben")
    unknown = ben.get("/bills/NO-SUCH-BILL")
    theirs = ben.get("/bills/AC-1")
    assert theirs.status_code == unknown.status_code == 404
    assert "AC-1" not in ben.get("/bills").text
    posted = ben.post("/bills/AC-1/postings", data={"csrf_token": csrf, "posting_id": "x1", "code": "HA"})
    assert posted.status_code == 404 and worker.sent == []
    for path in ("/aging", "/statements", "/collections"):
        assert ben.get(path, params={"company": "acme"}).status_code == 404
        assert ben.get(path).status_code == 200


def test_reports_pages_render(amy: tuple[TestClient, str]) -> None:
    client, _ = amy
    aging = client.get("/aging", params={"as_of": "2024-06-01"})
    assert "<svg" in aging.text and "<title" in aging.text and "Medicare" in aging.text
    assert "not a date" in client.get("/aging", params={"as_of": "June"}).text
    one = client.get("/aging", params={"as_of": "2024-06-01", "payer": "medicare:MCR"}).text
    assert "Open balance by age bucket, Medicare," in one and "Chart all payers" in one
    assert client.get("/statements").status_code == 200
    assert client.get("/collections").status_code == 200


def test_a_biller_of_two_companies_picks_one(engine: Engine, worker: Worker) -> None:
    with unit_of_work(engine) as conn:
        accounts.create_user(conn, "cat", ["acme", "bayside"], NOW)
    both, _ = client_for(engine, worker, "cat", ("acme", "bayside"))
    first = both.get("/bills").text
    assert "AC-1" in first and "BY-1" not in first
    assert '<option value="bayside">' in first
    other = both.get("/bills", params={"company": "bayside"}).text
    assert "BY-1" in other and "AC-1" not in other
    assert both.get("/bills/BY-1").status_code == both.get("/bills/AC-1").status_code == 200


class BrokerDown(Worker):
    async def __call__(self, message: Message) -> None:
        raise PublishError("cannot reach the broker: KafkaConnectionError")


def test_a_broker_that_is_down_is_said_in_words_and_nothing_is_posted(engine: Engine) -> None:
    client, csrf = client_for(engine, BrokerDown(engine), "amy")
    pid = posting_id(client.get("/bills/AC-1").text)
    page = client.post("/bills/AC-1/postings", data={"csrf_token": csrf, "posting_id": pid, "code": "HA"})
    assert page.status_code == 503
    assert "Nothing was posted" in page.text and "broker is not answering" in page.text
