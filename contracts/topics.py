"""Topic names of DESIGN.md; a deployment may put a prefix in front of all of them."""

from __future__ import annotations

CHARGES = "billing.charges"
CLAIMS = "billing.claims"
CHARGE_FAILURES = "billing.charge-failures"
POSTINGS = "billing.postings"
POSTING_RESULTS = "billing.posting-results"
REPROCESS_REQUESTS = "billing.reprocess-requests"
REPROCESS_RESULTS = "billing.reprocess-results"
DEAD_LETTER = "billing.dead-letter"
REMITTANCES = "billing.remittances"

#: Partition counts: the keyed input topics get room to scale out; answers follow inputs.
PARTITIONS = {
    CHARGES: 6,
    CLAIMS: 6,
    CHARGE_FAILURES: 6,
    POSTINGS: 6,
    POSTING_RESULTS: 6,
    REPROCESS_REQUESTS: 3,
    REPROCESS_RESULTS: 3,
    DEAD_LETTER: 3,
    REMITTANCES: 3,
}

ALL = tuple(PARTITIONS)


def named(topic: str, prefix: str = "") -> str:
    return f"{prefix}{topic}"
