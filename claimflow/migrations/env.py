"""Alembic environment: uses the connection handed over by claimflow.migrate, or the URL."""

from __future__ import annotations

from alembic import context

from claimflow.db import make_engine
from claimflow.schema import metadata
from claimflow.settings import get_settings

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
