"""The reprocess handler against a real database (SQLite, PostgreSQL), without a broker.

The formatter's tables are filled by running FormatterHandler on test charges, and the
replayed charges are fed back to it, as the pipeline does. The formatter reads each result
as the announcement of its replays (workers/formatter/replays.py) right after the request,
unless a test holds it back to look at the time in between.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, select

from claimflow.db import create_all, make_engine, unit_of_work
from contracts import Charge, ChargeFailed, ReprocessRequest, ReprocessResult
from contracts.codec import decode, encode
from tests.factories import charge
from workers.common.messages import Incoming, Outgoing, Received
from workers.formatter import tables as ft
from workers.formatter.handler import FormatterHandler
from workers.formatter.replays import ReplayAnnouncements
from workers.formatter.rules import RuleBook
from workers.reprocess import storage
from workers.reprocess.handler import ReprocessHandler

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
COMPANY = "acme-therapy"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    create_all(engine)
    yield engine
    engine.dispose()


def incoming(model: Any, offset: int = 0) -> Incoming[Any]:
    return Incoming(model, Received("in", 0, offset, None, encode(model)))


def format_charges(engine: Engine, charges: Sequence[Charge], day: int = 0) -> list[Outgoing]:
    handler = FormatterHandler(RuleBook.default(), clock=lambda: NOW + dt.timedelta(days=day))
    with unit_of_work(engine) as conn:
        return handler.handle(conn, [incoming(c, i) for i, c in enumerate(charges)])


def reprocess(engine: Engine, *requests: ReprocessRequest, announce: bool = True) -> list[Outgoing]:
    with unit_of_work(engine) as conn:
        out = ReprocessHandler(clock=lambda: NOW).handle(
            conn, [incoming(r, i) for i, r in enumerate(requests)]
        )
    if announce:
        announced(engine, out)
    return out


def announced(engine: Engine, out: list[Outgoing]) -> None:
    """The formatter reads the results among `out`, as its replays' announcements."""
    results = [o for o in out if o.topic.endswith("billing.reprocess-results")]
    batch = [
        Incoming(decode(o.value, ReprocessResult), Received("r", 0, i, o.key, o.value))
        for i, o in enumerate(results)
    ]
    with unit_of_work(engine) as conn:
        ReplayAnnouncements(clock=lambda: NOW).handle(conn, batch)


def request(request_id: str = "R-1", **overrides: Any) -> ReprocessRequest:
    data: dict[str, Any] = {
        "request_id": request_id,
        "requested_by": "biller-1",
        "company_id": COMPANY,
        "requested_at": NOW,
    }
    data.update(overrides)
    return ReprocessRequest.model_validate(data, strict=False)


def split(out: list[Outgoing]) -> tuple[list[Charge], list[ReprocessResult]]:
    charges = [decode(o.value, Charge) for o in out if o.topic.endswith("billing.charges")]
    results = [decode(o.value, ReprocessResult) for o in out if o.topic.endswith("billing.reprocess-results")]
    return charges, results


def failure_row(engine: Engine, charge_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(ft.failures).where(ft.failures.c.charge_id == charge_id)).one()


NO_BIRTH = {
    "id": "P-1",
    "first_name": "Testy",
    "last_name": "Patient",
    "sex": "F",
    "address": {"line1": "1 Test St", "city": "Springfield", "state": "IL", "postal_code": "62701"},
}


def broken() -> list[Charge]:
    return [
        charge(charge_id="CH-1", patient=NO_BIRTH),
        charge(charge_id="CH-2", modifiers=[], patient={**NO_BIRTH, "id": "P-2", "birth_date": "1950-03-04"}),
        charge(
            charge_id="CH-3",
            procedure_code="9711",
            patient={**NO_BIRTH, "id": "P-3", "birth_date": "1950-03-04"},
        ),
    ]


def test_a_corrected_replay_becomes_a_claim_and_resolves_the_failure(engine: Engine) -> None:
    format_charges(engine, broken())
    out = reprocess(
        engine, request(charge_ids=["CH-1"], corrections={"CH-1": {"patient.birth_date": "1950-02-01"}})
    )
    (replayed,), (result,) = split(out)
    assert replayed.charge_id == "CH-1" and replayed.version == 2
    assert replayed.patient.birth_date == dt.date(1950, 2, 1)
    assert out[0].key == replayed.account.encode()
    assert [(r.charge_id, r.new_version) for r in result.replayed] == [("CH-1", 2)] and not result.skipped
    assert failure_row(engine, "CH-1").status == "reprocessing"

    answers = format_charges(engine, [replayed])
    assert any(o.topic.endswith("billing.claims") for o in answers)
    row = failure_row(engine, "CH-1")
    assert row.status == "resolved" and row.resolved_claim_id

    # Asked again: the charge has a claim now, so nothing is replayed.
    again = reprocess(engine, request("R-2", charge_ids=["CH-1"]))
    charges, (result,) = split(again)
    assert not charges and "already claimed" in result.skipped[0].reason


def test_a_redelivered_request_publishes_the_same_bytes_and_changes_nothing(engine: Engine) -> None:
    format_charges(engine, broken())
    req = request(charge_ids=["CH-2"], corrections={"CH-2": {"modifiers": ["GP"]}})
    first = reprocess(engine, req)
    second = reprocess(engine, req)
    assert first == second
    in_one_batch = reprocess(engine, req, req)
    assert in_one_batch == first
    with engine.connect() as conn:
        assert conn.execute(select(storage.items.c.charge_id)).scalars().all() == ["CH-2"]


def test_an_already_reprocessing_failure_is_skipped(engine: Engine) -> None:
    format_charges(engine, broken())
    out = reprocess(engine, request("R-1", charge_ids=["CH-3"]), request("R-2", charge_ids=["CH-3"]))
    charges, results = split(out)
    assert [c.charge_id for c in charges] == ["CH-3"]
    assert results[1].skipped[0].reason == "already being reprocessed"
    later = reprocess(engine, request("R-3", charge_ids=["CH-3"]))
    assert split(later)[1][0].skipped[0].reason == "already being reprocessed"


def test_a_still_wrong_replay_fails_again_keeping_the_oldest_date(engine: Engine) -> None:
    format_charges(engine, broken())
    before = failure_row(engine, "CH-3")
    (replayed,), _ = split(reprocess(engine, request(charge_ids=["CH-3"])))
    answers = format_charges(engine, [replayed], day=2)
    (failed,) = [decode(o.value, ChargeFailed) for o in answers if o.topic.endswith("charge-failures")]
    assert failed.oldest_failure_date == before.oldest_failure_date
    assert failed.failure_count == before.failure_count + 1
    row = failure_row(engine, "CH-3")
    assert row.status == "open" and row.latest_version == 2

    # Open again: a second correction replays version 3.
    fixed = request("R-2", charge_ids=["CH-3"], corrections={"CH-3": {"procedure_code": "97110"}})
    (third,), _ = split(reprocess(engine, fixed))
    assert third.version == 3 and third.procedure_code == "97110"


def test_another_companys_charge_is_not_found_and_untouched(engine: Engine) -> None:
    format_charges(engine, broken())
    out = reprocess(engine, request(company_id="rival-rehab", charge_ids=["CH-1", "CH-404"]))
    charges, (result,) = split(out)
    assert not charges
    assert {(s.charge_id, s.reason) for s in result.skipped} == {
        ("CH-1", "not found in company rival-rehab"),
        ("CH-404", "not found in company rival-rehab"),
    }
    assert failure_row(engine, "CH-1").status == "open"


def test_a_bad_correction_is_a_skip_not_a_crash(engine: Engine) -> None:
    format_charges(engine, broken())
    out = reprocess(
        engine,
        request(
            charge_ids=["CH-1", "CH-2"],
            corrections={"CH-1": {"patient.birth_date": "yesterday"}, "CH-2": {"modifierz": ["GP"]}},
        ),
    )
    charges, (result,) = split(out)
    assert not charges
    why = {s.charge_id: s.reason for s in result.skipped}
    assert "patient.birth_date" in why["CH-1"] and "yesterday" not in why["CH-1"]
    assert "modifierz" in why["CH-2"] and "unknown field" in why["CH-2"]
    assert failure_row(engine, "CH-1").status == "open"


def test_filters_select_the_companys_open_failures(engine: Engine) -> None:
    format_charges(engine, broken())
    run = failure_row(engine, "CH-1").run_number
    out = reprocess(engine, request(filters={"failure_code": "THERAPY_MODIFIER_MISSING", "run_number": run}))
    charges, (result,) = split(out)
    assert [c.charge_id for c in charges] == ["CH-2"] and not result.skipped
    everything = reprocess(engine, request("R-2", filters={"practice_id": "north"}))
    charges, (result,) = split(everything)
    assert sorted(c.charge_id for c in charges) == ["CH-1", "CH-3"]
    assert [(s.charge_id, s.reason) for s in result.skipped] == [("CH-2", "already being reprocessed")]
    nothing = reprocess(engine, request("R-3", company_id="rival-rehab", filters={}))
    charges, (result,) = split(nothing)
    assert not charges and not result.replayed and not result.skipped


def test_a_claim_delay_holds_the_replay(engine: Engine) -> None:
    format_charges(engine, broken())
    hold = dt.date(2026, 12, 15)
    (replayed,), _ = split(
        reprocess(
            engine,
            request(charge_ids=["CH-2"], claim_delay_until=hold, corrections={"CH-2": {"modifiers": ["GP"]}}),
        )
    )
    assert replayed.claim_delay_until == hold
    answers = format_charges(engine, [replayed])
    assert not answers  # held until its date: neither claimed nor failed yet
    assert failure_row(engine, "CH-2").status == "reprocessing"


def test_the_drill_down_lists_what_each_request_did(engine: Engine) -> None:
    format_charges(engine, broken())
    reprocess(engine, request("R-1", charge_ids=["CH-1", "CH-9"]))
    with engine.connect() as conn:
        done = storage.items_for_charges(conn, ["CH-1", "CH-9"])
    assert {(i.charge_id, i.outcome, i.new_version) for i in done} == {
        ("CH-1", "replayed", 2),
        ("CH-9", "skipped", None),
    }


def test_a_charge_claimed_without_failing_is_skipped_as_claimed(engine: Engine) -> None:
    format_charges(engine, [charge(charge_id="CH-7")])
    charges, (result,) = split(reprocess(engine, request(charge_ids=["CH-7"])))
    assert not charges and result.skipped[0].reason.startswith("already claimed on claim ")


def test_a_correction_may_not_move_a_charge_to_another_companys_entities(engine: Engine) -> None:
    format_charges(
        engine, [*broken(), charge(charge_id="R-1", company_id="rival-rehab", practice_id="rival")]
    )
    out = reprocess(
        engine,
        request(
            charge_ids=["CH-1", "CH-2", "CH-3"],
            corrections={
                "CH-1": {"practice_id": "rival", "patient.birth_date": "1950-03-04"},
                "CH-2": {"patient.id": "P-3", "modifiers": ["GP"]},  # another patient of the company
                "CH-3": {"bill_id": "B-nowhere"},
            },
        ),
    )
    charges, (result,) = split(out)
    assert [(c.charge_id, c.patient.id) for c in charges] == [("CH-2", "P-3")]
    why = {s.charge_id: s.reason for s in result.skipped}
    assert "practice_id" in why["CH-1"] and "not one of this company's" in why["CH-1"]
    assert "bill_id" in why["CH-3"]
    assert failure_row(engine, "CH-1").status == "open"


def test_before_the_formatter_reads_the_announcement_a_replay_is_not_replayed_again(
    engine: Engine,
) -> None:
    format_charges(engine, broken())
    out = reprocess(engine, request("R-1", charge_ids=["CH-3"]), announce=False)
    (replayed,), _ = split(out)
    # Reprocess wrote nothing of the formatter's: the failure is open until the formatter
    # reads the result, and reprocess's own record of the replay holds a second request off.
    assert failure_row(engine, "CH-3").status == "open"
    again = reprocess(engine, request("R-2", charge_ids=["CH-3"]), announce=False)
    assert split(again)[1][0].skipped[0].reason == "already being reprocessed"
    # Once the formatter answers the replay (here, failing again), it may be replayed again.
    format_charges(engine, [replayed], day=1)
    announced(engine, out)  # the announcement arrives late: it changes nothing
    assert failure_row(engine, "CH-3").status == "open"
    (third,), _ = split(reprocess(engine, request("R-3", charge_ids=["CH-3"])))
    assert third.version == 3


def test_a_replay_held_before_its_announcement_still_waits(engine: Engine) -> None:
    format_charges(engine, broken())
    hold = dt.date(2026, 12, 15)
    out = reprocess(
        engine,
        request(charge_ids=["CH-2"], claim_delay_until=hold, corrections={"CH-2": {"modifiers": ["GP"]}}),
        announce=False,
    )
    (replayed,), _ = split(out)
    assert not format_charges(engine, [replayed])  # held
    again = reprocess(engine, request("R-2", charge_ids=["CH-2"]), announce=False)
    assert split(again)[1][0].skipped[0].reason == "already being reprocessed"
    announced(engine, out)
    assert failure_row(engine, "CH-2").status == "reprocessing"
