"""The alembic migrations build exactly the schema the models declare, on both databases."""

from alembic import command
from sqlalchemy import inspect

from claimflow.db import create_all, make_engine
from claimflow.migrate import config
from claimflow.schema import metadata


def test_migrations_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    create_all(engine)
    # Raises when autogenerate would find a difference: a table or column changed in a
    # storage module without a migration.
    command.check(config(db_url))
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_upgrading_twice_changes_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    create_all(engine)
    create_all(engine)
