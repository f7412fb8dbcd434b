"""Every free-text field and date a sender controls is bounded by the contract itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from contracts import Charge, ReprocessRequest
from contracts.charge import LATEST_CLAIM_DELAY, MAX_CLAIM_DELAY_DAYS
from contracts.codec import DecodeError, decode, encode
from contracts.reprocess import MAX_CORRECTION_VALUE_CHARS, MAX_CORRECTIONS_CHARS, MAX_RUN_NUMBER
from devtools.sample.examples import example_messages
from tests.factories import charge

SERVICE = dt.date(2026, 11, 17)
NOW = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)


def wire(**changes: Any) -> dict[str, Any]:
    data = charge(service_date=SERVICE).model_dump(mode="json")
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return data


def decodes(data: dict[str, Any], model: type = Charge) -> Any:
    return decode(orjson.dumps(data), model)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("patient__first_name", 60),
        ("patient__last_name", 60),
        ("patient__address__line1", 55),
        ("patient__address__city", 30),
        ("rendering_provider__name", 60),
        ("billing_provider__name", 60),
    ],
)
def test_names_and_addresses_are_bounded_as_x12_carries_them(path: str, limit: int) -> None:
    assert decodes(wire(**{path: "x" * limit}))
    with pytest.raises(DecodeError, match=f"{path.replace('__', '.')}: String should have at most {limit}"):
        decodes(wire(**{path: "x" * 100_000}))


def test_a_payer_name_is_bounded() -> None:
    data = wire()
    data["payers"][0]["name"] = "x" * 61
    with pytest.raises(DecodeError, match=r"payers\.0\.name"):
        decodes(data)


def test_claim_delay_is_bounded_by_the_service_date() -> None:
    latest = SERVICE + dt.timedelta(days=MAX_CLAIM_DELAY_DAYS)
    assert decodes(wire(claim_delay_until=latest.isoformat())).claim_delay_until == latest
    for too_late in (latest + dt.timedelta(days=1), dt.date(9999, 12, 31)):
        with pytest.raises(DecodeError, match=r"claim_delay_until: .*days after the service date"):
            decodes(wire(claim_delay_until=too_late.isoformat()))


def test_claim_delay_without_a_service_date_has_a_fixed_ceiling() -> None:
    assert decodes(wire(service_date=None, claim_delay_until=LATEST_CLAIM_DELAY.isoformat()))
    with pytest.raises(DecodeError, match="claim_delay_until"):
        decodes(wire(service_date=None, claim_delay_until="9999-12-31"))


def test_every_example_still_decodes() -> None:
    for message in example_messages().values():
        assert decode(encode(message), type(message)) == message


def request(**fields: Any) -> dict[str, Any]:
    return {
        "type": "ReprocessRequest",
        "schema_version": 1,
        "request_id": "rr-1",
        "requested_by": "ann",
        "company_id": "acme-therapy",
        "charge_ids": ["A1"],
        "requested_at": NOW.isoformat(),
        **fields,
    }


def test_a_reprocess_request_of_old_still_decodes() -> None:
    old = request(
        corrections={
            "A1": {"patient.birth_date": "1950-02-01", "modifiers": ["GP"], "payers.0.member_id": "X"}
        },
        claim_delay_until="2026-12-01",
        filters={"run_number": 2, "failure_code": "REQUIRED_FIELD"},
    )
    assert decodes(old, ReprocessRequest).corrections["A1"]["modifiers"] == ["GP"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"corrections": {"A1": {"patient.first_name": "x" * 100_000}}}, "at most 1000"),
        ({"corrections": {"A1": {"not a path": 1}}}, "corrections"),
        ({"corrections": {"A1": {"x" * 2001: 1}}}, "corrections"),
        (
            {"corrections": {f"C{i}": {"patient.first_name": "x" * 900} for i in range(120)}},
            f"at most {MAX_CORRECTIONS_CHARS}",
        ),
        ({"claim_delay_until": "9999-12-31"}, "days after the request"),
        ({"filters": {"run_number": MAX_RUN_NUMBER + 1}}, "filters.run_number"),
        ({"filters": {"failure_code": "X" * 41}}, "filters.failure_code"),
    ],
)
def test_reprocess_request_bounds(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        decodes(request(**fields), ReprocessRequest)


def test_a_value_at_the_limit_is_taken() -> None:
    value = "x" * (MAX_CORRECTION_VALUE_CHARS - 2)  # two quotes as JSON
    assert decodes(request(corrections={"A1": {"patient.first_name": value}}), ReprocessRequest)
