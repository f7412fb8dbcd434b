"""The one settings object. Everything comes from the environment, prefix CLAIMFLOW_.

A secret may instead come from a file, as Docker and Kubernetes mount them:
CLAIMFLOW_SASL_PASSWORD_FILE and CLAIMFLOW_DATABASE_URL_FILE name a file whose content
(less a trailing newline) is the setting. Setting both a value and its file is an error.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


#: Running from a checkout (an editable install), not from an installed wheel.
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "claimflow").is_dir()

#: `var/` of the checkout when running from one (what `make run` and the tests share), else
#: `var/` of the working directory: an installed package lives in site-packages, which is
#: neither ours to write nor writable by a service user. Deployments set CLAIMFLOW_HOME
#: (the image: /var/lib/claimflow, owned by its user).
DEFAULT_HOME = ROOT / "var" if CHECKOUT else Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMFLOW_", env_file=".env", extra="ignore")

    # Broker. KAFKA_BOOTSTRAP_SERVERS (no prefix) is honoured too, because that is what
    # operators and CI systems already export for an existing cluster.
    bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias="CLAIMFLOW_BOOTSTRAP_SERVERS",
    )
    topic_prefix: str = ""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    # Storage. The URL may hold a password: repr=False keeps it out of a printed Settings,
    # and claimflow.db.safe_url masks it wherever a URL is shown. Unset: a SQLite file in
    # the checkout's var/, or, installed, in `home`.
    database_url: str = Field(default=f"sqlite:///{DEFAULT_HOME / 'claimflow.db'}", repr=False)
    database_url_file: Path | None = None

    # Where the project keeps its runtime files (broker jars cache, broker data, logs).
    home: Path = DEFAULT_HOME
    kafka_version: str = "4.1.1"

    # Formatter runs: a run is one batch, what the consumer has fetched, at most this many
    # charges (it never waits to fill, so a quiet feed gets small runs and quick answers).
    # Under a backlog 2,000 took 12% less CPU per charge than 500; 4,000 no less than 2,000.
    run_max_charges: int = 2000

    # Clearinghouse: the folder 837P interchanges are written to (what an SFTP uploader
    # picks up; default <home>/x12/outbox) and the routing file (submitter, receivers and
    # each payer's route, as data; default the one shipped in workers/clearinghouse/).
    x12_outbox: Path | None = None
    x12_routing: Path | None = None
    # The folder the worker watches for 999 and 277CA files (default <home>/x12/inbox);
    # each is imported once and moved to its done/ subfolder.
    x12_inbox: Path | None = None

    # Reporting.
    report_host: str = "127.0.0.1"
    report_port: int = 8700
    # The workspace's sign-in: a session lasts this long from sign-in; a new API token
    # this many days (0: no expiry).
    session_hours: float = Field(default=12, gt=0)
    token_days: int = Field(default=90, ge=0)
    # The most bytes of a request body the report service reads; more answers 413.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # Observability. Each worker serves /metrics, /livez and /readyz on
    # metrics_port + its worker's offset (formatter 0, posting 1, reprocess 2), or the next
    # free port in steps of 10 when another instance on the host holds it; 0 turns it off.
    metrics_port: int = Field(default=9460, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # /livez fails when the consumer loop has neither polled nor finished a batch for this long.
    liveness_seconds: float = Field(default=300, gt=0)
    # Spans of the W3C trace context carried in Kafka headers: "none" (the context is
    # carried, no span is recorded) or "console" (spans printed to stderr).
    trace_exporter: Literal["none", "console"] = "none"
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    @model_validator(mode="after")
    def _secrets_from_files(self) -> Settings:
        if self.sasl_password_file is not None:
            if self.sasl_password is not None:
                raise ValueError("set CLAIMFLOW_SASL_PASSWORD or CLAIMFLOW_SASL_PASSWORD_FILE, not both")
            self.sasl_password = SecretStr(_read_secret(self.sasl_password_file, "sasl_password_file"))
        if self.database_url_file is not None:
            if "database_url" in self.model_fields_set:
                raise ValueError("set CLAIMFLOW_DATABASE_URL or CLAIMFLOW_DATABASE_URL_FILE, not both")
            self.database_url = _read_secret(self.database_url_file, "database_url_file")
        elif "database_url" not in self.model_fields_set and not CHECKOUT:
            self.database_url = f"sqlite:///{self.home / 'claimflow.db'}"
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def _read_secret(path: Path, name: str) -> str:
    """A secret file's content without its trailing newline. Errors name the file, never
    what is in it."""
    try:
        value = path.read_text().rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None
    if not value:
        raise ValueError(f"{name}: {path} is empty")
    return value


@lru_cache
def get_settings() -> Settings:
    import os

    settings = Settings()
    override = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if override and "CLAIMFLOW_BOOTSTRAP_SERVERS" not in os.environ:
        settings = settings.model_copy(update={"bootstrap_servers": override})
    return settings
