"""`claimflow report` commands on a SQLite file filled by the real formatter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claimflow.db import create_all, make_engine
from claimflow.settings import get_settings
from contracts.reprocess import ReprocessRequest
from tests.unit.report.data import fill
from workers.report import cli, publish

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[ReprocessRequest]:
    url = f"sqlite:///{tmp_path / 'report.db'}"
    engine = make_engine(url)
    create_all(engine)
    fill(engine)
    monkeypatch.setattr(cli, "get_settings", lambda: get_settings().model_copy(update={"database_url": url}))
    sent: list[ReprocessRequest] = []

    class FakePublisher:
        def __init__(self, _settings: Any) -> None: ...

        async def __call__(self, request: ReprocessRequest) -> None:
            sent.append(request)

    monkeypatch.setattr(publish, "KafkaPublisher", FakePublisher)
    return sent


def run(*args: str) -> Any:
    result = runner.invoke(cli.app, list(args))
    return result


def test_create_user_prints_a_token_once(db: list[ReprocessRequest]) -> None:
    result = run("create-user", "ann", "--company", "acme-therapy", "--company", "beta-co")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("cfr_")


def test_search_json_and_table_and_groups(db: list[ReprocessRequest]) -> None:
    run("create-user", "ann", "--company", "acme-therapy")
    result = run("search", "--as", "ann", "--json", "--sort", "-amount")
    assert result.exit_code == 0, result.output
    assert [i["charge_id"] for i in json.loads(result.output)["items"]] == ["A3", "A1", "A2"]
    table = run("search", "--company", "acme-therapy", "--practice", "south")
    assert "A3" in table.output and "A1" not in table.output
    groups = json.loads(run("search", "--as", "ann", "--group-by", "payer", "--json").output)
    assert {g["key"]: g["charges"] for g in groups["groups"]} == {"Medicare": 2, "Aetna": 1}
    assert "REQUIRED_FIELD" in run("search", "--as", "ann", "--group-by", "reason").output


def test_search_by_amount_service_date_procedure_and_missing(db: list[ReprocessRequest]) -> None:
    def found(*args: str) -> list[str]:
        result = run("search", "--company", "acme-therapy", "--json", "--sort", "charge_id", *args)
        assert result.exit_code == 0, result.output
        return [i["charge_id"] for i in json.loads(result.output)["items"]]

    assert found("--amount-min", "50", "--amount-max", "100.00") == ["A1"]
    assert found("--procedure", "xx2") == ["A3"]
    assert found("--service-from", "2026-11-17", "--service-to", "2026-11-17") == ["A1", "A2", "A3"]
    assert found("--service-to", "2026-11-16") == []
    assert found("--missing", "payer") == []
    groups = json.loads(
        run("search", "--company", "acme-therapy", "--group-by", "procedure", "--json").output
    )
    assert {g["key"]: g["drill"] for g in groups["groups"]} == {
        "97110": {"procedure": "97110"},
        "XX1": {"procedure": "XX1"},
        "XX2": {"procedure": "XX2"},
    }
    assert run("search", "--company", "acme-therapy", "--amount-min", "1.001").exit_code == 2
    assert run("search", "--company", "acme-therapy", "--missing", "run").exit_code == 2


def test_search_refuses_another_company_and_bad_input(db: list[ReprocessRequest]) -> None:
    run("create-user", "ann", "--company", "acme-therapy")
    assert run("search", "--as", "ann", "--company", "other-co").exit_code == 2
    assert run("search", "--as", "ann", "--sort", "nope").exit_code == 2
    assert run("search").exit_code == 2


def test_show(db: list[ReprocessRequest]) -> None:
    run("create-user", "ann", "--company", "acme-therapy")
    result = run("show", "A1")
    assert result.exit_code == 0, result.output
    assert "Versions" in result.output and "REQUIRED_FIELD" in result.output
    assert json.loads(run("show", "A1", "--as", "ann", "--json").output)["failure_count"] == 2
    assert run("show", "O1", "--as", "ann").exit_code == 2


def test_reprocess_publishes_one_request_with_corrections(db: list[ReprocessRequest]) -> None:
    run("create-user", "ann", "--company", "acme-therapy")
    result = run(
        "reprocess", "A1", "A5", "--set", "patient.birth_date=1950-02-01", "--set", "units=1", "--as", "ann"
    )
    assert result.exit_code == 0, result.output
    assert "skipped A5: not open (status resolved)" in result.output
    (request,) = db
    assert request.charge_ids == ["A1"] and request.requested_by == "ann"
    assert request.corrections == {"A1": {"patient.birth_date": "1950-02-01", "units": 1}}
    assert run("reprocess", "O1", "--as", "ann").exit_code == 2
    assert run("reprocess", "A1").exit_code == 2
    assert len(db) == 1


def test_reprocess_by_filters_shows_the_count_and_asks(db: list[ReprocessRequest]) -> None:
    run("create-user", "ann", "--company", "acme-therapy")
    declined = runner.invoke(
        cli.app, ["reprocess", "--reason", "PROCEDURE_CODE_FORMAT", "--as", "ann"], input="n\n"
    )
    assert "select 2 open failure(s) in acme-therapy: A2, A3" in declined.output
    assert declined.exit_code == 2 and db == []
    accepted = runner.invoke(
        cli.app, ["reprocess", "--reason", "PROCEDURE_CODE_FORMAT", "--as", "ann"], input="y\n"
    )
    assert accepted.exit_code == 0, accepted.output
    assert db[-1].charge_ids == ["A2", "A3"]
    everything = run("reprocess", "--all-open", "--as", "ann", "--yes")
    assert everything.exit_code == 0, everything.output
    assert "select 3 open failure(s)" in everything.output and db[-1].charge_ids == ["A1", "A2", "A3"]
    assert run("reprocess", "A1", "--practice", "north", "--as", "ann").exit_code == 2
    assert run("reprocess", "--as", "ann").exit_code == 2  # neither ids nor filters
    assert len(db) == 2


def test_reprocess_refuses_corrections_the_worker_would_skip(db: list[ReprocessRequest]) -> None:
    run("create-user", "ann", "--company", "acme-therapy")
    result = run("reprocess", "A1", "--set", "patient.sex=X", "--as", "ann")
    assert result.exit_code == 2 and "A1 patient.sex:" in result.output
    foreign = run("reprocess", "A1", "--set", "practice_id=rival", "--as", "ann")
    assert foreign.exit_code == 2 and "not one of this company's" in foreign.output
    assert db == []


def test_serve_starts_uvicorn_without_its_access_log(
    db: list[ReprocessRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(kwargs))
    assert run("serve", "--port", "8799").exit_code == 0
    # uvicorn's access log writes query strings; the app logs requests without them.
    assert started["access_log"] is False
