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


def same_bytes_or_charge(stored_json: str, received: bytes | None, incoming: Charge) -> bool:
    """same_charge() against the stored JSON, skipping the decode for identical bytes
    (a Kafka redelivery or a re-published replay carries exactly what was stored)."""
    if received is not None and received == stored_json.encode():
        return True
    return same_charge(Charge.model_validate_json(stored_json), incoming)


def conflict_reason(charge_id: str, version: int) -> str:
    return (
        f"charge {charge_id} version {version} was already handled with different content "
        "(another message took that version number, perhaps a biller's reprocess replay); "
        "it was not formatted: send the change as a higher version"
    )
