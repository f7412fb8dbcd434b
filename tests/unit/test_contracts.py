"""The contracts on the wire: exported schemas and docs, the codec, money, decode errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import MESSAGES, Charge, DeadLetter, Posting, PostingApplied, PostingRejected
from contracts.base import CENT, MONEY_LIMIT, format_money
from contracts.codec import MAX_MESSAGE_BYTES, DecodeError, decode, encode
from devtools.export import DOC_PATH, ROOT, SCHEMA_DIR, drift, generated_files, schema_for
from devtools.sample.examples import example_messages
from tests.json_mutations import json_paths, json_values, mutate

REFRESH = "run `python -m devtools.export` to refresh"
EXAMPLES = example_messages()


# ---- exported files -----------------------------------------------------------------


@pytest.fixture(scope="module")
def files() -> dict[Any, str]:
    return generated_files()


@pytest.mark.parametrize("model", MESSAGES, ids=lambda m: m.__name__)
def test_schema_on_disk_matches_model(model: type, files: dict[Any, str]) -> None:
    path = SCHEMA_DIR / f"{model.__name__}.schema.json"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: {REFRESH}"
    assert path.read_text() == files[path], f"{path.relative_to(ROOT)} drifted: {REFRESH}"


def test_contracts_doc_is_up_to_date(files: dict[Any, str]) -> None:
    assert DOC_PATH.exists(), f"docs/CONTRACTS.md is missing: {REFRESH}"
    assert DOC_PATH.read_text() == files[DOC_PATH], f"docs/CONTRACTS.md drifted: {REFRESH}"


def test_no_stale_or_missing_files(files: dict[Any, str]) -> None:
    assert drift(files) == [], REFRESH


@pytest.mark.parametrize("model", MESSAGES, ids=lambda m: m.__name__)
def test_schema_names_the_message_and_requires_its_type(model: type) -> None:
    schema = schema_for(model)
    assert schema["title"] == model.__name__
    assert schema["$id"].endswith(f"/{model.__name__}.schema.json")
    assert schema["required"][:2] == ["type", "schema_version"]
    assert schema["properties"]["type"]["const"] == model.__name__
    assert schema["additionalProperties"] is False


def test_schema_files_are_stable_json() -> None:
    for path in SCHEMA_DIR.glob("*.schema.json"):
        text = path.read_text()
        assert text.endswith("}\n")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_doc_covers_every_message_with_topic_and_example() -> None:
    doc = DOC_PATH.read_text()
    for model in MESSAGES:
        assert f"## {model.__name__}\n" in doc
        assert f'"type": "{model.__name__}"' in doc, f"no example for {model.__name__}"
    assert "`billing.charges`" in doc and "`company_id:patient_id`" in doc


# ---- codec round trips --------------------------------------------------------------


def test_every_message_type_has_an_example() -> None:
    assert set(EXAMPLES) == {m.__name__ for m in MESSAGES}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_round_trips(name: str) -> None:
    message = EXAMPLES[name]
    raw = encode(message)
    assert decode(raw, type(message)) == message
    assert decode(raw, *MESSAGES) == message  # told apart by `type` alone
    assert encode(decode(raw, type(message))) == raw


identifiers = st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z")
money = st.decimals(min_value=Decimal("-999999999.99"), max_value=Decimal("999999999.99"), places=2)
aware = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)


@given(
    posting_id=identifiers,
    bill_id=identifiers,
    code=st.from_regex(r"\A[A-Z0-9]{1,6}\Z"),
    amount=st.none() | money,
    next_payer=st.none() | st.integers(1, 10),
    posted_at=aware,
    note=st.text(max_size=500),
)
def test_posting_round_trips(**fields: Any) -> None:
    posting = Posting(**fields)
    assert decode(encode(posting), Posting) == posting


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(), days=st.integers(0, 20000))
def test_sample_charges_round_trip(seed: int, days: int) -> None:
    from devtools.sample import generate_charges

    for charge in generate_charges(12, seed, dt.date(2000, 1, 1) + dt.timedelta(days=days), 0.5):
        assert decode(encode(charge), Charge) == charge


@pytest.mark.parametrize(
    "raw",
    [EXAMPLES["PostingApplied"], EXAMPLES["PostingRejected"]],
    ids=["applied", "rejected"],
)
def test_union_decode_picks_the_type(raw: Any) -> None:
    decoded = decode(encode(raw), PostingApplied, PostingRejected)
    assert type(decoded) is type(raw)


def test_dead_letter_headers_round_trip() -> None:
    letter = EXAMPLES["DeadLetter"]
    assert isinstance(letter, DeadLetter)
    assert DeadLetter.from_headers(letter.to_headers()) == letter


# ---- money --------------------------------------------------------------------------


def _posting_json(amount: Any) -> bytes:
    return json.dumps(
        {
            "type": "Posting",
            "schema_version": 1,
            "posting_id": "p1",
            "bill_id": "b1",
            "code": "PI",
            "amount": amount,
            "posted_at": "2026-03-02T10:00:00Z",
        }
    ).encode()


@pytest.mark.parametrize(
    "amount",
    [12.5, 0.1, True, "NaN", "nan", "Infinity", "-Infinity", "12.345", "0.001", "", "  ", "12,50",
     "1e3x", "1000000000.00", [], {}],
)  # fmt: skip
def test_money_refuses(amount: Any) -> None:
    with pytest.raises(DecodeError) as err:
        decode(_posting_json(amount), Posting)
    assert err.value.kind == "invalid"
    assert err.value.message.startswith("amount")


@pytest.mark.parametrize(
    ("wire", "value", "written"),
    [
        ("12.5", Decimal("12.50"), "12.50"),
        ("12", Decimal("12.00"), "12.00"),
        ("12.500", Decimal("12.50"), "12.50"),  # a third place that is zero is not a fraction
        ("-5.00", Decimal("-5.00"), "-5.00"),
        (" 7.10 ", Decimal("7.10"), "7.10"),
        ("999999999.99", Decimal("999999999.99"), "999999999.99"),
    ],
)
def test_money_accepts_two_places(wire: str, value: Decimal, written: str) -> None:
    posting = decode(_posting_json(wire), Posting)
    assert posting.amount == value
    assert posting.amount is not None and posting.amount.as_tuple().exponent == -2
    assert json.loads(encode(posting))["amount"] == written


@given(money)
def test_money_survives_the_wire(amount: Decimal) -> None:
    posting = decode(_posting_json(str(amount)), Posting)
    assert posting.amount == amount
    assert json.loads(encode(posting))["amount"] == f"{amount:.2f}"


@given(st.decimals(min_value=-MONEY_LIMIT, max_value=MONEY_LIMIT, allow_nan=False, places=None))
def test_money_is_written_as_quantised_to_cents(amount: Decimal) -> None:
    assert format_money(amount) == str(amount.quantize(CENT))


# ---- decode errors ------------------------------------------------------------------


def _charge_dict() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(encode(EXAMPLES["Charge"]))
    return data


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"{not json", "not_json"),
        (b"", "not_json"),
        (b"\xff\xfe\x00", "not_json"),
        (b'{"type": "Nope", "schema_version": 1}', "unknown_type"),
        (b'{"type": ["Charge"]}', "unknown_type"),  # unhashable `type` once raised TypeError
        (b'{"type": {"a": 1}}', "unknown_type"),
        (b'{"schema_version": 1}', "unknown_type"),
        (b'{"type": "Charge", "schema_version": 2}', "unsupported_version"),
        (b'{"type": "Charge", "schema_version": "1"}', "unsupported_version"),
        (b"[1, 2]", "invalid"),
        (b'"Charge"', "invalid"),
        (None, "invalid"),
    ],
)
def test_decode_error_kinds(raw: bytes | None, kind: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode(raw, Charge, Posting)
    assert err.value.kind == kind


@pytest.mark.parametrize(
    ("missing", "kind"), [("type", "unknown_type"), ("schema_version", "unsupported_version")]
)
def test_a_message_must_name_its_type_and_version_as_the_schema_requires(missing: str, kind: str) -> None:
    data = _charge_dict()
    del data[missing]
    raw = json.dumps(data).encode()
    for models in ((Charge,), (Charge, Posting)):
        with pytest.raises(DecodeError) as err:
            decode(raw, *models)
        assert err.value.kind == kind, models
    assert missing in schema_for(Charge)["required"]


def test_oversized_is_refused_before_parsing() -> None:
    with pytest.raises(DecodeError) as err:
        decode(b" " * (MAX_MESSAGE_BYTES + 1), Charge)
    assert err.value.kind == "oversized"
    with pytest.raises(DecodeError) as err:
        decode(encode(EXAMPLES["Charge"]), Charge, max_bytes=100)
    assert err.value.kind == "oversized"


def test_invalid_names_the_field_path_and_never_echoes_values() -> None:
    data = _charge_dict()
    del data["patient"]["id"]
    data["patient"]["last_name"] = "Zzyzxsecret" * 30  # too long, and private
    data["payers"][0]["payer_type"] = "barter"
    with pytest.raises(DecodeError) as err:
        decode(json.dumps(data).encode(), Charge)
    assert err.value.kind == "invalid"
    assert "patient.id" in err.value.message
    assert "patient.last_name" in err.value.message
    assert "payers.0.payer_type" in err.value.message
    assert "Zzyzx" not in err.value.message and "barter" not in err.value.message


def test_unknown_field_is_invalid() -> None:
    data = _charge_dict()
    data["ssn"] = "000-00-0000"
    with pytest.raises(DecodeError) as err:
        decode(json.dumps(data).encode(), Charge)
    assert err.value.kind == "invalid"
    assert "ssn" in err.value.message and "000-00" not in err.value.message


# ---- fuzz: decode raises DecodeError and nothing else -------------------------------


def _only_decode_errors(raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(raw, *MESSAGES)
    with contextlib.suppress(DecodeError):
        decode(raw, Charge)


@given(st.binary(max_size=2000))
def test_fuzz_bytes(raw: bytes) -> None:
    _only_decode_errors(raw)


@given(st.text(max_size=2000))
def test_fuzz_text(text: str) -> None:
    _only_decode_errors(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(EXAMPLES)),
    data=st.data(),
    replacement=json_values,
    action=st.sampled_from(["replace", "delete", "truncate", "flip"]),
)
def test_fuzz_mutated_messages(name: str, data: st.DataObject, replacement: Any, action: str) -> None:
    raw = encode(EXAMPLES[name])
    if action in ("truncate", "flip"):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] if action == "truncate" else raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1 :]
        _only_decode_errors(raw)
        return
    doc = json.loads(raw)
    path = data.draw(st.sampled_from(json_paths(doc)[1:]))
    mutate(doc, path, action == "delete", replacement)
    _only_decode_errors(json.dumps(doc, allow_nan=True).encode())


def test_a_charge_stored_before_the_837_fields_still_decodes() -> None:
    """A message of the shape published before the 837P fields decodes, with their defaults."""
    raw = (Path(__file__).parent.parent / "data" / "charge_before_837_fields.json").read_bytes()
    charge = decode(raw, Charge)
    assert isinstance(charge, Charge)
    assert charge.billing_provider.address is None and charge.billing_provider.taxonomy is None
    primary = charge.payers[0]
    assert (primary.electronic_id, primary.address, primary.relationship, primary.subscriber) == (
        None,
        None,
        "self",
        None,
    )
