"""Contracts between claimflow's workers and everything that subscribes to them.

Every value on a topic is one of these models, as JSON with a `type` and a
`schema_version`. `contracts.codec` is the one way to turn them into bytes and back.
"""

from contracts.charge import Address, Authorization, Charge, ChargePayer, Patient, Provider, Subscriber
from contracts.claim import Claim, ClaimLine, RuleResult
from contracts.deadletter import DeadLetter
from contracts.failure import ChargeFailed, ChargeFailureResolved
from contracts.posting import BillPayerState, BillState, Posting, PostingApplied, PostingRejected
from contracts.remittance import RemittanceFile, RemittanceRetry
from contracts.reprocess import (
    FailureFilters,
    ReplayedCharge,
    ReprocessRequest,
    ReprocessResult,
    SkippedCharge,
)

#: Every top-level message model, by its `type`. Exported as JSON Schema to contracts/schemas/.
MESSAGES = (
    Charge,
    Claim,
    ChargeFailed,
    ChargeFailureResolved,
    Posting,
    PostingApplied,
    PostingRejected,
    ReprocessRequest,
    ReprocessResult,
    RemittanceFile,
    RemittanceRetry,
    DeadLetter,
)

__all__ = [
    "MESSAGES",
    "Address",
    "Authorization",
    "BillPayerState",
    "BillState",
    "Charge",
    "ChargeFailed",
    "ChargeFailureResolved",
    "ChargePayer",
    "Claim",
    "ClaimLine",
    "DeadLetter",
    "FailureFilters",
    "Patient",
    "Posting",
    "PostingApplied",
    "PostingRejected",
    "Provider",
    "RemittanceFile",
    "RemittanceRetry",
    "ReplayedCharge",
    "ReprocessRequest",
    "ReprocessResult",
    "RuleResult",
    "SkippedCharge",
    "Subscriber",
]
