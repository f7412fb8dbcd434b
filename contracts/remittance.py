"""An 835 remittance file as it travels on `billing.remittances`, and a request to retry.

The X12 text is carried as received, inside the one JSON envelope every topic uses, so the
codec, the size limit and the dead-letter path are the same as for every other message.
The key is the ERA's payer and trace number (`PAYER:TRN02`), so the same ERA always lands
on the same partition and is recognised there.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from contracts.base import Contract, Identifier

#: An 835 bigger than this is split into files per transaction set (ST..SE) before import;
#: the codec refuses messages over 256 KB.
MAX_X12_CHARS = 250_000


class RemittanceFile(Contract):
    model_config = ConfigDict(str_max_length=MAX_X12_CHARS)

    type: Literal["RemittanceFile"] = "RemittanceFile"
    schema_version: Literal[1] = 1

    x12: Annotated[str, StringConstraints(min_length=1, max_length=MAX_X12_CHARS)] = Field(
        description="The 835 (005010X221A1) text as the payer sent it."
    )
    file_name: Annotated[str, StringConstraints(max_length=255)] = ""
    submitted_at: dt.datetime
    submitted_by: Identifier | None = None


class RemittanceRetry(Contract):
    """Try the parked claim payments again (all, or those of some claims)."""

    type: Literal["RemittanceRetry"] = "RemittanceRetry"
    schema_version: Literal[1] = 1

    claim_ids: list[Identifier] = Field(default=[], description="Empty: every parked claim payment.")
    requested_at: dt.datetime
