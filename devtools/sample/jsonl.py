"""Contracts as JSON lines: one `contracts.codec.encode`d message per line.

The codec's JSON has no raw newlines (strings escape them), so a line is a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

from pydantic import BaseModel

from contracts.codec import decode, encode

M = TypeVar("M", bound=BaseModel)


def write_jsonl(messages: Iterable[BaseModel], out: Path | str | IO[bytes]) -> int:
    """Write `messages` to a path or a binary stream; return how many were written."""
    if isinstance(out, Path | str):
        with Path(out).open("wb") as stream:
            return write_jsonl(messages, stream)
    count = 0
    for message in messages:
        out.write(encode(message) + b"\n")
        count += 1
    return count


def read_jsonl(source: Path | str | IO[bytes], *models: type[M]) -> Iterator[M]:
    """Decode each non-blank line as one of `models`; a bad line raises DecodeError."""
    if isinstance(source, Path | str):
        with Path(source).open("rb") as stream:
            yield from read_jsonl(stream, *models)
        return
    for line in source:
        if line.strip():
            yield decode(line.rstrip(b"\r\n"), *models)
