"""The fixed reference data behind the sample: companies, payers, codes, fees, names.

Names and addresses are obviously fake (Testperson, Sampleton, 100 Example Street): the
sample must never look like a real patient's record. Codes and fees are realistic so that
the formatter's rules have something true to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Discipline = Literal["PT", "OT", "SLP"]

#: The Medicare therapy modifier of each discipline.
DISCIPLINE_MODIFIER: dict[Discipline, str] = {"PT": "GP", "OT": "GO", "SLP": "GN"}
#: Assistant modifiers: CQ marks a PT assistant's service, CO an OT assistant's.
ASSISTANT_MODIFIER: dict[Discipline, str] = {"PT": "CQ", "OT": "CO"}


@dataclass(frozen=True)
class Location:
    id: str
    name: str
    place_of_service: str


@dataclass(frozen=True)
class Practice:
    id: str
    name: str
    disciplines: tuple[Discipline, ...]
    locations: tuple[Location, ...]


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    #: Fee schedules differ between companies; fees below are multiplied by this.
    fee_factor: Decimal
    #: Some practice systems send the EIN as 12-3456789; the rule strips the hyphen.
    hyphenated_tax_id: bool
    practices: tuple[Practice, ...]


COMPANIES: tuple[Company, ...] = (
    Company(
        id="acme-therapy",
        name="Acme Therapy Group",
        fee_factor=Decimal("1.00"),
        hyphenated_tax_id=False,
        practices=(
            Practice(
                "acme-pt-north",
                "Acme Physical Therapy North",
                ("PT",),
                (
                    Location("acme-north-main", "Acme North, Main Street clinic", "11"),
                    Location("acme-north-mall", "Acme North, Sampleton Mall clinic", "11"),
                ),
            ),
            Practice(
                "acme-hand-ot",
                "Acme Hand and Occupational Therapy",
                ("OT",),
                (Location("acme-hand-clinic", "Acme Hand clinic", "11"),),
            ),
        ),
    ),
    Company(
        id="bayside-rehab",
        name="Bayside Rehabilitation",
        fee_factor=Decimal("1.10"),
        hyphenated_tax_id=True,
        practices=(
            Practice(
                "bayside-outpatient",
                "Bayside Outpatient Rehab",
                ("PT", "OT", "SLP"),
                (
                    Location("bayside-harbor", "Bayside Harbor clinic", "11"),
                    # Hospital-based department: billed as on-campus outpatient hospital.
                    Location("bayside-general-opd", "Bayside General outpatient dept", "22"),
                ),
            ),
            Practice(
                "bayside-speech",
                "Bayside Speech and Swallowing",
                ("SLP",),
                (
                    Location("bayside-speech-center", "Bayside Speech center", "11"),
                    Location("bayside-telehealth", "Bayside telehealth", "02"),
                ),
            ),
        ),
    ),
    Company(
        id="pinecrest-physio",
        name="Pinecrest Physio",
        fee_factor=Decimal("0.95"),
        hyphenated_tax_id=False,
        practices=(
            Practice(
                "pinecrest-pt",
                "Pinecrest Physical Therapy",
                ("PT", "OT"),
                (
                    Location("pinecrest-downtown", "Pinecrest downtown", "11"),
                    Location("pinecrest-west", "Pinecrest west", "11"),
                ),
            ),
        ),
    ),
)


@dataclass(frozen=True)
class ProcedureCode:
    code: str
    discipline: Discipline
    fee: Decimal  # per unit, before the company's factor
    timed: bool  # billed in 15-minute units
    evaluation: bool = False


# Evaluations are untimed and bill 1 unit; timed codes follow the 8-minute rule.
PROCEDURES: tuple[ProcedureCode, ...] = (
    ProcedureCode("97161", "PT", Decimal("150.00"), timed=False, evaluation=True),
    ProcedureCode("97162", "PT", Decimal("175.00"), timed=False, evaluation=True),
    ProcedureCode("97163", "PT", Decimal("200.00"), timed=False, evaluation=True),
    ProcedureCode("97164", "PT", Decimal("95.00"), timed=False, evaluation=True),
    ProcedureCode("97110", "PT", Decimal("45.00"), timed=True),
    ProcedureCode("97112", "PT", Decimal("48.00"), timed=True),
    ProcedureCode("97116", "PT", Decimal("42.00"), timed=True),
    ProcedureCode("97140", "PT", Decimal("42.00"), timed=True),
    ProcedureCode("97530", "PT", Decimal("50.00"), timed=True),
    ProcedureCode("G0283", "PT", Decimal("20.00"), timed=False),
    ProcedureCode("97165", "OT", Decimal("155.00"), timed=False, evaluation=True),
    ProcedureCode("97166", "OT", Decimal("180.00"), timed=False, evaluation=True),
    ProcedureCode("97167", "OT", Decimal("205.00"), timed=False, evaluation=True),
    ProcedureCode("97168", "OT", Decimal("100.00"), timed=False, evaluation=True),
    ProcedureCode("97530", "OT", Decimal("50.00"), timed=True),
    ProcedureCode("97535", "OT", Decimal("46.00"), timed=True),
    ProcedureCode("97110", "OT", Decimal("45.00"), timed=True),
    ProcedureCode("97140", "OT", Decimal("42.00"), timed=True),
    ProcedureCode("92507", "SLP", Decimal("120.00"), timed=False),
    ProcedureCode("92526", "SLP", Decimal("110.00"), timed=False),
)

#: G0283 is Medicare's unattended e-stim code; other payers are not billed it here.
MEDICARE_ONLY_CODES = frozenset({"G0283"})

#: The evaluation codes whose units the EVALUATION_UNITS rule fixes at 1.
EVALUATION_CODES = frozenset(f"{c}" for c in range(97161, 97169))

#: Initial evaluations by complexity; re-evaluations (97164, 97168) only follow a course.
INITIAL_EVALUATIONS: dict[Discipline, tuple[str, ...]] = {
    "PT": ("97161", "97162", "97163"),
    "OT": ("97165", "97166", "97167"),
    "SLP": (),  # the SLP evaluations (92521-92524) are left out: 92507 starts a course here
}
RE_EVALUATIONS: dict[Discipline, str] = {"PT": "97164", "OT": "97168"}


def treatment_codes(discipline: Discipline, medicare: bool) -> tuple[ProcedureCode, ...]:
    return tuple(
        p
        for p in PROCEDURES
        if p.discipline == discipline and not p.evaluation and (medicare or p.code not in MEDICARE_ONLY_CODES)
    )


def procedure(code: str, discipline: Discipline) -> ProcedureCode:
    return next(p for p in PROCEDURES if p.code == code and p.discipline == discipline)


#: Common ICD-10-CM codes in outpatient therapy, by discipline.
DIAGNOSES: dict[Discipline, tuple[str, ...]] = {
    "PT": (
        "M54.50",  # low back pain, unspecified
        "M54.2",  # cervicalgia
        "M54.16",  # radiculopathy, lumbar region
        "M25.511",  # pain in right shoulder
        "M25.561",  # pain in right knee
        "M25.661",  # stiffness of right knee
        "M62.81",  # muscle weakness (generalized)
        "S83.241A",  # other tear of medial meniscus, right knee, initial encounter
        "R26.89",  # other abnormalities of gait and mobility
        "R26.2",  # difficulty in walking
        "M17.11",  # unilateral primary osteoarthritis, right knee
        "Z96.651",  # presence of right artificial knee joint
        "Z47.1",  # aftercare following joint replacement surgery
    ),
    "OT": (
        "I69.351",  # hemiplegia following cerebral infarction, right dominant side
        "M62.81",
        "G56.01",  # carpal tunnel syndrome, right upper limb
        "M19.041",  # primary osteoarthritis, right hand
        "S52.501D",  # fracture of lower end of right radius, subsequent encounter
        "R27.8",  # other lack of coordination
        "M25.631",  # stiffness of right wrist
    ),
    "SLP": (
        "R47.1",  # dysarthria and anarthria
        "R47.01",  # aphasia
        "R13.12",  # dysphagia, oropharyngeal phase
        "I69.320",  # aphasia following cerebral infarction
        "R49.0",  # dysphonia
    ),
}

#: Every valid diagnosis above, deduplicated, for rules that need many distinct codes.
ALL_DIAGNOSES: tuple[str, ...] = tuple(dict.fromkeys(c for cs in DIAGNOSES.values() for c in cs))

MALFORMED_DIAGNOSES = ("54M.50", "M54.50.1", "M5", "M54.500000", "ICD-M545")

FIRST_NAMES = (
    "Alex", "Bailey", "Casey", "Dana", "Emery", "Frankie", "Gale", "Harper", "Indy",
    "Jordan", "Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Riley",
    "Sage", "Taylor", "Uma", "Vic", "Wren", "Yael",
)  # fmt: skip
LAST_NAMES = (
    "Testperson", "Sampleton", "Examplar", "Placeholder", "Mockridge", "Dummyfield",
    "Fakename", "Fixturely", "Stubbins", "Notreal", "Specimen", "Democase",
)  # fmt: skip
STREETS = ("Example Street", "Sample Avenue", "Test Lane", "Placeholder Road", "Mock Court")
CITIES = (("Testville", "OH"), ("Sampleton", "CA"), ("Mockford", "TX"), ("Exampleburg", "FL"))


@dataclass(frozen=True)
class PayerPlan:
    payer_id: str
    name: str
    payer_type: Literal["medicare", "medicaid", "commercial", "patient"]
    member_id_layout: str | None  # see identifiers.make_member_id; None: MBI or no id
    group_layout: str | None = None


MEDICARE = PayerPlan("medicare-b", "Medicare Part B", "medicare", None)
SUPPLEMENTS = (
    PayerPlan("aarp-medsupp", "AARP Medicare Supplement", "commercial", "99999999911"),
    PayerPlan("mutual-omaha-medsupp", "Mutual of Omaha Medicare Supplement", "commercial",
              "AA9999999"),
    PayerPlan("state-medicaid", "State Medicaid", "medicaid", "MCD99999999"),
)  # fmt: skip
COMMERCIAL = (
    PayerPlan("aetna", "Aetna", "commercial", "W999999999", "GRP99999"),
    PayerPlan("bcbs", "Blue Cross Blue Shield", "commercial", "AAA999999999", "99999"),
    PayerPlan("uhc", "UnitedHealthcare", "commercial", "999999999", "GRP999999"),
    PayerPlan("cigna", "Cigna", "commercial", "U9999999901", "9999999"),
)
SELF_PAY = PayerPlan("patient", "Patient (self-pay)", "patient", None)

#: Each insurance payer's electronic id on claims (fictional; a clearinghouse publishes the
#: real list) and where it takes paper claims.
PAYER_EDI: dict[str, tuple[str, tuple[str, str, str, str]]] = {
    "medicare-b": ("SMPMB1", ("PO Box 1001", "Sampleton", "CA", "900011001")),
    "aarp-medsupp": ("SMPAA2", ("PO Box 1002", "Testville", "OH", "430011002")),
    "mutual-omaha-medsupp": ("SMPMO3", ("PO Box 1003", "Mockford", "TX", "750011003")),
    "state-medicaid": ("SMPMD4", ("PO Box 1004", "Exampleburg", "FL", "320011004")),
    "aetna": ("SMPAE5", ("PO Box 1005", "Testville", "OH", "430011005")),
    "bcbs": ("SMPBC6", ("PO Box 1006", "Sampleton", "CA", "900011006")),
    "uhc": ("SMPUH7", ("PO Box 1007", "Mockford", "TX", "750011007")),
    "cigna": ("SMPCI8", ("PO Box 1008", "Exampleburg", "FL", "320011008")),
}
#: A therapy practice's billing taxonomy: rehabilitation clinic/center.
CLINIC_TAXONOMY = "261QR0400X"
