"""Export the contracts for people and programs that do not read Python.

    python -m devtools.export          # write contracts/schemas/*.schema.json and docs/CONTRACTS.md
    python -m devtools.export --check  # exit 1 and name the files that drifted from the models

Both outputs are generated from the models in `contracts.MESSAGES` and checked in; a test
fails when they drift, so a change to a contract is always a visible change to its schema.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts import MESSAGES, topics
from contracts.codec import MAX_MESSAGE_BYTES, encode

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "contracts" / "schemas"
DOC_PATH = ROOT / "docs" / "CONTRACTS.md"
SCHEMA_URI = "https://claimflow.example/contracts/schemas/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: Where each message travels, with its key and who writes and reads it (DESIGN.md).
ROUTES: dict[str, dict[str, str]] = {
    "Charge": {
        "topic": topics.CHARGES,
        "key": "account: `company_id:patient_id`",
        "from": "the EHR; reprocess (corrected charges as new versions)",
        "to": "formatter",
    },
    "Claim": {
        "topic": topics.CLAIMS,
        "key": "`claim_id`",
        "from": "formatter",
        "to": "clearinghouse adapters; posting (opens the bill)",
    },
    "ChargeFailed": {
        "topic": topics.CHARGE_FAILURES,
        "key": "`charge_id`",
        "from": "formatter",
        "to": "dashboards; failure store (Failed Charges report)",
    },
    "ChargeFailureResolved": {
        "topic": topics.CHARGE_FAILURES,
        "key": "`charge_id`",
        "from": "formatter",
        "to": "dashboards; failure store (Failed Charges report)",
    },
    "Posting": {
        "topic": topics.POSTINGS,
        "key": "`bill_id`",
        "from": "payers / ERA import; billers",
        "to": "posting",
    },
    "RemittanceFile": {
        "topic": topics.REMITTANCES,
        "key": "the ERA: `PAYER:TRN02` (payer id and trace number)",
        "from": "`claimflow remittances import` / `claimflow x12 import-835`",
        "to": "remittance (835 -> postings)",
    },
    "RemittanceRetry": {
        "topic": topics.REMITTANCES,
        "key": "`retry`",
        "from": "`claimflow remittances retry`; the remittance worker's own timer",
        "to": "remittance (parked claim payments tried again)",
    },
    "PostingApplied": {
        "topic": topics.POSTING_RESULTS,
        "key": "`bill_id`",
        "from": "posting",
        "to": "dashboards",
    },
    "PostingRejected": {
        "topic": topics.POSTING_RESULTS,
        "key": "`bill_id`",
        "from": "posting",
        "to": "dashboards",
    },
    "ReprocessRequest": {
        "topic": topics.REPROCESS_REQUESTS,
        "key": "`request_id`",
        "from": "billers / the report API",
        "to": "reprocess",
    },
    "ReprocessResult": {
        "topic": topics.REPROCESS_RESULTS,
        "key": "`request_id`",
        "from": "reprocess",
        "to": "the formatter (marks the replayed failures `reprocessing`); billers / the report API",
    },
    "DeadLetter": {
        "topic": topics.DEAD_LETTER,
        "key": "the original message's key",
        "from": "every worker",
        "to": "operators",
    },
}

#: Named string shapes, recognised by their pattern, so tables say what a value is.
_NAMED_PATTERNS = {
    r"^-?[0-9]{1,9}(\.[0-9]{1,2})?$": "money",
    r"^[A-Za-z0-9._\-]+$": "identifier",
}


def schema_for(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of one message as it is on the wire (what `decode` accepts)."""
    name = model.__name__
    schema = model.model_json_schema(mode="validation")
    # The codec always writes `type` and `schema_version`, and a reader must check them,
    # though the Python models give them defaults.
    required = [f for f in ("type", "schema_version") if f not in schema.get("required", [])]
    schema["required"] = required + schema.get("required", [])
    schema["$schema"] = DRAFT
    schema["$id"] = f"{SCHEMA_URI}{name}.schema.json"
    schema["title"] = name
    schema["x-topic"] = ROUTES[name]["topic"]
    return schema


def render_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every file the exporter owns, with the text it must have."""
    files = {SCHEMA_DIR / f"{m.__name__}.schema.json": render_json(schema_for(m)) for m in MESSAGES}
    files[DOC_PATH] = render_doc()
    return files


def drift(files: dict[Path, str]) -> list[Path]:
    """Files that differ from what the models generate, are missing, or are left over."""
    stale = [p for p in SCHEMA_DIR.glob("*.schema.json") if p not in files]
    changed = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    return sorted(changed + stale)


def write(files: dict[Path, str]) -> list[Path]:
    for path in SCHEMA_DIR.glob("*.schema.json"):
        if path not in files:
            path.unlink()  # a message that left MESSAGES takes its schema with it
    written = []
    for path, text in files.items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


# ---- docs/CONTRACTS.md -------------------------------------------------------------


def render_doc() -> str:
    # The examples come from the seeded sample generator; imported here so that
    # `contracts` itself never depends on `claimflow`.
    from devtools.sample.examples import example_messages

    examples = example_messages()
    schemas = {m.__name__: schema_for(m) for m in MESSAGES}
    shared: dict[str, dict[str, Any]] = {}
    for schema in schemas.values():
        shared.update(schema.get("$defs", {}))
    out = [
        "# Contracts reference",
        "",
        "<!-- Generated by `python -m devtools.export` from the models in contracts/. "
        "Do not edit by hand: change the model and run the exporter. -->",
        "",
        "Every value on a topic is JSON made by `contracts.codec.encode` from one of these",
        "models. Rules that hold for all of them:",
        "",
        "- `type` names the model and `schema_version` its version; both are required, and a",
        "  reader refuses a message without them or with a type or version it does not know",
        "  (dead letter `unknown_type`, `unsupported_version`).",
        '- Money is a decimal string with at most two places (`"125.00"`), never a JSON number;',
        "  `NaN`, infinities and a third decimal place are refused, not rounded.",
        "- Dates are ISO 8601 (`2026-03-02`), times ISO 8601 with a zone (`2026-03-02T14:30:00Z`).",
        "- Unknown fields are refused. Identifiers are 1-64 characters of `A-Z a-z 0-9 . _ -`.",
        f"- A message over {MAX_MESSAGE_BYTES // 1024} KiB is refused unread (`oversized`).",
        "- JSON Schema (draft 2020-12) for each message is in `contracts/schemas/<type>.schema.json`.",
        "",
        "| message | topic | key | from | to |",
        "|---|---|---|---|---|",
    ]
    for name in schemas:
        route = ROUTES[name]
        out.append(
            f"| [{name}](#{name.lower()}) | `{route['topic']}` | {route['key']} "
            f"| {route['from']} | {route['to']} |"
        )
    out.append("")
    for name, schema in schemas.items():
        out.extend(_message_section(name, schema, examples.get(name)))
    out += ["## Shared types", ""]
    for name in sorted(shared):
        out.extend(_type_section(name, shared[name], level="###"))
    return "\n".join(out).rstrip("\n") + "\n"


def _message_section(name: str, schema: dict[str, Any], example: BaseModel | None) -> Iterator[str]:
    route = ROUTES[name]
    yield f"## {name}"
    yield ""
    if schema.get("description"):
        yield _one_line(schema["description"])
        yield ""
    yield f"- topic: `{route['topic']}`; key: {route['key']}"
    yield f"- from: {route['from']}; to: {route['to']}"
    yield f"- schema: `contracts/schemas/{name}.schema.json`"
    if name == "DeadLetter":
        yield (
            "- carried as Kafka headers `x-<field>` beside the original value (the raw bytes, "
            "as received) and the original key"
        )
    yield ""
    yield from _field_table(schema)
    if example is not None:
        yield "Example:"
        yield ""
        yield "```json"
        yield json.dumps(json.loads(encode(example)), indent=2, ensure_ascii=False)
        yield "```"
        yield ""


def _type_section(name: str, schema: dict[str, Any], level: str) -> Iterator[str]:
    yield f"{level} {name}"
    yield ""
    if schema.get("description"):
        yield _one_line(schema["description"])
        yield ""
    yield from _field_table(schema)


def _field_table(schema: dict[str, Any]) -> Iterator[str]:
    required = set(schema.get("required", []))
    yield "| field | type | required | description |"
    yield "|---|---|---|---|"
    for field, prop in schema.get("properties", {}).items():
        described = _one_line(prop.get("description", ""))
        if field not in required and "default" in prop and prop["default"] not in (None, "", []):
            default = json.dumps(prop["default"], separators=(",", ":"))
            described = f"{described} Default `{default}`.".strip()
        text = described.replace("|", "\\|")
        yield f"| `{field}` | {_type_of(prop)} | {'yes' if field in required else 'no'} | {text} |"
    yield ""


def _type_of(prop: dict[str, Any]) -> str:
    """A reader's name for a JSON Schema type: `date`, `array of [Patient](#patient)`..."""
    if "$ref" in prop:
        ref = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{ref}](#{ref.lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "anyOf" in prop:
        options = [_type_of(p) for p in prop["anyOf"]]
        return " or ".join(options)
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(prop.get('items', {}))}" + _bounds(prop, "Items", "items")
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of {_type_of(prop['additionalProperties'])}"
    if kind == "string":
        named = _NAMED_PATTERNS.get(prop.get("pattern", ""))
        if named:
            return named
        if "format" in prop:
            return {"date": "date", "date-time": "date-time"}.get(prop["format"], prop["format"])
        return "string" + _bounds(prop, "Length", "chars")
    if kind == "integer":
        low, high = prop.get("minimum"), prop.get("maximum")
        if low is not None and high is not None:
            return f"integer {low}..{high}"
        if low is not None:
            return f"integer >= {low}"
        return "integer"
    return str(kind)


def _bounds(prop: dict[str, Any], suffix: str, unit: str) -> str:
    low, high = prop.get(f"min{suffix}"), prop.get(f"max{suffix}")
    if low and high:
        return f" ({low}-{high} {unit})"
    if high:
        return f" (max {high} {unit})"
    if low:
        return f" (min {low} {unit})"
    return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report drift, write nothing")
    args = parser.parse_args(argv)
    files = generated_files()
    if args.check:
        drifted = drift(files)
        for path in drifted:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        if drifted:
            print("run `python -m devtools.export` to refresh", file=sys.stderr)
            return 1
        print(f"{len(files)} contract files are up to date")
        return 0
    for path in write(files):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
