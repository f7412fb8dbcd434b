"""Every table of every worker, on the one metadata (what alembic compares against)."""

from claimflow.db import metadata
from workers.clearinghouse import tables as clearinghouse_tables  # noqa: F401
from workers.deadletters import tables as dead_letter_tables  # noqa: F401
from workers.formatter import tables as formatter_tables  # noqa: F401
from workers.posting import tables as posting_tables  # noqa: F401
from workers.remittance import tables as remittance_tables  # noqa: F401
from workers.report import tables as report_tables  # noqa: F401
from workers.reprocess import tables as reprocess_tables  # noqa: F401

__all__ = ["metadata"]
