"""Signing in and out of the workspace, the session every page depends on, and CSRF.

A session is a random cookie (HttpOnly, SameSite=Strict, Secure over TLS) naming a row of
`web_sessions`; it ends at sign-out or after `CLAIMFLOW_SESSION_HOURS`. Every form that
changes something carries the session's CSRF token (a hidden field, or the X-CSRF-Token
header for scripts), checked by `checked_form`. The sign-in form itself has no session yet,
so it uses a double-submit cookie.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from claimflow.db import unit_of_work
from workers.report import accounts
from workers.report.accounts import WebSession
from workers.report.web.templating import render

COOKIE = "claimflow_session"
LOGIN_CSRF_COOKIE = "claimflow_login_csrf"
MAX_FIELD = 512  # a user name, password or token is never longer

router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    """No live session: the page answers with the sign-in page (see `mount`)."""

    def __init__(self, next_path: str, expired: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.expired = expired


class CsrfRejected(Exception):
    """A form without the session's CSRF token: refused (403), nothing changed."""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def safe_next(path: str | None) -> str:
    """Only a path on this site: never //host or a scheme (an open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/failed-charges"
    return path


def signed_in(request: Request) -> WebSession:
    """The page's session, or SignInRequired."""
    cookie = request.cookies.get(COOKIE)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not cookie or len(cookie) > MAX_FIELD:
        raise SignInRequired(here, expired=False)
    with request.app.state.engine.connect() as conn:
        found = accounts.find_session(conn, cookie, request.app.state.clock())
    if found is None:
        raise SignInRequired(here, expired=True)
    return found


Session = Annotated[WebSession, Depends(signed_in)]


async def checked_form(request: Request, session: Session) -> FormData:
    """The form of a request that changes something, once its CSRF token is checked."""
    form = await request.form()
    sent = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
    if not isinstance(sent, str) or not secrets.compare_digest(sent, session.csrf_token):
        raise CsrfRejected()
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def _login_page(request: Request, *, message: str | None, next_path: str, status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"message": message, "next": next_path, "csrf_token": token},
        session=None,
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/login"
    )
    return response


@router.get("/login")
def login_form(
    request: Request, next: str | None = None, expired: bool = False, out: bool = False
) -> Response:
    message = None
    if expired:
        message = "Your session has ended. Sign in again to go on."
    elif out:
        message = "You are signed out."
    return _login_page(request, message=message, next_path=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    user: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_page(
            request,
            message="The sign-in form had expired. Please sign in again.",
            next_path=target,
            status_code=status.HTTP_403_FORBIDDEN,
        )
    state = request.app.state
    now = state.clock()
    with unit_of_work(state.engine) as conn:
        if token.strip():
            caller = accounts.caller_for_token(conn, token.strip(), now)
        else:
            caller = accounts.check_password(conn, user.strip(), password)
        if caller is None:
            return _login_page(
                request,
                message="That user name and password (or API token) did not match. Try again.",
                next_path=target,
                status_code=status.HTTP_401_UNAUTHORIZED,
            )
        cookie, _ = accounts.start_session(conn, caller, now, state.settings.session_hours)
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(state.settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: Session, _: CheckedForm) -> Response:
    with unit_of_work(request.app.state.engine) as conn:
        accounts.end_session(conn, session.session_hash)
    response = RedirectResponse("/login?out=1", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def home(session: Session) -> Response:
    return RedirectResponse("/failed-charges", status_code=status.HTTP_303_SEE_OTHER)


def sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    """Pages go to the sign-in page and come back; a script or event stream gets 401."""
    accepts = request.headers.get("accept", "")
    if "text/html" not in accepts:
        return Response("sign in first", status_code=status.HTTP_401_UNAUTHORIZED)
    url = f"/login?next={quote(exc.next_path, safe='')}" + ("&expired=1" if exc.expired else "")
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
