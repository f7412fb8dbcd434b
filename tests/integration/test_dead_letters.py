"""Working dead letters with the real broker: `claimflow dead-letters` and the report API.

Dead letters are written to this test's dead-letter topic the way workers write them
(workers.common.deadletter), then listed, shown and replayed; a replay must reach the
source topic once, however often it is asked for.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import Settings
from contracts.topics import CHARGES, POSTINGS
from tests.pipeline import Record, consume_until
from workers.common.deadletter import dead_letter
from workers.common.messages import Received
from workers.deadletters import cli
from workers.deadletters import letters as dl
from workers.deadletters.replay import REPLAY_OF, replay
from workers.deadletters.topic import publish, read_letters
from workers.report import accounts
from workers.report.api import create_app

pytestmark = pytest.mark.integration

PATIENT = b'{"patient":{"first_name":"Alice"}}'


def _letters(settings: Settings) -> list[tuple[str, str, int, str]]:
    """(source topic, kind, source offset, worker) of the dead letters each test starts with."""
    charges, postings = settings.topic(CHARGES), settings.topic(POSTINGS)
    return [
        (charges, "internal", 3, "formatter"),
        (charges, "internal", 7, "formatter"),
        (charges, "invalid", 9, "formatter"),
        (postings, "not_json", 2, "posting"),
    ]


@pytest.fixture
def engine(sqlite_url: str) -> Engine:
    engine = make_engine(sqlite_url)
    create_all(engine)
    return engine


@pytest.fixture
def filled(kafka_settings: Settings) -> Settings:
    out = []
    for topic, kind, offset, worker in _letters(kafka_settings):
        source = Received(topic, 0, offset, f"acme:p{offset}".encode(), PATIENT[:-1] + b',"n":%d}' % offset)
        out.append(dead_letter(source, kind, f"why {offset}", worker, kafka_settings.topic_prefix))  # type: ignore[arg-type]
    # The formatter crashed after dead-lettering offset 3 and wrote it again on the replay.
    out.append(out[0])
    asyncio.run(publish(kafka_settings, out))
    return kafka_settings


async def _source(settings: Settings, topic: str, expect: int) -> list[Record]:
    return await consume_until(
        settings.bootstrap_servers,
        [settings.topic(topic)],
        lambda rs: len(rs) >= expect,
        timeout=20,
        settle=2,
    )


async def test_list_filters_and_counts(filled: Settings) -> None:
    letters = await read_letters(filled)
    assert len(letters) == 5
    assert dl.counts(letters) == {"internal": 3, "invalid": 1, "not_json": 1}
    charges = dl.select(letters, dl.Filters(source_topic=CHARGES), filled.topic_prefix)
    assert {x.meta.offset for x in charges} == {3, 7, 9}
    posting = dl.select(letters, dl.Filters(worker="posting"))
    assert [x.ref for x in posting] == [f"{filled.topic(POSTINGS)}:0:2"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert dl.select(letters, dl.Filters(since=later)) == []
    assert len(dl.select(letters, dl.Filters(until=later, kinds=frozenset({"internal"})))) == 3


async def test_a_replay_publishes_each_dead_letter_once_and_records_who(
    filled: Settings, engine: Engine
) -> None:
    letters = dl.select(await read_letters(filled), dl.Filters(kinds=frozenset({"internal"})))
    now = dt.datetime.now(dt.UTC)

    def send(out: object) -> None:
        asyncio.run(publish(filled, out))  # type: ignore[arg-type]

    first = await asyncio.to_thread(replay, engine, letters, "ops-ann", send, now)
    assert sorted(x.meta.offset for x in first.published) == [3, 7]  # offset 3's copy: once
    again = await asyncio.to_thread(replay, engine, letters, "ops-bob", send, now)
    assert again.published == []
    assert {e.ref: e.replayed_by for e in again.already} == {x.ref: "ops-ann" for x in first.published}
    assert again.already[0].says().startswith("already replayed by ops-ann at ")
    on_topic = await _source(filled, CHARGES, 2)
    assert len(on_topic) == 2, "a dead letter was replayed twice"
    assert {r.key for r in on_topic} == {b"acme:p3", b"acme:p7"}
    assert all(dict(r.headers)[REPLAY_OF].startswith(filled.topic(CHARGES).encode()) for r in on_topic)
    assert {r.value for r in on_topic} == {x.value for x in first.published}


@pytest.fixture
def run_cli(filled: Settings, sqlite_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "get_settings", lambda: filled.model_copy(update={"database_url": sqlite_url}))
    return CliRunner()


def test_cli_list_show_and_replay(run_cli: CliRunner, filled: Settings) -> None:
    listed = run_cli.invoke(cli.app, ["list", "--json", "--topic", CHARGES])
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.output)
    assert body["counts"] == {"internal": 3, "invalid": 1} and body["total"] == 4
    assert "Alice" not in listed.output
    ref = f"{filled.topic(CHARGES)}:0:9"
    shown = run_cli.invoke(cli.app, ["show", ref])
    assert shown.exit_code == 0, shown.output
    assert "x-error_kind: invalid" in shown.output and "why 9" in shown.output
    assert "Alice" not in shown.output and "--data" in shown.output
    with_data = run_cli.invoke(cli.app, ["show", ref, "--data"])
    assert "Alice" in with_data.output
    table = run_cli.invoke(cli.app, ["list"])
    assert table.exit_code == 0 and "5 dead letter(s): internal 3, invalid 1, not_json 1" in table.output
    assert "Alice" not in table.output
    dry = run_cli.invoke(cli.app, ["replay", "--offset", "0:9", "--dry-run"])
    assert dry.exit_code == 0 and "would be replayed" in dry.output
    refused = run_cli.invoke(cli.app, ["replay"])
    assert refused.exit_code == 2 and "--kind" in refused.output
    done = run_cli.invoke(cli.app, ["replay", "--offset", "0:9", "--offset", "0:7", "--by", "ops-ann"])
    assert done.exit_code == 0, done.output
    assert "2 replayed, 0 already replayed" in done.output
    again = run_cli.invoke(cli.app, ["replay", "--kind", "internal", "--topic", CHARGES, "--by", "ops-bob"])
    assert "1 replayed, 1 already replayed" in again.output, again.output
    assert "already replayed by ops-ann" in again.output
    after = json.loads(run_cli.invoke(cli.app, ["list", "--json", "--kind", "internal"]).output)
    assert {row["replayed_by"] for row in after["letters"]} == {"ops-ann", "ops-bob"}
    bad = run_cli.invoke(cli.app, ["show", "nine"])
    assert bad.exit_code == 2 and "PARTITION:OFFSET" in bad.output


@pytest.fixture
def client(filled: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(filled, engine=engine)) as c:
        yield c


def _token(engine: Engine, name: str, *, operator: bool) -> dict[str, str]:
    from workers.deadletters.replay import grant

    now = dt.datetime.now(dt.UTC)
    with unit_of_work(engine) as conn:
        token = accounts.create_user(conn, name, ("acme",), now)
        if operator:
            grant(conn, name, "root", now)
    return {"Authorization": f"Bearer {token}"}


def test_api_is_for_operators_and_replays_once(client: TestClient, engine: Engine, filled: Settings) -> None:
    biller = _token(engine, "bill", operator=False)
    ops = _token(engine, "ops", operator=True)
    assert client.get("/dead-letters").status_code == 401
    denied = client.get("/dead-letters", headers=biller)
    assert denied.status_code == 403 and "grant" in denied.json()["detail"]
    listed = client.get("/dead-letters", params={"kind": "internal"}, headers=ops)
    assert listed.status_code == 200
    assert listed.json()["counts"] == {"internal": 3}
    ref = f"{filled.topic(POSTINGS)}:0:2"
    shown = client.get(f"/dead-letters/{ref}", headers=ops).json()
    assert shown["error_kind"] == "not_json" and "value" not in shown and "Alice" not in json.dumps(shown)
    assert "Alice" in client.get(f"/dead-letters/{ref}", params={"include_data": True}, headers=ops).text
    assert client.get("/dead-letters/x:1:2:3", headers=ops).status_code == 404
    assert client.post("/dead-letters/replay", json={}, headers=ops).status_code == 422
    first = client.post("/dead-letters/replay", json={"offsets": [ref]}, headers=ops)
    assert first.status_code == 200, first.text
    assert [r["ref"] for r in first.json()["replayed"]] == [ref]
    second = client.post("/dead-letters/replay", json={"offsets": [ref]}, headers=ops).json()
    assert second["replayed"] == [] and second["already_replayed"][0]["replayed_by"] == "ops"
    assert len(asyncio.run(_source(filled, POSTINGS, 1))) == 1
