"""The workspace's HTML: one Jinja2 environment, and `render`, which every page goes through
so that each page gets the signed-in user, their companies, the CSRF token and the nav."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from workers.report.accounts import WebSession

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

templates = Jinja2Templates(directory=HERE / "templates")

#: The Billing menu, in the order a biller's day goes: (path, label).
NAV: tuple[tuple[str, str], ...] = (
    ("/failed-charges", "Failed Charges"),
    ("/live", "Live failures"),
    ("/bills", "Bills"),
    ("/aging", "Aging"),
    ("/statements", "Statements"),
    ("/collections", "Collections"),
    ("/remittances", "Remittances"),
)


def money(value: Decimal | str | int | float | None) -> str:
    """1234.5 -> '1,234.50'; None -> ''. Money is shown as billers write it."""
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)):,.2f}"


def date(value: dt.date | dt.datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value[:10]
    return value.strftime("%Y-%m-%d")


def when(value: dt.datetime | None) -> str:
    """A moment, in UTC, to the minute."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["money"] = money
templates.env.filters["date"] = date
templates.env.filters["when"] = when
templates.env.globals["NAV"] = NAV


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    session: WebSession | None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page. `session` is None only on the sign-in page."""
    return templates.TemplateResponse(
        request,
        name,
        {
            "session": session,
            "user_id": session.caller.user_id if session else None,
            "companies": session.caller.companies if session else (),
            "csrf_token": session.csrf_token if session else context.get("csrf_token", ""),
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
