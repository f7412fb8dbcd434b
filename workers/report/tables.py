"""The report service's own tables: users, their API tokens, their companies, and the
workspace's sign-in sessions. Failure data is the formatter's; these are the only tables
the report service writes."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table

from claimflow.db import metadata

users = Table(
    "users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # An argon2 hash; NULL for a user who signs in with a token only.
    Column("password_hash", String(200)),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 hex; the token itself is never stored
    Column(
        "user_id", String(64), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    # NULL: a token made before tokens expired; it works until revoked.
    Column("expires_at", DateTime(timezone=True)),
)

user_companies = Table(
    "user_companies",
    metadata,
    Column("user_id", String(64), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
    Column("company_id", String(64), primary_key=True),
    # Position 0 is the user's own company: the report's default, as in the biller's screen.
    Column("position", Integer, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # SHA-256 of the cookie's value: a copy of the database signs nobody in.
    Column("session_hash", String(64), primary_key=True),
    Column(
        "user_id", String(64), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
