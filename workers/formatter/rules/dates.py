"""Dates: service date not in the future, timely filing, and claim delay holds."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from contracts.charge import Charge
from workers.formatter.rules.context import RuleContext
from workers.formatter.rules.results import PASS, Results, error

if TYPE_CHECKING:
    from workers.formatter.rules.config import PayerRules


def is_held(charge: Charge, today: dt.date) -> bool:
    """A claim delay date still ahead: the charge is neither claimed nor failed yet."""
    return charge.claim_delay_until is not None and charge.claim_delay_until > today


def check_service_date(charge: Charge, ctx: RuleContext) -> Results:
    service = charge.service_date
    if service is None or service <= ctx.today:
        return PASS
    return [
        error(
            "SERVICE_DATE_IN_FUTURE",
            f"service_date {service.isoformat()} is after today ({ctx.today.isoformat()}); "
            "correct the date of service, or set a claim delay date to bill it later",
            "service_date",
        )
    ]


def filing_deadline(service: dt.date, rules: PayerRules) -> dt.date:
    """The last day a claim for `service` may be filed under the payer's limit."""
    if rules.timely_filing_calendar_year:
        year = service.year + rules.timely_filing_days // 365
        try:
            return service.replace(year=year)
        except ValueError:  # 29 February in a year that has none
            return dt.date(year, 2, 28)
    return service + rules.timely_filing_delta


def check_timely_filing(charge: Charge, ctx: RuleContext) -> Results:
    service, payers = charge.service_date, charge.payers
    if service is None or not payers or service > ctx.today:
        return PASS
    rules = ctx.rules(charge)
    deadline = filing_deadline(service, rules)
    if ctx.today <= deadline:
        return PASS
    payer = payers[0]
    limit = (
        f"{rules.timely_filing_days // 365} year(s)"
        if rules.timely_filing_calendar_year
        else f"{rules.timely_filing_days} days"
    )
    who = payer.name.strip() or payer.payer_id
    return [
        error(
            "TIMELY_FILING_EXCEEDED",
            f"service_date {service.isoformat()} is past {who}'s filing limit of {limit} (the "
            f"claim was due by {deadline.isoformat()}); check the date of service, and if it is "
            "right, the payer will deny the claim: appeal with proof of timely filing or write "
            "it off",
            "service_date",
        )
    ]
