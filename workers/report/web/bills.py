"""Bills: find a bill, its payers, balances, statuses and ledger, posting from the page;
aging, statements and collections."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
