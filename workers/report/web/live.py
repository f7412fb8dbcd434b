"""Live failures: a dashboard and an event stream fed from `billing.charge-failures`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
