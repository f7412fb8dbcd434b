"""Signing in: passwords, the workspace's sessions, and the lifetime of API tokens.

Passwords are hashed with argon2 (argon2-cffi's defaults, the OWASP recommendation); a
session cookie and an API token are long random strings stored only as SHA-256 hashes, so
a copy of the database signs nobody in. Every function takes `now` so that expiry is
tested without waiting.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from workers.report.auth import Caller, check_user_id, hash_token, new_token
from workers.report.tables import api_tokens, user_companies, users, web_sessions

MIN_PASSWORD = 12
MAX_PASSWORD = 256  # argon2 takes any length; a bound keeps a huge form field from costing CPU

_hasher = PasswordHasher()
# Verifying against this when the user does not exist takes as long as a real check, so
# the time a failed sign-in takes does not tell whether the user name exists.
_DUMMY_HASH = _hasher.hash("claimflow-no-such-user-password")


class PasswordRejected(ValueError):
    """A new password that does not meet the rules, said in words."""


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: who, their companies, and the CSRF token its forms carry."""

    caller: Caller
    session_hash: str
    csrf_token: str
    expires_at: dt.datetime


# --- users ------------------------------------------------------------------------------


def create_user(
    conn: Connection, user_id: str, companies: Sequence[str], now: dt.datetime, *, token_days: int = 90
) -> str:
    """Add a user (or add companies to one) and return a NEW token; only its hash is kept."""
    check_user_id(user_id)
    if not companies:
        raise ValueError("a user belongs to at least one company")
    exists = conn.execute(select(users.c.user_id).where(users.c.user_id == user_id)).first()
    if exists is None:
        conn.execute(insert(users).values(user_id=user_id, created_at=now))
    known = companies_of(conn, user_id)
    added = [c for c in dict.fromkeys(companies) if c not in known]
    if added:
        conn.execute(
            insert(user_companies),
            [{"user_id": user_id, "company_id": c, "position": len(known) + i} for i, c in enumerate(added)],
        )
    token, _ = issue_token(conn, user_id, now, token_days)
    return token


def companies_of(conn: Connection, user_id: str) -> tuple[str, ...]:
    rows = conn.execute(
        select(user_companies.c.company_id)
        .where(user_companies.c.user_id == user_id)
        .order_by(user_companies.c.position)
    )
    return tuple(r.company_id for r in rows)


def caller_for_user(conn: Connection, user_id: str) -> Caller | None:
    """For the CLI's `--as USER`: the same company rules without a token."""
    if conn.execute(select(users.c.user_id).where(users.c.user_id == user_id)).first() is None:
        return None
    return Caller(user_id, companies_of(conn, user_id))


def delete_user(conn: Connection, user_id: str) -> None:
    for table in (web_sessions, api_tokens, user_companies, users):
        conn.execute(delete(table).where(table.c.user_id == user_id))


# --- passwords and tokens ----------------------------------------------------------------


def check_password_rules(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordRejected(f"a password has at most {MAX_PASSWORD} characters")
    return password


def set_password(conn: Connection, user_id: str, password: str) -> None:
    """Set (or replace) a user's password; their open sessions end, as after a reset."""
    check_password_rules(password)
    done = conn.execute(
        update(users).where(users.c.user_id == user_id).values(password_hash=_hasher.hash(password))
    )
    if done.rowcount == 0:
        raise LookupError(f"no user {user_id!r}")
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def check_password(conn: Connection, user_id: str, password: str) -> Caller | None:
    """The user, when the password is theirs; None otherwise (unknown user included)."""
    row = conn.execute(select(users.c.password_hash).where(users.c.user_id == user_id)).first()
    stored = row.password_hash if row is not None else None
    if len(password) > MAX_PASSWORD:
        return None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    return Caller(user_id, companies_of(conn, user_id))


def caller_for_token(conn: Connection, token: str, now: dt.datetime) -> Caller | None:
    """The user of a live API token: not revoked, not expired."""
    row = conn.execute(
        select(api_tokens.c.user_id).where(
            and_(
                api_tokens.c.token_hash == hash_token(token),
                api_tokens.c.revoked_at.is_(None),
                or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
            )
        )
    ).first()
    if row is None:
        return None
    return Caller(row.user_id, companies_of(conn, row.user_id))


def issue_token(
    conn: Connection, user_id: str, now: dt.datetime, days: int
) -> tuple[str, dt.datetime | None]:
    """A new API token for the user (shown once) and when it expires (`days` 0: never)."""
    expires = now + dt.timedelta(days=days) if days > 0 else None
    token = new_token()
    conn.execute(
        insert(api_tokens).values(
            token_hash=hash_token(token), user_id=user_id, created_at=now, expires_at=expires
        )
    )
    return token, expires


def revoke_tokens(conn: Connection, user_id: str, now: dt.datetime) -> int:
    """Revoke every live token of the user; how many were revoked."""
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def rotate_token(
    conn: Connection, user_id: str, now: dt.datetime, days: int
) -> tuple[str, dt.datetime | None]:
    """Revoke the user's tokens and issue one new token, in one transaction."""
    revoke_tokens(conn, user_id, now)
    return issue_token(conn, user_id, now, days)


# --- sessions ----------------------------------------------------------------------------


def start_session(conn: Connection, caller: Caller, now: dt.datetime, hours: float) -> tuple[str, WebSession]:
    """A new session for a signed-in user: the cookie's value (kept by the browser only)
    and the session. Expired sessions of every user are cleared on the way."""
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
    cookie = secrets.token_urlsafe(32)
    session = WebSession(
        caller=caller,
        session_hash=hash_token(cookie),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=now + dt.timedelta(hours=hours),
    )
    conn.execute(
        insert(web_sessions).values(
            session_hash=session.session_hash,
            user_id=caller.user_id,
            csrf_token=session.csrf_token,
            created_at=now,
            expires_at=session.expires_at,
        )
    )
    return cookie, session


def find_session(conn: Connection, cookie: str, now: dt.datetime) -> WebSession | None:
    """The live session a cookie names; None when unknown, signed out or expired."""
    row = conn.execute(
        select(web_sessions).where(
            web_sessions.c.session_hash == hash_token(cookie), web_sessions.c.expires_at > now
        )
    ).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    return WebSession(
        caller=Caller(row.user_id, companies_of(conn, row.user_id)),
        session_hash=row.session_hash,
        csrf_token=row.csrf_token,
        expires_at=expires,
    )


def end_session(conn: Connection, session_hash: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.session_hash == session_hash))
