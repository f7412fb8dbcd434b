"""Alembic, run from code: workers, tests and `claimflow db upgrade` bring the schema to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


#: The PostgreSQL advisory lock every upgrade takes ("cflw" as an integer).
MIGRATION_LOCK = 0x63666C77


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Every worker upgrades the schema as it starts; started together on a fresh
            # database (docker compose up, a scaled-out group) their concurrent CREATEs
            # deadlocked or died on "already exists". One at a time, the others find the
            # schema at head. (SQLite's BEGIN IMMEDIATE already makes them take turns.)
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
