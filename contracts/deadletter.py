"""The dead-letter record: the raw bytes that could not be used, as they came, with
headers that say where they came from and why they were refused."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from contracts.base import Contract

ErrorKind = Literal["oversized", "not_json", "invalid", "unknown_type", "unsupported_version", "internal"]


class DeadLetter(Contract):
    """Carried as Kafka headers (`x-` + field name) beside the original value and key."""

    type: Literal["DeadLetter"] = "DeadLetter"
    schema_version: Literal[1] = 1

    source_topic: str
    partition: int
    offset: int
    error_kind: ErrorKind
    error: str
    worker: str
    dead_lettered_at: dt.datetime

    def to_headers(self) -> list[tuple[str, bytes]]:
        data = self.model_dump(mode="json")
        return [(f"x-{name}", str(value).encode()) for name, value in data.items()]

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]) -> DeadLetter:
        fields: dict[str, object] = {k[2:]: v.decode() for k, v in headers if k.startswith("x-")}
        version = fields.get("schema_version")
        if isinstance(version, str) and version.isdigit():
            # Headers are text, and lax mode does not coerce "1" to the Literal[1].
            fields["schema_version"] = int(version)
        return cls.model_validate(fields, strict=False)
