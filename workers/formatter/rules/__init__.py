"""The formatter's preset rules: pure functions over a charge, with their parameters as data.

No Kafka and no database here. The handler builds one `RuleContext` per batch (today, the
`RuleBook`, and a `History` it reads from storage in one query per kind), then for each
charge: `is_held(charge, today)` -> hold it; else `evaluate(charge, ctx)` -> every
`RuleResult`, errors and warnings together; no errors means the charge may be claimed.

The rules and their codes are those of `spec/formatter-rules.md`, in `registry.REGISTRY`
(one entry each) and `RULES` (code -> title, severity, description) for the report.

Product addition: ALREADY_BILLED. The spec's BILL_REJECTED covers a rejected bill; its
counterpart is a charge whose charge_id already went out on a bill that is *not*
rejected. Sending it again would bill the service twice, so it fails ALREADY_BILLED
("charge already went out on bill B-1; post a Rejection (J) on the bill before sending a
correction"). On a rejected bill, a charge sent on it before with a lower version is a
correction and passes; anything else fails BILL_REJECTED. See `state.py`.

Messages name the field and the fix and never carry a patient's name, birth date or
member id (nor diagnosis codes or tax ids): they end up in logs and dashboards.
"""

from workers.formatter.rules.config import PayerRules, PayerSettings, RuleBook, RuleBookError
from workers.formatter.rules.context import (
    BillState,
    ClaimKey,
    History,
    RuleContext,
    TherapyKey,
    bill_of,
    claim_key,
    discipline,
    therapy_key,
)
from workers.formatter.rules.dates import filing_deadline, is_held
from workers.formatter.rules.identity import npi_check_digit, valid_mbi, valid_npi
from workers.formatter.rules.registry import REGISTRY, RULES, Rule, errors, evaluate
from workers.formatter.rules.tables import TableError, Tables
from workers.formatter.rules.units import units_for_minutes

__all__ = [
    "REGISTRY",
    "RULES",
    "BillState",
    "ClaimKey",
    "History",
    "PayerRules",
    "PayerSettings",
    "Rule",
    "RuleBook",
    "RuleBookError",
    "RuleContext",
    "TableError",
    "Tables",
    "TherapyKey",
    "bill_of",
    "claim_key",
    "discipline",
    "errors",
    "evaluate",
    "filing_deadline",
    "is_held",
    "npi_check_digit",
    "therapy_key",
    "units_for_minutes",
    "valid_mbi",
    "valid_npi",
]
