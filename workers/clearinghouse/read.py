"""What other workers may read of the clearinghouse's state: read-only, never written.

The clearinghouse owns its 837P claims, interchanges, acknowledgments and counters
(workers/clearinghouse/tables.py) and is the only writer. The report's bill page reads
each claim of a bill with where it went and what came back (`bill_claims`).
"""

from __future__ import annotations

from workers.clearinghouse.storage import bill_claims

__all__ = ["bill_claims"]
