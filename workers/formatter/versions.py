"""Is a charge version handled before the same charge again, or another charge under its number?

A charge is identified by (charge_id, version): a second message with the same pair is a
redelivery and gets the first one's answers. But two writers number versions: the EHR, and
reprocess, which replays a failure as the version after the newest stored one. If the EHR
sends that same number with its own content (or a replay arrives after the EHR took it),
answering it with the other one's result would drop it without a word: the EHR's update
or the biller's corrections. So content decides: the same charge is a redelivery, another
one is refused (dead-lettered) with a reason that says what to do.

Pure: no I/O, tested directly.
"""

from __future__ import annotations

from contracts import Charge

#: When the EHR sent the message: a re-send may restamp it without changing the charge.
_NOT_CONTENT = {"submitted_at"}


def same_charge(stored: Charge, incoming: Charge) -> bool:
    """Whether `incoming` carries the charge already handled as `stored` (a redelivery)."""
    return stored.model_dump(exclude=_NOT_CONTENT) == incoming.model_dump(exclude=_NOT_CONTENT)


def same_message(
    first: bytes | None, first_charge: Charge | str, received: bytes | None, incoming: Charge
) -> bool:
    """Whether `incoming` (arrived as `received`) is a redelivery of the charge that first
    came as `first`: decoded, or as its stored JSON, decoded only when the bytes differ
    (a Kafka redelivery or a re-published replay carries exactly what was stored)."""
    if first is not None and first == received:
        return True
    if isinstance(first_charge, str):
        first_charge = Charge.model_validate_json(first_charge)
    return same_charge(first_charge, incoming)


def conflict_reason(charge_id: str, version: int) -> str:
    return (
        f"charge {charge_id} version {version} was already handled with different content "
        "(another message took that version number, perhaps a biller's reprocess replay); "
        "it was not formatted: send the change as a higher version"
    )
