"""The alembic migrations build exactly the schema the models declare, on both databases."""

import threading

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


def test_workers_starting_together_on_a_fresh_database_all_start(db_url: str) -> None:
    # Every worker upgrades the schema at start; docker compose starts four at once.
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker_start() -> None:
        engine = make_engine(db_url)
        try:
            start.wait()
            create_all(engine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker_start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a worker is still upgrading"
    assert errors == []
    command.check(config(db_url))
