"""Secrets come from the environment or from *_FILE settings, and never show: not in a
printed Settings, not in a message that names the database, not in Kafka client options'
neighbours (the broker layout)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from claimflow.broker.security import client_kwargs, faust_credentials
from claimflow.db import connect_problem, safe_url
from claimflow.settings import Settings
from devtools.kafka.kraft import BrokerLayout, BrokerSecurity, render_properties, scram_arguments

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pa55-W0rd-never-logged"


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CLAIMFLOW_SASL", "CLAIMFLOW_DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(ROOT)


def test_the_sasl_password_comes_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "sasl"
    secret.write_text(PASSWORD + "\n")
    monkeypatch.setenv("CLAIMFLOW_SASL_PASSWORD_FILE", str(secret))
    settings = Settings()
    assert settings.sasl_password == SecretStr(PASSWORD)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)


def test_the_database_url_comes_from_a_file_and_is_not_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"postgresql://claimflow:{PASSWORD}@db.example:5432/claimflow?sslmode=verify-full"
    secret = tmp_path / "db-url"
    secret.write_text(url + "\r\n")
    monkeypatch.setenv("CLAIMFLOW_DATABASE_URL_FILE", str(secret))
    settings = Settings()
    assert settings.database_url == url
    assert PASSWORD not in repr(settings)


def test_a_value_and_its_file_together_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "sasl"
    secret.write_text(PASSWORD)
    monkeypatch.setenv("CLAIMFLOW_SASL_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("CLAIMFLOW_SASL_PASSWORD", "other")
    with pytest.raises(ValidationError, match="not both"):
        Settings()


@pytest.mark.parametrize("content", [None, ""])
def test_a_missing_or_empty_secret_file_is_named_not_read_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None
) -> None:
    secret = tmp_path / "db-url"
    if content is not None:
        secret.write_text(content)
    monkeypatch.setenv("CLAIMFLOW_DATABASE_URL_FILE", str(secret))
    with pytest.raises(ValidationError, match=f"database_url_file: .*{secret.name}"):
        Settings()


def test_database_urls_are_shown_with_the_password_masked() -> None:
    url = f"postgresql://claimflow:{PASSWORD}@db.example:5432/claimflow?sslmode=verify-full"
    assert safe_url(url) == "postgresql://claimflow:***@db.example:5432/claimflow?sslmode=verify-full"
    problem = connect_problem(RuntimeError(f"could not connect\ndetail {url}"), url)
    assert PASSWORD not in problem.splitlines()[0]
    assert "db.example" in problem


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", [["db", "upgrade"], ["bills", "collections"]])
def test_a_database_that_refuses_us_is_named_with_the_password_masked(
    tmp_path: Path, command: list[str]
) -> None:
    url = f"postgresql://claimflow:{PASSWORD}@127.0.0.1:{_closed_port()}/claimflow"
    secret = tmp_path / "db-url"
    secret.write_text(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMFLOW_DATABASE_URL")}
    env["CLAIMFLOW_DATABASE_URL_FILE"] = str(secret)
    proc = subprocess.run(
        [sys.executable, "-m", "claimflow", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "claimflow:***@127.0.0.1" in " ".join(output.split())
    assert PASSWORD not in output
    assert "Traceback" not in output


def test_one_translation_of_settings_into_kafka_client_options(tmp_path: Path) -> None:
    settings = Settings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="claimflow",
        sasl_password=SecretStr(PASSWORD),
    )
    kwargs = client_kwargs(settings)
    assert kwargs == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "claimflow",
        "sasl_plain_password": PASSWORD,
    }
    credentials = faust_credentials(settings)
    assert (credentials.username, credentials.password, credentials.mechanism.value) == (
        "claimflow",
        PASSWORD,
        "SCRAM-SHA-512",
    )
    assert PASSWORD not in repr(credentials)
    assert client_kwargs(Settings()) == {} and faust_credentials(Settings()) is None


def test_a_secured_broker_layout_keeps_its_passwords_out_of_its_repr(tmp_path: Path) -> None:
    security = BrokerSecurity(
        keystore=tmp_path / "keystore.pem",
        truststore=tmp_path / "ca.pem",
        users=(("claimflow-broker", PASSWORD), ("claimflow", "other-" + PASSWORD)),
    )
    layout = BrokerLayout(port=29500, controller_port=29501, run_dir=tmp_path, security=security)
    assert PASSWORD not in repr(layout)
    props = dict(line.split("=", 1) for line in render_properties(layout).splitlines()[1:])
    assert props["listeners"] == "SASL_SSL://127.0.0.1:29500,CONTROLLER://127.0.0.1:29501"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["ssl.keystore.type"] == "PEM"
    assert scram_arguments(security)[1] == f"SCRAM-SHA-512=[name=claimflow-broker,password={PASSWORD}]"
