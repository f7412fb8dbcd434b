"""Routing as data: the submitter, the receivers, and which receiver each payer's claims go to.

Read from a JSON file (Settings.x12_routing, default routing.json beside this module), so
a billing office adds a payer route or changes a receiver id without a code change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contracts.claim import Claim
from workers.clearinghouse.x12_837 import Envelope

DEFAULT_PATH = Path(__file__).with_name("routing.json")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sender(_Model):
    id: str = Field(min_length=2, max_length=15, pattern=r"^[A-Za-z0-9 ]+$")
    qualifier: str = "ZZ"
    name: str
    contact: str
    phone: str = Field(pattern=r"^[0-9]{10}$")


class Receiver(_Model):
    id: str = Field(min_length=2, max_length=15, pattern=r"^[A-Za-z0-9 ]+$")
    qualifier: str = "ZZ"
    name: str


class Routing(_Model):
    sender: Sender
    usage: str = Field(default="P", pattern=r"^[PT]$")
    receivers: dict[str, Receiver] = Field(min_length=1)
    default_receiver: str
    #: payer_id -> receiver name, for payers billed on a direct route.
    payers: dict[str, str] = {}

    def receiver_for(self, claim: Claim) -> str:
        primary = claim.payers[0].payer_id if claim.payers else ""
        return self.payers.get(primary, self.default_receiver)

    def envelope(self, receiver: str) -> Envelope:
        r = self.receivers[receiver]
        return Envelope(
            sender_id=self.sender.id,
            receiver_id=r.id,
            submitter_name=self.sender.name,
            submitter_contact=self.sender.contact,
            submitter_phone=self.sender.phone,
            receiver_name=r.name,
            sender_qualifier=self.sender.qualifier,
            receiver_qualifier=r.qualifier,
            usage=self.usage,
        )


@dataclass(frozen=True)
class RoutingError(Exception):
    path: Path
    problem: str

    def __str__(self) -> str:
        return f"routing file {self.path}: {self.problem}"


def load_routing(path: Path | None = None) -> Routing:
    path = path or DEFAULT_PATH
    try:
        routing = Routing.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise RoutingError(path, str(exc)) from None
    unknown = {routing.default_receiver, *routing.payers.values()} - set(routing.receivers)
    if unknown:
        raise RoutingError(path, f"routes to receivers it does not define: {', '.join(sorted(unknown))}")
    return routing
