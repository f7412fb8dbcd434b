"""Seeded sample data: therapy charges (some broken on purpose) and posting streams.

Nothing here reads the clock or the network; the same seed gives the same data.
"""

from devtools.sample.breakers import BREAKABLE_RULES
from devtools.sample.charges import SampleCharge, generate_charges, generate_samples
from devtools.sample.jsonl import read_jsonl, write_jsonl
from devtools.sample.postings import (
    BillSummary,
    SamplePosting,
    generate_posting_samples,
    generate_postings,
)

__all__ = [
    "BREAKABLE_RULES",
    "BillSummary",
    "SampleCharge",
    "SamplePosting",
    "generate_charges",
    "generate_posting_samples",
    "generate_postings",
    "generate_samples",
    "read_jsonl",
    "write_jsonl",
]
