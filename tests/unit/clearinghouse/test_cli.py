"""`claimflow x12`: list, export, resend and import-ack against a real database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import Settings, get_settings
from contracts.posting import Posting
from tests.unit.clearinghouse.claims import CREATED, dependent_replacement
from tests.unit.clearinghouse.validator import validate
from workers.clearinghouse import cli
from workers.clearinghouse.handler import send_claims
from workers.clearinghouse.routing import load_routing
from workers.clearinghouse.x12_ack_files import ElementError, ack_999

runner = CliRunner()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Posting]:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    create_all(make_engine(url))
    settings = get_settings().model_copy(update={"database_url": url, "x12_outbox": tmp_path / "outbox"})
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    sent: list[Posting] = []

    async def publish(_: Settings, postings: Sequence[Posting]) -> None:
        sent.extend(postings)

    monkeypatch.setattr(cli, "publish_postings", publish)
    claims = [
        dependent_replacement().model_copy(update={"claim_id": f"CLM-4-{n}", "bill_id": f"CLM-4-{n}"})
        for n in (1, 2)
    ]
    with unit_of_work(make_engine(url)) as conn:
        send_claims(conn, claims, load_routing(), tmp_path / "outbox", CREATED)
    return sent


def test_list_export_resend_and_import(published: list[Posting], tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    listed = runner.invoke(cli.app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    [interchange] = orjson.loads(listed.output)
    assert interchange["file_name"] == "837P_SAMPLECH_000000001.x12"
    assert [c["status"] for c in interchange["claims"]] == ["sent", "sent"]
    assert "CLM-4-1" in runner.invoke(cli.app, ["list"], env={"COLUMNS": "200"}).output

    exported = runner.invoke(cli.app, ["export", "--claim", "CLM-4-2"])
    assert exported.exit_code == 0, exported.output
    assert validate((outbox / "837P_SAMPLECH_000000002.x12").read_text()).errors == []
    assert runner.invoke(cli.app, ["export"]).exit_code != 0

    (outbox / "837P_SAMPLECH_000000001.x12").unlink()
    assert runner.invoke(cli.app, ["resend", "CLAIMFLOW:000000001"]).exit_code == 0
    assert (outbox / "837P_SAMPLECH_000000001.x12").exists()
    assert runner.invoke(cli.app, ["resend", "nope"]).exit_code == 1

    ack = tmp_path / "999.x12"
    first = (outbox / "837P_SAMPLECH_000000001.x12").read_text()
    ack.write_text(ack_999(first, 9, CREATED, {"0001": ElementError("DMG", 14, 2, "8")}))
    result = runner.invoke(cli.app, ["import-ack", str(ack)])
    assert result.exit_code == 0, result.output
    assert "1 rejected" in result.output
    assert [p.bill_id for p in published] == ["CLM-4-1"]
    assert "invalid date" in published[0].note
    again = runner.invoke(cli.app, ["import-ack", str(ack)])
    assert "imported before" in again.output and len(published) == 2 and published[0] == published[1]

    shown = runner.invoke(cli.app, ["bill", "CLM-4-1", "--json"])
    [row] = orjson.loads(shown.output)
    assert row["status"] == "rejected" and "invalid date" in row["status_detail"]
    assert runner.invoke(cli.app, ["bill", "nope"]).exit_code == 1

    bad = tmp_path / "bad.x12"
    bad.write_text("not x12")
    refused = runner.invoke(cli.app, ["import-ack", str(bad)])
    assert refused.exit_code == 2 and "ISA" in refused.output
