"""Realistic payloads at any count: a seeded template, repeated under fresh ids.

Generating a million sample charges through the models would take longer than the run it
feeds, so a few thousand are generated once (devtools.sample) and then repeated in cycles
with every identity renamed per cycle (charge, patient, bill, claim and posting ids). A
renamed patient has no history, so cycle 1000 costs the formatter what cycle 1 did: a
growing memory or time figure is the worker's, not the data's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from contracts import Charge, Claim, Posting
from contracts.codec import encode

SEED = 20260105
TEMPLATE_CHARGES = 4000


def _suffix(value: str | None, cycle: int) -> str | None:
    return None if value is None else f"{value}.c{cycle}"


_CLAIM_ID = re.compile(r"CLM-(\d+)-(\d+)")


def _bill_id(value: str, cycle: int) -> str:
    """A template bill (claim) id as the formatter names it in a later run.

    The formatter's claim ids are `CLM-<run>-<n>`, and a bill's id is its claim's: cycle k
    of the template is run k + 1. (A `.c<k>` suffix, used before, gave ids no run ever
    makes, one cycle's bills spread evenly over the whole key space.)
    """
    match = _CLAIM_ID.fullmatch(value)
    if match is None:
        return f"{value}.c{cycle}"
    return f"CLM-{int(match[1]) + cycle}-{match[2]}"


@cache
def charge_template(size: int = TEMPLATE_CHARGES) -> tuple[Charge, ...]:
    from devtools.sample import generate_charges

    return tuple(generate_charges(size, SEED, dt.date.today()))


@cache
def _charge_dicts(size: int) -> tuple[dict[str, Any], ...]:
    return tuple(orjson.loads(encode(c)) for c in charge_template(size))


def charge_messages(n: int, size: int = TEMPLATE_CHARGES) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) for `n` charges, keyed by account like the EHR feed."""
    template = _charge_dicts(size)
    for i in range(n):
        cycle, t = divmod(i, len(template))
        yield charge_message(template[t], cycle)


def charge_message(t: dict[str, Any], cycle: int) -> tuple[bytes, bytes]:
    d = dict(t)
    d["charge_id"] = _suffix(t["charge_id"], cycle)
    d["patient"] = {**t["patient"], "id": _suffix(t["patient"]["id"], cycle)}
    if t.get("bill_id"):
        d["bill_id"] = _suffix(t["bill_id"], cycle)
    return f"{d['company_id']}:{d['patient']['id']}".encode(), orjson.dumps(d)


def charge_id_of(cycle: int, t: dict[str, Any]) -> str:
    return f"{t['charge_id']}.c{cycle}"


@dataclass(frozen=True)
class PostingTemplate:
    claims: tuple[Claim, ...]
    postings: tuple[dict[str, Any], ...]


@cache
def posting_template(size: int = TEMPLATE_CHARGES) -> PostingTemplate:
    """Claims the formatter would make of the charge template, and postings to their bills.

    The claims come from the formatter's pure run (no database, no broker): the posting
    bench must not depend on the formatter's speed to get its bills.
    """
    from devtools.sample import BillSummary, generate_postings
    from workers.formatter.handler import FormatterHandler
    from workers.formatter.history import History
    from workers.formatter.rules import RuleBook, is_held
    from workers.formatter.run import run_charges

    handler = FormatterHandler(RuleBook.default())
    now = dt.datetime.now(dt.UTC)
    result = run_charges(
        list(charge_template(size)),
        History(),
        {},
        run_number=1,
        now=now,
        evaluate=handler.evaluate,
        is_held=is_held,
    )
    bills = [
        BillSummary(c.bill_id, c.total_amount, len(c.payers), [p.name for p in c.payers])
        for c in result.claims
    ]
    postings: list[Posting] = generate_postings(bills, SEED)
    return PostingTemplate(tuple(result.claims), tuple(orjson.loads(encode(p)) for p in postings))


def cycles_for(n_postings: int, size: int = TEMPLATE_CHARGES) -> int:
    per_cycle = len(posting_template(size).postings)
    return -(-n_postings // per_cycle)


def claims_for_cycle(cycle: int, size: int = TEMPLATE_CHARGES) -> list[Claim]:
    out = []
    for c in posting_template(size).claims:
        patient = c.patient.model_copy(update={"id": _suffix(c.patient.id, cycle)})
        out.append(
            c.model_copy(
                update={
                    "claim_id": _bill_id(c.claim_id, cycle),
                    "bill_id": _bill_id(c.bill_id, cycle),
                    "patient": patient,
                }
            )
        )
    return out


def claim_messages(n: int, size: int = TEMPLATE_CHARGES) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) for `n` claims, as the formatter publishes them, renamed per cycle."""
    cycle = 0
    sent = 0
    while sent < n:
        for c in claims_for_cycle(cycle, size):
            if sent == n:
                return
            yield c.claim_id.encode(), encode(c)
            sent += 1
        cycle += 1


def posting_messages(
    n: int, size: int = TEMPLATE_CHARGES, first_cycle: int = 0
) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) for `n` postings, keyed by bill like the payment feed."""
    template = posting_template(size).postings
    for i in range(n):
        cycle, t = divmod(i, len(template))
        yield posting_message(template[t], first_cycle + cycle)


def posting_message(t: dict[str, Any], cycle: int) -> tuple[bytes, bytes]:
    d = dict(t)
    d["posting_id"] = _suffix(t["posting_id"], cycle)
    d["bill_id"] = _bill_id(t["bill_id"], cycle)
    return d["bill_id"].encode(), orjson.dumps(d)


def seed_bills(database_url: str, cycles: int, size: int = TEMPLATE_CHARGES) -> int:
    """Open the bills the postings of `cycles` cycles refer to, straight into the database.

    Done before the worker starts, so the measured time is postings only (a claim opening a
    bill is the posting worker's other, much rarer, input).
    """
    from claimflow.db import create_all, make_engine, unit_of_work
    from workers.posting import storage

    engine = make_engine(database_url)
    create_all(engine)
    opened = 0
    try:
        for cycle in range(cycles):
            claims = claims_for_cycle(cycle, size)
            with unit_of_work(engine) as conn:
                opened += len(storage.open_bills_from_claims(conn, claims))
    finally:
        engine.dispose()
    return opened
