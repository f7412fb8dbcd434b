"""The report service's access log, without secrets: a token or password a client put in a
query string is refused by the API, but uvicorn logs the request line before anyone looks.

`RedactSecrets` rewrites the request line of each `uvicorn.access` record so that the value
of every query parameter named like a secret reads `[redacted]`; `log_config` is uvicorn's
own logging configuration with that filter on the access logger, for `uvicorn.run`.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

#: Query parameter names whose values are never logged (matched anywhere in the name).
SECRET_NAME = re.compile(
    r"token|passw|pwd|secret|session|api[_-]?key|apikey|auth|credential|cookie|signature|csrf",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact_query(target: str) -> str:
    """A request target ('/path?a=1&token=x') with every secret-named parameter's value hidden."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    parts = []
    for pair in re.split(r"([&;])", query):
        if pair in ("&", ";"):
            parts.append(pair)
            continue
        name = pair.partition("=")[0]
        parts.append(f"{name}={REDACTED}" if SECRET_NAME.search(unquote_plus(name)) else pair)
    return f"{path}?{''.join(parts)}"


class RedactSecrets(logging.Filter):
    """Hides secret query parameters in every string argument of a record (uvicorn passes the
    request target as one) and in the message itself. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(a) if isinstance(a, str) and "?" in a else a for a in record.args
            )
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = re.sub(r"\S*\?\S*", lambda m: redact_query(m.group(0)), record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with RedactSecrets on its access and error loggers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": f"{__name__}.RedactSecrets"}
    for name in ("uvicorn.access", "uvicorn.error"):
        config["loggers"].setdefault(name, {}).setdefault("filters", []).append("redact_secrets")
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_secrets")
    return config
