"""Reading acknowledgments: the 999 (005010X231A1) and the 277CA (005010X214). Pure, no I/O.

A 999 answers our interchange's functional group (AK1, by GS06) transaction set by
transaction set (AK2/IK5, by ST02); a claim is its own transaction set, so IK5 speaks for
one claim. A 277CA answers claim by claim: TRN02 in the patient loop is our CLM01, the
claim id; STC01's category says accepted (A0-A2) or rejected (A3, A4, A6-A8); REF*1K is
the payer's claim control number, which a replacement claim quotes in REF*F8.
"""

from __future__ import annotations

from dataclasses import dataclass

#: IK304: what is wrong with a segment.
SEGMENT_ERRORS = {
    "1": "unrecognized segment",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in the transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "segment not used in the implementation is present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent not-used segment present",
}
#: IK403: what is wrong with an element.
ELEMENT_ERRORS = {
    "1": "required element missing",
    "2": "conditional required element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in the implementation",
    "I9": "implementation dependent data element missing",
    "I10": "implementation not-used data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent not-used data element present",
}
#: IK5 / AK9 codes.
ACK_CODES = {
    "A": "accepted",
    "E": "accepted with errors",
    "M": "rejected",
    "P": "partially accepted",
    "R": "rejected",
    "W": "rejected",
    "X": "rejected",
}
#: 277CA claim status categories (STC01-1).
CATEGORIES = {
    "A0": "forwarded to another entity",
    "A1": "received",
    "A2": "accepted into adjudication",
    "A3": "returned as unprocessable",
    "A4": "not found",
    "A5": "split",
    "A6": "rejected for missing information",
    "A7": "rejected for invalid information",
    "A8": "rejected for relational field in error",
}
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})
#: A few common claim status codes (STC01-2); the full list is the code source 508 table.
STATUS_CODES = {
    "0": "cannot provide further status electronically",
    "19": "entity acknowledges receipt of claim",
    "20": "accepted for processing",
    "21": "missing or invalid information",
    "33": "subscriber and subscriber id not found",
    "35": "claim not found",
    "97": "patient eligibility not found with entity",
    "116": "claim submitted to incorrect payer",
    "145": "entity's primary identifier",
    "164": "entity's contract/member number",
    "187": "date(s) of service",
    "562": "entity's national provider identifier (NPI)",
}
#: Entity codes that qualify a status code (STC01-3).
ENTITIES = {
    "40": "receiver",
    "41": "submitter",
    "85": "billing provider",
    "IL": "subscriber",
    "PR": "payer",
    "QC": "patient",
    "82": "rendering provider",
}


class AckError(ValueError):
    """A file that is not a 999 or 277CA this project can read."""


@dataclass(frozen=True)
class TransactionAck:
    control_number: str  # AK202: our ST02
    code: str  # IK501
    problems: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        # E (accepted with errors) goes back to the biller too: the claim may not adjudicate.
        return self.code in ("R", "E", "M", "W", "X")


@dataclass(frozen=True)
class ClaimStatus:
    claim_id: str  # TRN02 of the patient loop: our CLM01
    statuses: tuple[tuple[str, str, str], ...]  # (category, status, entity) per STC01/10/11
    action: str  # STC03: WQ accept, U reject
    payer_claim_number: str | None = None
    message: str = ""

    @property
    def rejected(self) -> bool:
        return self.action == "U" or any(category in REJECTED_CATEGORIES for category, _, _ in self.statuses)

    def words(self) -> str:
        parts = []
        for category, status, entity in self.statuses:
            text = f"{category} {CATEGORIES.get(category, 'status category')}"
            if status:
                text += f", {status} {STATUS_CODES.get(status, 'claim status code')}"
            if entity:
                text += f" ({ENTITIES.get(entity, entity)})"
            parts.append(text)
        if self.message:
            parts.append(self.message)
        return "; ".join(parts)


@dataclass(frozen=True)
class Acknowledgment:
    kind: str  # "999" or "277CA"
    sender_id: str  # ISA06 of the acknowledgment (the clearinghouse or payer)
    receiver_id: str  # ISA08 (us)
    control_number: str  # ISA13 of the acknowledgment
    group_number: str = ""  # 999: AK102, the GS06 of our group it answers
    group_code: str = ""  # 999: AK901
    transactions: tuple[TransactionAck, ...] = ()
    claims: tuple[ClaimStatus, ...] = ()

    @property
    def ack_id(self) -> str:
        return f"{self.kind}:{self.sender_id}:{self.control_number}"


def segments(text: str) -> list[list[str]]:
    """Split an interchange by the delimiters its ISA declares."""
    text = text.lstrip()
    if not text.startswith("ISA") or len(text) < 106:
        raise AckError("not an X12 interchange: it does not start with an ISA segment")
    element, component, terminator = text[3], text[104], text[105]
    del component
    out = []
    for raw in text.split(terminator):
        raw = raw.strip()
        if raw:
            out.append(raw.split(element))
    return out


def parse(text: str) -> Acknowledgment:
    segs = segments(text)
    isa = segs[0]
    st = next((s for s in segs if s[0] == "ST"), None)
    if st is None:
        raise AckError("the interchange holds no transaction set")
    sender, receiver, control = isa[6].strip(), isa[8].strip(), isa[13].strip()
    if st[1] == "999":
        return _parse_999(segs, sender, receiver, control)
    if st[1] == "277":
        return _parse_277ca(segs, sender, receiver, control)
    raise AckError(f"a {st[1]} transaction set is not an acknowledgment this project reads (999 or 277CA)")


def _parse_999(segs: list[list[str]], sender: str, receiver: str, control: str) -> Acknowledgment:
    group = group_code = ""
    transactions: list[TransactionAck] = []
    current: str | None = None
    problems: list[str] = []
    where = ""
    for seg in segs:
        tag = seg[0]
        if tag == "AK1":
            group = _at(seg, 2)
        elif tag == "AK2":
            current, problems, where = _at(seg, 2), [], ""
        elif tag == "IK3":
            where = f"segment {_at(seg, 1)} at position {_at(seg, 2)}"
            loop = _at(seg, 3)
            if loop:
                where += f" (loop {loop})"
            code = _at(seg, 4)
            if code and code != "8":
                problems.append(f"{where}: {SEGMENT_ERRORS.get(code, 'segment error ' + code)}")
        elif tag == "IK4":
            position = _at(seg, 1).split(":")[0]
            code = _at(seg, 3)
            bad = _at(seg, 4)
            text = f"{where}, element {position}: {ELEMENT_ERRORS.get(code, 'element error ' + code)}"
            if bad:
                text += f" ({bad!r})"
            problems.append(text)
        elif tag == "IK5" and current is not None:
            transactions.append(TransactionAck(current, _at(seg, 1), tuple(problems)))
            current = None
        elif tag == "AK9":
            group_code = _at(seg, 1)
    return Acknowledgment("999", sender, receiver, control, group, group_code, tuple(transactions))


def _parse_277ca(segs: list[list[str]], sender: str, receiver: str, control: str) -> Acknowledgment:
    claims: list[ClaimStatus] = []
    level = ""
    pending: dict[str, object] | None = None

    def close() -> None:
        if pending is not None and pending.get("claim_id"):
            claims.append(
                ClaimStatus(
                    str(pending["claim_id"]),
                    tuple(pending["statuses"]),  # type: ignore[arg-type]
                    str(pending.get("action", "")),
                    pending.get("pcn"),  # type: ignore[arg-type]
                    str(pending.get("message", "")),
                )
            )

    for seg in segs:
        tag = seg[0]
        if tag == "HL":
            close()
            pending = None
            level = _at(seg, 3)
            if level == "PT":
                pending = {"statuses": []}
        elif pending is None or level != "PT":
            continue
        elif tag == "TRN" and _at(seg, 1) == "2":
            pending["claim_id"] = _at(seg, 2)
        elif tag == "STC":
            statuses = pending["statuses"]
            assert isinstance(statuses, list)
            for index in (1, 10, 11):
                composite = _at(seg, index)
                if composite:
                    parts = [*composite.split(":"), "", "", ""][:3]
                    statuses.append((parts[0], parts[1], parts[2]))
            pending["action"] = _at(seg, 3)
            if _at(seg, 12):
                pending["message"] = _at(seg, 12)
        elif tag == "REF" and _at(seg, 1) == "1K":
            pending["pcn"] = _at(seg, 2)
        elif tag == "SE":
            close()
            pending = None
    close()
    return Acknowledgment("277CA", sender, receiver, control, claims=tuple(claims))


def _at(seg: list[str], index: int) -> str:
    return seg[index].strip() if index < len(seg) else ""
