"""The real databases behind `db_url`: both answer through claimflow.db.make_engine."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from claimflow.db import make_engine, unit_of_work


def test_postgres_answers(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar() == 1
            assert "PostgreSQL" in conn.execute(text("select version()")).scalar_one()
    finally:
        engine.dispose()


def test_each_db_url_is_fresh_and_transactional(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with unit_of_work(engine) as conn:
            # Fresh: the table cannot exist yet, or this test saw another test's database.
            conn.execute(text("create table probe (id integer primary key, note varchar(20))"))
            conn.execute(text("insert into probe (id, note) values (1, 'kept')"))
        with pytest.raises(RuntimeError), unit_of_work(engine) as conn:
            conn.execute(text("insert into probe (id, note) values (2, 'rolled back')"))
            raise RuntimeError("abort")
        with engine.connect() as conn:
            assert conn.execute(text("select note from probe order by id")).scalars().all() == ["kept"]
    finally:
        engine.dispose()


def test_db_url_kinds(db_url: str, request: pytest.FixtureRequest) -> None:
    kind = request.node.callspec.params["db_url"]
    assert db_url.startswith("sqlite:///" if kind == "sqlite" else "postgresql")
