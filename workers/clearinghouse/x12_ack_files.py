"""Acknowledgments as a clearinghouse would send them for our interchanges: pure, no I/O.

The demo (`make run`) and the tests play the clearinghouse with these: a 999 for an
interchange (accepting it, or rejecting chosen transaction sets with an IK3/IK4 error) and
a 277CA with a status per claim. Both validate against pyx12's 999 and 277 (X214) maps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from contracts.claim import Claim
from workers.clearinghouse.x12_837 import amount
from workers.clearinghouse.x12_acks import segments


@dataclass(frozen=True)
class ElementError:
    """One IK3/IK4 pair: the segment, its position in the transaction set, the element and code."""

    segment: str
    position: int
    element: int
    code: str
    loop: str = ""  # IK303, the LS loop identifier, when the segment is in one (at most 4)


def _seg(*elements: str) -> str:
    return "*".join(elements).rstrip("*") + "~"


def _envelope(
    sender: str, receiver: str, control: int, created: dt.datetime, functional: str, version: str
) -> tuple[list[str], list[str]]:
    isa13 = f"{control:09d}"
    head = [
        "*".join(
            [
                "ISA",
                "00",
                " " * 10,
                "00",
                " " * 10,
                "ZZ",
                sender.ljust(15),
                "ZZ",
                receiver.ljust(15),
                created.strftime("%y%m%d"),
                created.strftime("%H%M"),
                "^",
                "00501",
                isa13,
                "0",
                "P",
                ":",
            ]
        )
        + "~",
        _seg(
            "GS",
            functional,
            sender,
            receiver,
            created.strftime("%Y%m%d"),
            created.strftime("%H%M"),
            str(control),
            "X",
            version,
        ),
    ]
    tail = [_seg("GE", "1", str(control)), _seg("IEA", "1", isa13)]
    return head, tail


def ack_999(
    interchange_text: str,
    control: int,
    created: dt.datetime,
    rejected: Mapping[str, ElementError] | None = None,
) -> str:
    """A 999 for `interchange_text`: every transaction set accepted except those in `rejected`."""
    rejected = rejected or {}
    segs = segments(interchange_text)
    isa, gs = segs[0], segs[1]
    ours, theirs = isa[6].strip(), isa[8].strip()
    transactions = [s[2] for s in segs if s[0] == "ST"]
    body = [_seg("AK1", "HC", gs[6], gs[8])]
    for st02 in transactions:
        body.append(_seg("AK2", "837", st02, gs[8]))
        error = rejected.get(st02)
        if error is not None:
            body.append(_seg("IK3", error.segment, str(error.position), error.loop, "8"))
            body.append(_seg("IK4", str(error.element), "", error.code))
            body.append(_seg("IK5", "R", "5"))
        else:
            body.append(_seg("IK5", "A"))
    accepted = len(transactions) - len([t for t in transactions if t in rejected])
    code = "A" if accepted == len(transactions) else ("R" if accepted == 0 else "P")
    body.append(_seg("AK9", code, str(len(transactions)), str(len(transactions)), str(accepted)))
    head, tail = _envelope(theirs, ours, control, created, "FA", "005010X231A1")
    st = _seg("ST", "999", "0001", "005010X231A1")
    se = _seg("SE", str(len(body) + 2), "0001")
    return "\n".join([*head, st, *body, se, *tail]) + "\n"


@dataclass(frozen=True)
class ClaimAnswer:
    claim: Claim
    category: str  # A1, A2 accepted; A3, A6, A7, A8 rejected
    status: str  # claim status code, e.g. 20 accepted for processing, 21 missing or invalid info
    entity: str = ""
    payer_claim_number: str | None = None
    message: str = ""


def ack_277ca(
    answers: Sequence[ClaimAnswer],
    sender: str,
    receiver: str,
    control: int,
    created: dt.datetime,
    payer_name: str = "SAMPLE CLEARINGHOUSE",
) -> str:
    """A 277CA from `sender` to `receiver` (us) with one status for each answered claim."""
    date8 = created.strftime("%Y%m%d")
    accepted = [a for a in answers if a.category in ("A0", "A1", "A2")]
    rejected = [a for a in answers if a not in accepted]
    body = [
        _seg("BHT", "0085", "08", f"ACK{control}", date8, created.strftime("%H%M"), "TH"),
        _seg("HL", "1", "", "20", "1"),
        _seg("NM1", "PR", "2", payer_name, "", "", "", "", "46", sender),
        _seg("TRN", "1", f"R{control}"),
        _seg("DTP", "050", "D8", date8),
        _seg("DTP", "009", "D8", date8),
        _seg("HL", "2", "1", "21", "1"),
        _seg("NM1", "41", "2", "CLAIMFLOW BILLING", "", "", "", "", "46", receiver),
        _seg("TRN", "2", f"T{control}"),
        _seg(
            "STC",
            "A1:19:41",
            date8,
            "WQ",
            amount(sum((a.claim.total_amount for a in answers), Decimal("0.00"))),
        ),
        _seg("QTY", "90", str(len(accepted))),
        _seg("QTY", "AA", str(len(rejected))),
    ]
    hl = 2
    for answer in answers:
        claim = answer.claim
        hl += 1
        provider = hl
        body += [
            _seg("HL", str(provider), "2", "19", "1"),
            _seg(
                "NM1",
                "85",
                "2",
                claim.billing_provider.name.upper()[:60],
                "",
                "",
                "",
                "",
                "XX",
                claim.billing_provider.npi,
            ),
            _seg("TRN", "1", f"P{control}{provider}"),
            _seg("STC", "A1:19:85", "", "WQ", amount(claim.total_amount)),
        ]
        hl += 1
        member = claim.payers[0].member_id or claim.patient.id
        body += [
            _seg("HL", str(hl), str(provider), "PT"),
            _seg(
                "NM1",
                "QC",
                "1",
                claim.patient.last_name.upper(),
                claim.patient.first_name.upper(),
                "",
                "",
                "",
                "MI",
                member,
            ),
            _seg("TRN", "2", claim.claim_id),
        ]
        composite = ":".join(p for p in (answer.category, answer.status, answer.entity) if p)
        action = "WQ" if answer in accepted else "U"
        stc = [composite, date8, action, amount(claim.total_amount)]
        if answer.message:
            stc += ["", "", "", "", "", "", "", answer.message[:264]]
        body.append(_seg("STC", *stc))
        if answer.payer_claim_number:
            body.append(_seg("REF", "1K", answer.payer_claim_number))
        day = claim.service_date.strftime("%Y%m%d")
        body.append(_seg("DTP", "472", "RD8", f"{day}-{day}"))
    head, tail = _envelope(sender, receiver, control, created, "HN", "005010X214")
    st = _seg("ST", "277", "0001", "005010X214")
    se = _seg("SE", str(len(body) + 2), "0001")
    return "\n".join([*head, st, *body, se, *tail]) + "\n"
