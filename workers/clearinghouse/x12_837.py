"""Claims as an ANSI X12 837P interchange (005010X222A1): pure, no I/O.

One interchange holds one functional group, and each claim is its own transaction set, so
that a 999 accepting or rejecting a transaction set speaks for exactly one claim. The
control numbers come in from the caller, which persists them; the envelope parties come
from the routing configuration. See docs/X12.md for the field mapping.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from contracts.charge import Address, ChargePayer, Provider
from contracts.claim import Claim

VERSION = "005010X222A1"
SEGMENT_END = "~"
ELEMENT = "*"
COMPONENT = ":"
REPETITION = "^"

#: SBR09, the claim filing indicator, by payer type.
FILING_INDICATOR = {
    "medicare": "MB",
    "medicaid": "MC",
    "commercial": "CI",
    "workers_comp": "WC",
    "auto": "AM",
}
#: The patient's relationship to the subscriber: SBR02 / PAT01 codes.
RELATIONSHIP = {"self": "18", "spouse": "01", "child": "19", "other": "G8"}
#: SBR01 for a payer's place in the billing order.
RESPONSIBILITY = "PSTABCDEFGH"
FREQUENCY = {"original": "1", "replacement": "7"}
#: CLM01, the patient control number, is at most 38 characters (it comes back in 277CA TRN02).
MAX_CLAIM_ID = 38

_UNSAFE = re.compile(r"[~*:^\n\r]")


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends and who receives: ISA/GS ids and the 837P submitter (1000A) and receiver (1000B)."""

    sender_id: str
    receiver_id: str
    submitter_name: str
    submitter_contact: str
    submitter_phone: str
    receiver_name: str
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    usage: str = "P"  # ISA15: P production, T test


@dataclass(frozen=True, slots=True)
class ControlNumbers:
    interchange: int  # ISA13, 9 digits
    group: int  # GS06
    first_transaction: int  # ST02 of the first claim; the rest follow by one


@dataclass(frozen=True, slots=True)
class OutgoingClaim:
    claim: Claim
    #: The payer's claim control number of the claim this one replaces (REF*F8), when known.
    original_reference: str | None = None


class UnsendableClaim(ValueError):
    """A claim an 837P cannot carry (no insurance payer, an id too long, a field missing)."""


def sendable(claim: Claim) -> str | None:
    """Why the claim cannot go out as an 837P, or None when it can."""
    if not claim.payers or claim.payers[0].payer_type == "patient":
        return "self-pay: the patient is billed directly, not through a clearinghouse"
    if len(claim.claim_id) > MAX_CLAIM_ID:
        return f"claim id longer than {MAX_CLAIM_ID} characters"
    return None


def missing(claim: Claim) -> list[str]:
    """What a valid 837P needs and the claim lacks (the formatter's REQUIRED_FIELD checks the
    same on charges; a claim made before it did, or by hand, may still lack them)."""
    out: list[str] = []
    billing = claim.billing_provider
    if not billing.name.strip():
        out.append("billing_provider.name")
    if not billing.tax_id:
        out.append("billing_provider.tax_id")
    out += _address_gaps("billing_provider.address", billing.address)
    primary = claim.payers[0]
    if not primary.electronic_id:
        out.append("payers[0].electronic_id")
    if not primary.member_id:
        out.append("payers[0].member_id")
    patient = claim.patient
    if primary.relationship != "self":
        holder = primary.subscriber
        if holder is None or not holder.last_name.strip():
            out.append("payers[0].subscriber.last_name")
    for path, value in (("patient.birth_date", patient.birth_date), ("patient.sex", patient.sex)):
        if value is None:
            out.append(path)
    out += _address_gaps("patient.address", patient.address)
    rendering = claim.rendering_provider
    if rendering.npi and rendering.npi != billing.npi and not rendering.name.strip():
        out.append("rendering_provider.name")
    return out


def _address_gaps(path: str, address: Address | None) -> list[str]:
    if address is None:
        return [path]
    parts = ("line1", "city", "state", "postal_code")
    return [f"{path}.{part}" for part in parts if not getattr(address, part).strip()]


def transaction_number(numbers: ControlNumbers, index: int) -> str:
    return f"{numbers.first_transaction + index:04d}"


def interchange(
    claims: Sequence[OutgoingClaim], envelope: Envelope, numbers: ControlNumbers, created: dt.datetime
) -> str:
    """The interchange text, one segment a line."""
    if not claims:
        raise ValueError("an interchange needs at least one claim")
    date8, time4 = created.strftime("%Y%m%d"), created.strftime("%H%M")
    isa13 = f"{numbers.interchange:09d}"
    segments = [
        _seg(
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            envelope.sender_qualifier,
            envelope.sender_id.ljust(15),
            envelope.receiver_qualifier,
            envelope.receiver_id.ljust(15),
            created.strftime("%y%m%d"),
            time4,
            REPETITION,
            "00501",
            isa13,
            "0",
            envelope.usage,
            COMPONENT,
        ),
        _seg(
            "GS",
            "HC",
            envelope.sender_id,
            envelope.receiver_id,
            date8,
            time4,
            str(numbers.group),
            "X",
            VERSION,
        ),
    ]
    for index, outgoing in enumerate(claims):
        segments.extend(transaction(outgoing, envelope, transaction_number(numbers, index), created))
    segments.append(_seg("GE", str(len(claims)), str(numbers.group)))
    segments.append(_seg("IEA", "1", isa13))
    return "\n".join(segments) + "\n"


def transaction(outgoing: OutgoingClaim, envelope: Envelope, st02: str, created: dt.datetime) -> list[str]:
    claim = outgoing.claim
    why_not = sendable(claim)
    if why_not is not None:
        raise UnsendableClaim(f"claim {claim.claim_id}: {why_not}")
    gaps = missing(claim)
    if gaps:
        raise UnsendableClaim(f"claim {claim.claim_id}: an 837P needs {', '.join(gaps)}")
    primary = claim.payers[0]
    patient_is_subscriber = primary.relationship == "self"
    body = [
        _seg(
            "BHT",
            "0019",
            "00",
            _id(claim.claim_id, 50),
            created.strftime("%Y%m%d"),
            created.strftime("%H%M"),
            "CH",
        ),
        _seg("NM1", "41", "2", _text(envelope.submitter_name, 60), "", "", "", "", "46", envelope.sender_id),
        _seg("PER", "IC", _text(envelope.submitter_contact, 60), "TE", envelope.submitter_phone),
        _seg("NM1", "40", "2", _text(envelope.receiver_name, 60), "", "", "", "", "46", envelope.receiver_id),
    ]
    # 2000A billing provider
    body.append(_seg("HL", "1", "", "20", "1"))
    billing = claim.billing_provider
    if billing.taxonomy:
        body.append(_seg("PRV", "BI", "PXC", billing.taxonomy))
    body.append(_seg("NM1", "85", "2", _text(billing.name, 60), "", "", "", "", "XX", billing.npi))
    body.extend(_address(billing.address))
    body.append(_seg("REF", "EI", (billing.tax_id or "").replace("-", "")))
    # 2000B subscriber
    body.append(_seg("HL", "2", "1", "22", "0" if patient_is_subscriber else "1"))
    body.append(
        _seg(
            "SBR",
            "P",
            "18" if patient_is_subscriber else "",
            _text(primary.group_number or "", 50),
            "",
            "",
            "",
            "",
            "",
            FILING_INDICATOR[primary.payer_type],
        )
    )
    if patient_is_subscriber:
        body.extend(_person("IL", claim.patient.last_name, claim.patient.first_name, primary.member_id))
        body.extend(_address(claim.patient.address))
        body.extend(_demographics(claim.patient.birth_date, claim.patient.sex))
    else:
        holder = primary.subscriber
        assert holder is not None, "the formatter requires a subscriber when the patient is not one"
        body.extend(_person("IL", holder.last_name, holder.first_name, primary.member_id))
        body.extend(_address(holder.address))
        body.extend(_demographics(holder.birth_date, holder.sex))
    body.extend(_payer(primary))
    if not patient_is_subscriber:
        # 2000C patient
        body.append(_seg("HL", "3", "2", "23", "0"))
        body.append(_seg("PAT", RELATIONSHIP[primary.relationship]))
        body.extend(_person("QC", claim.patient.last_name, claim.patient.first_name, None))
        body.extend(_address(claim.patient.address))
        body.extend(_demographics(claim.patient.birth_date, claim.patient.sex))
    body.extend(_claim(outgoing, claim))
    body.extend(_rendering(claim.rendering_provider, billing))
    body.extend(_other_payers(claim))
    body.extend(_lines(claim))
    st = _seg("ST", "837", st02, VERSION)
    se = _seg("SE", str(len(body) + 2), st02)
    return [st, *body, se]


def _claim(outgoing: OutgoingClaim, claim: Claim) -> list[str]:
    place = claim.lines[0].place_of_service
    out = [
        _seg(
            "CLM",
            _id(claim.claim_id, MAX_CLAIM_ID),
            amount(claim.total_amount),
            "",
            "",
            _composite(place, "B", FREQUENCY[claim.frequency]),
            "Y",
            "A",
            "Y",
            "Y",
        )
    ]
    if claim.frequency == "replacement" and outgoing.original_reference:
        out.append(_seg("REF", "F8", _id(outgoing.original_reference, 50)))
    codes = [code.replace(".", "") for code in claim.diagnoses]
    out.append(_seg("HI", *(_composite("ABK" if i == 0 else "ABF", code) for i, code in enumerate(codes))))
    return out


def _rendering(rendering: Provider, billing: Provider) -> list[str]:
    if not rendering.npi or rendering.npi == billing.npi:
        return []
    last, first = person_name(rendering.name)
    out = [_seg("NM1", "82", "1", last, first, "", "", "", "XX", rendering.npi)]
    if rendering.taxonomy:
        out.append(_seg("PRV", "PE", "PXC", rendering.taxonomy))
    return out


def _other_payers(claim: Claim) -> list[str]:
    out: list[str] = []
    for sequence, payer in enumerate(claim.payers[1:], start=1):
        if payer.payer_type == "patient" or not payer.electronic_id:
            continue
        out.append(
            _seg(
                "SBR",
                RESPONSIBILITY[sequence],
                RELATIONSHIP[payer.relationship],
                _text(payer.group_number or "", 50),
                "",
                "",
                "",
                "",
                "",
                FILING_INDICATOR[payer.payer_type],
            )
        )
        out.append(_seg("OI", "", "", "Y", "P", "", "Y"))
        last, first = claim.patient.last_name, claim.patient.first_name
        if payer.relationship != "self" and payer.subscriber is not None:
            last, first = payer.subscriber.last_name, payer.subscriber.first_name
        out.extend(_person("IL", last, first, payer.member_id))
        out.extend(_payer(payer, with_address=False))
    return out


def _lines(claim: Claim) -> list[str]:
    out: list[str] = []
    claim_place = claim.lines[0].place_of_service
    for line in claim.lines:
        out.append(_seg("LX", str(line.line_number)))
        out.append(
            _seg(
                "SV1",
                _composite("HC", line.procedure_code, *line.modifiers[:4]),
                amount(line.amount),
                "UN",
                str(line.units),
                "" if line.place_of_service == claim_place else line.place_of_service,
                "",
                _composite(*(str(p) for p in line.diagnosis_pointers[:4])),
            )
        )
        out.append(_seg("DTP", "472", "D8", claim.service_date.strftime("%Y%m%d")))
        authorization = line.prior_authorization
        if authorization is not None and authorization.number:
            out.append(_seg("REF", "G1", _id(authorization.number, 50)))
        out.append(_seg("REF", "6R", _id(line.charge_id, 50)))
    return out


def _payer(payer: ChargePayer, with_address: bool = True) -> list[str]:
    name = _text(payer.name or payer.payer_id, 60)
    out = [_seg("NM1", "PR", "2", name, "", "", "", "", "PI", _id(payer.electronic_id or "", 80))]
    if with_address and payer.address is not None and payer.address.line1:
        out.extend(_address(payer.address))
    return out


def _person(entity: str, last: str, first: str, member_id: str | None) -> list[str]:
    if member_id:
        return [
            _seg(
                "NM1", entity, "1", _text(last, 60), _text(first, 35), "", "", "", "MI", _text(member_id, 80)
            )
        ]
    return [_seg("NM1", entity, "1", _text(last, 60), _text(first, 35))]


def _address(address: Address | None) -> list[str]:
    if address is None:
        return []
    return [
        _seg("N3", _text(address.line1, 55), _text(address.line2, 55)),
        _seg("N4", _text(address.city, 30), address.state.upper(), address.postal_code.replace("-", "")),
    ]


def _demographics(birth: dt.date | None, sex: str | None) -> list[str]:
    if birth is None:
        return []
    return [_seg("DMG", "D8", birth.strftime("%Y%m%d"), sex or "U")]


def person_name(name: str) -> tuple[str, str]:
    """(last, first) from "First Last, credentials" as the EHR gives a therapist's name."""
    words = _text(name.split(",")[0], 95).split()
    if not words:
        return "", ""
    return _text(words[-1], 60), _text(" ".join(words[:-1]), 35)


def amount(value: Decimal) -> str:
    """An X12 R value: no trailing zeros after the point, no point for whole amounts."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _id(value: str, limit: int) -> str:
    """An identifier as given (case matters when it comes back in a 277CA), delimiters removed."""
    return _UNSAFE.sub("", value)[:limit]


def _text(value: str, limit: int) -> str:
    return " ".join(_UNSAFE.sub(" ", value).upper().split())[:limit].strip()


def _composite(*parts: str) -> str:
    return COMPONENT.join(parts).rstrip(COMPONENT)


def _seg(segment_id: str, *elements: str) -> str:
    return ELEMENT.join((segment_id, *elements)).rstrip(ELEMENT) + SEGMENT_END
