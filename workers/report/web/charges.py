"""A charge record: its fields with each failure reason beside the field, versions, runs,
reprocess history, and corrections in place."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
