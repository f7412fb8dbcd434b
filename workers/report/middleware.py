"""What every request to the report service passes through, as plain ASGI middleware.

- `BodyLimit`: a body longer than the limit is refused with 413 before the app reads it
  when the client says its length (Content-Length), and as soon as the count passes the
  limit when it does not (chunked): a client never makes the service hold more than the
  limit in memory.
- `CredentialGuard`: a request with a credential in its query string is refused (a URL
  lands in logs, histories and proxies).
- `SecurityHeaders`: what browsers are told about every answer, and the pages' strict
  Content-Security-Policy.

Plain ASGI rather than starlette's BaseHTTPMiddleware: that one runs the app in a task of
its own and reads the body through a wrapper, which turned the body limit's 413 into a 400.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders, QueryParams
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workers.report.auth import TOKEN_PREFIX

#: Query parameters that would carry a credential.
CREDENTIAL_PARAMS = frozenset({"token", "access_token", "api_key", "apikey", "key", "password", "auth"})

#: Pages may load scripts and styles from this site only; no frame may embed them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def credential_in_query(query_string: bytes) -> bool:
    return any(
        name.lower() in CREDENTIAL_PARAMS or value.startswith(TOKEN_PREFIX)
        for name, value in QueryParams(query_string.decode("latin-1")).multi_items()
    )


class CredentialGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and credential_in_query(scope.get("query_string", b"")):
            refused = JSONResponse(
                {"detail": "send the API token in the Authorization header, never in the URL"},
                status_code=400,
            )
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


def too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes, the most this service reads; send less"


class BodyTooLarge(HTTPException):
    """Raised from `receive` while streaming; an HTTPException, so the app answers it as 413
    wherever it was reading the body (FastAPI re-raises HTTPException from body parsing)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await _refuse(send, 400, "Content-Length is not a number")
            return
        if declared > self.max_bytes:
            await _refuse(send, 413, too_large_message(self.max_bytes))
            return
        started = False
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:
            # Read outside the app's own exception handling (a plain Starlette app, a
            # background reader): answer here while nothing has been sent yet.
            if started:
                raise
            await _refuse(send, 413, str(exc.detail))


def _content_length(scope: Scope) -> int | None:
    """The declared length; -1 when none was declared; None when it is not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
            return length if length >= 0 else None
    return -1


async def _refuse(send: Send, status: int, detail: str) -> None:
    response = JSONResponse({"detail": detail}, status_code=status, headers={"Connection": "close"})
    scope: dict[str, Any] = {"type": "http"}

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)
