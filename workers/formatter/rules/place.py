"""Place of service and prior authorization."""

from __future__ import annotations

from contracts.charge import Charge
from workers.formatter.rules.context import RuleContext
from workers.formatter.rules.results import PASS, Results, blank, error, warning


def check_place_of_service(charge: Charge, ctx: RuleContext) -> Results:
    pos = charge.place_of_service
    if pos in ctx.book.tables.place_of_service or blank(pos):
        return PASS
    return [
        error(
            "PLACE_OF_SERVICE_INVALID",
            f"place_of_service {pos!r} is not a CMS place-of-service code; use the two-digit "
            "code, e.g. 11 (office), 12 (home), 22 (outpatient hospital) or 10 (telehealth at "
            "home)",
            "place_of_service",
        )
    ]


def check_authorization_present(charge: Charge, ctx: RuleContext) -> Results:
    code, payers = charge.procedure_code, charge.payers
    if not code or not payers or not ctx.rules(charge).authorization_required(code):
        return PASS
    auth = charge.prior_authorization
    if auth is not None and not blank(auth.number):
        return PASS
    payer = payers[0]
    who = payer.name.strip() or payer.payer_id
    return [
        error(
            "AUTHORIZATION_REQUIRED",
            f"{who} requires prior authorization for {code} and prior_authorization.number is "
            "missing; add the authorization number the payer issued",
            "prior_authorization.number",
        )
    ]


def check_authorization_range(charge: Charge, ctx: RuleContext) -> Results:
    auth, service = charge.prior_authorization, charge.service_date
    if auth is None:
        return PASS
    out = []
    if service is not None and auth.start_date is not None and service < auth.start_date:
        out.append(
            warning(
                "AUTHORIZATION_RANGE",
                f"service_date {service.isoformat()} is before the authorization starts "
                f"({auth.start_date.isoformat()}); check the dates or get the authorization "
                "backdated",
                "prior_authorization.start_date",
            )
        )
    if service is not None and auth.end_date is not None and service > auth.end_date:
        out.append(
            warning(
                "AUTHORIZATION_RANGE",
                f"service_date {service.isoformat()} is after the authorization ended "
                f"({auth.end_date.isoformat()}); request an extension from the payer",
                "prior_authorization.end_date",
            )
        )
    authorized, used = auth.visits_authorized, auth.visits_used
    # visits_used counts this visit too (the EHR records it with the charge), so only more
    # visits than authorized means the authorization is used up.
    if authorized is not None and used is not None and used > authorized:
        out.append(
            warning(
                "AUTHORIZATION_RANGE",
                f"prior_authorization has {authorized} visits and this is visit {used}; request "
                "more visits from the payer",
                "prior_authorization.visits_used",
            )
        )
    return out
