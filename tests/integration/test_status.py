"""`claimflow status` reads real consumer-group lag from the broker and counts from the database."""

from claimflow.db import create_all, make_engine
from claimflow.settings import Settings
from claimflow.status import gather
from contracts.codec import encode
from contracts.topics import CHARGES
from tests.factories import charge
from tests.pipeline import produce


async def test_lag_counts_what_no_worker_has_processed(kafka_settings: Settings, sqlite_url: str) -> None:
    charges = [charge(charge_id=f"S{i}") for i in range(3)]
    await produce(
        kafka_settings.bootstrap_servers,
        kafka_settings.topic(CHARGES),
        [(c.account.encode(), encode(c)) for c in charges],
    )
    engine = make_engine(sqlite_url)
    create_all(engine)
    import asyncio

    found = await asyncio.to_thread(gather, kafka_settings, engine)
    assert found["broker"]["running"] is True
    assert found["lag_error"] is None
    formatter = next(x for x in found["lag"] if x["topic"] == kafka_settings.topic(CHARGES))
    assert (formatter["worker"], formatter["behind"], formatter["committed"]) == ("formatter", 3, 0)
    assert found["counts"]["claims"] == 0 and found["counts"]["open failures"] == 0
