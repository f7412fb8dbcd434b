"""pyx12, the HIPAA X12 validator, run on text: its errors and the 999 it answers with."""

from __future__ import annotations

import io
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyx12.params
import pyx12.x12n_document


@dataclass(frozen=True)
class Verdict:
    valid: bool
    errors: list[str]
    ack: str

    @property
    def ack_codes(self) -> list[str]:
        """The IK5 (per transaction) and AK9 (group) acknowledgment codes of the 999."""
        segments = [s.strip() for s in self.ack.split("~") if s.strip()]
        return [s.split("*")[1] for s in segments if s.startswith(("IK5*", "AK9*"))]


def _errors(node: Any, where: str, out: list[str]) -> None:
    if isinstance(node, dict):
        for err in node.get("errors", []) or []:
            out.append(f"{where}: {err}")
        for key, value in node.items():
            if isinstance(value, list | dict) and key != "errors":
                _errors(value, f"{where}/{key}", out)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _errors(item, f"{where}[{index}]", out)


def validate(text: str) -> Verdict:
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    param = pyx12.params.params()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.x12"
        path.write_text(text, encoding="ascii")
        ack, report = io.StringIO(), io.StringIO()
        valid = pyx12.x12n_document.x12n_document(
            param=param, src_file=str(path), fd_997=ack, fd_html=None, fd_json=report
        )
    errors: list[str] = []
    _errors(json.loads(report.getvalue() or "{}"), "", errors)
    return Verdict(bool(valid), errors, ack.getvalue())
