"""No token, password or session reaches the report service's access log."""

from __future__ import annotations

import logging
import logging.config
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from workers.report.access_log import REDACTED, RedactSecrets, log_config, redact_query


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access() -> Iterator[Records]:
    logging.config.dictConfig(log_config())
    logger = logging.getLogger("uvicorn.access")
    records = Records()
    logger.addHandler(records)
    yield records
    logger.removeHandler(records)
    logger.filters.clear()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/failures?token=cfr_secret&limit=5", f"/failures?token={REDACTED}&limit=5"),
        ("/me?access_token=a&API_KEY=b", f"/me?access_token={REDACTED}&API_KEY={REDACTED}"),
        ("/x?password=p;session=s&sort=-amount", f"/x?password={REDACTED};session={REDACTED}&sort=-amount"),
        ("/x?api%5Fkey=z", f"/x?api%5Fkey={REDACTED}"),
        ("/failures?reason=REQUIRED_FIELD", "/failures?reason=REQUIRED_FIELD"),
        ("/failures", "/failures"),
    ],
)
def test_secret_parameters_are_redacted(target: str, expected: str) -> None:
    assert redact_query(target) == expected


def test_uvicorns_access_record_is_logged_without_the_token(access: Records) -> None:
    # Exactly the call uvicorn's protocol makes for every response.
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/failures?token=cfr_abc123&limit=5", "1.1", 401
    )
    (line,) = access.lines
    assert "cfr_abc123" not in line
    assert f"/failures?token={REDACTED}&limit=5" in line and "401" in line


def test_a_message_with_the_target_inline_is_redacted_too() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /me?password=hunter2 done", None, None)
    assert RedactSecrets().filter(record) is True
    assert "hunter2" not in record.getMessage()


def test_a_real_uvicorn_server_logs_the_request_without_the_token() -> None:
    app = FastAPI()

    @app.get("/failures")
    def failures() -> dict[str, str]:
        return {}

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=log_config()))
    records = Records()
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(records)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        (port,) = {s.getsockname()[1] for srv in server.servers for s in srv.sockets}
        httpx.get(f"http://127.0.0.1:{port}/failures?access_token=cfr_leak&limit=5", timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        logger.removeHandler(records)
        logger.filters.clear()
    (line,) = [line for line in records.lines if "/failures" in line]
    assert "cfr_leak" not in line and f"access_token={REDACTED}&limit=5" in line
