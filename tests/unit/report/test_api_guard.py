"""Credentials belong in the Authorization header: the API refuses them in a URL, and logs
requests without their query strings."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from claimflow.db import create_all, make_engine, unit_of_work
from claimflow.settings import get_settings
from workers.report import accounts
from workers.report.api import create_app


@pytest.fixture
def client_and_token(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'report.db'}")
    create_all(engine)
    with unit_of_work(engine) as conn:
        token = accounts.create_user(conn, "biller-1", ["acme-therapy"], dt.datetime.now(dt.UTC))
    with TestClient(create_app(get_settings(), engine=engine)) as client:
        yield client, token
    engine.dispose()


@pytest.mark.parametrize("name", ["token", "access_token", "api_key", "password", "q"])
def test_a_credential_in_the_query_string_is_refused_and_not_logged(
    client_and_token: tuple[TestClient, str], caplog: pytest.LogCaptureFixture, name: str
) -> None:
    client, token = client_and_token
    with caplog.at_level(logging.INFO, logger="claimflow.report"):
        answer = client.get("/failures", params={name: token}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400
    assert "Authorization header" in answer.json()["detail"]
    assert token not in caplog.text
    assert "GET /failures 400" in caplog.text


def test_requests_are_logged_without_their_query_string(
    client_and_token: tuple[TestClient, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, token = client_and_token
    with caplog.at_level(logging.INFO, logger="claimflow.report"):
        answer = client.get(
            "/failures",
            params={"payer": "Medicare", "limit": 5},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text
    assert "GET /failures 200" in caplog.text
    assert "Medicare" not in caplog.text and "limit" not in caplog.text
