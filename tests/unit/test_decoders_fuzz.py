"""Each worker's decoder (contracts.codec.decode with exactly the models that worker reads)
only ever raises DecodeError, on any bytes and on mutations of valid messages.

tests/unit/test_contracts.py fuzzes decode(raw, *MESSAGES) and decode(raw, Charge); the
single-model and two-model adapters the posting and reprocess workers build are different
code paths in pydantic, so each worker's own tuple is fuzzed here. The malformed corpus of
tests/faults is also checked here to end in the kind it promises, without a broker.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from contracts.codec import DecodeError, decode, encode
from devtools.sample.examples import example_messages
from tests.json_mutations import json_paths, json_values, mutate

#: decoder (a worker's batch handler) -> where it lives. The posting worker has two agents:
#: claims open bills, postings change them.
WORKER_HANDLERS = {
    "formatter": ("workers.formatter.handler", "FormatterHandler"),
    "posting-claims": ("workers.posting.handler", "ClaimsHandler"),
    "posting": ("workers.posting.handler", "PostingHandler"),
    "reprocess": ("workers.reprocess.handler", "ReprocessHandler"),
}


def worker_models() -> dict[str, tuple[type[BaseModel], ...]]:
    """The models each existing worker decodes, read from its handler class."""
    found: dict[str, tuple[type[BaseModel], ...]] = {}
    for worker, (module, name) in WORKER_HANDLERS.items():
        with contextlib.suppress(ModuleNotFoundError):
            handler = getattr(importlib.import_module(module), name, None)
            if handler is not None:
                found[worker] = tuple(handler.models)
    return found


MODELS = worker_models()
EXAMPLES = example_messages()


def only_decode_errors(raw: bytes, models: tuple[type[BaseModel], ...]) -> None:
    with contextlib.suppress(DecodeError):
        decode(raw, *models)


def test_every_worker_is_covered() -> None:
    assert "formatter" in MODELS
    assert all(models for models in MODELS.values())


@pytest.mark.parametrize("worker", sorted(MODELS))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(raw=st.binary(max_size=1500))
def test_random_bytes(worker: str, raw: bytes) -> None:
    only_decode_errors(raw, MODELS[worker])


@pytest.mark.parametrize("worker", sorted(MODELS))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data(), replacement=json_values, action=st.sampled_from(["replace", "delete", "truncate"]))
def test_mutated_own_messages(worker: str, data: st.DataObject, replacement: Any, action: str) -> None:
    models = MODELS[worker]
    model = data.draw(st.sampled_from(models))
    raw = encode(EXAMPLES[model.__name__])
    if action == "truncate":
        only_decode_errors(raw[: data.draw(st.integers(0, len(raw) - 1))], models)
        return
    doc = json.loads(raw)
    path = data.draw(st.sampled_from(json_paths(doc)[1:]))
    mutate(doc, path, action == "delete", replacement)
    only_decode_errors(json.dumps(doc, allow_nan=True).encode(), models)


def test_fault_corpus_kinds_without_a_broker() -> None:
    from contracts import Charge
    from tests.faults.test_bad_input import OTHER_TOPICS, charge_corpus

    corpora = {"formatter": charge_corpus(EXAMPLES["Charge"])}  # type: ignore[arg-type]
    corpora.update({w: make() for w, (_, make) in OTHER_TOPICS.items() if w in MODELS})
    for worker, entries in corpora.items():
        models = MODELS.get(worker, (Charge,))
        for bad in entries:
            if worker != "formatter" and bad.kind is None:
                continue  # only the formatter's decodable oddities are fed (test_bad_input)
            try:
                decode(bad.raw, *models)
                kind = None
            except DecodeError as exc:
                kind = exc.kind
            assert kind == bad.kind, f"{worker}: {bad.name} decodes as {kind}, expected {bad.kind}"
