"""Seeded sample charges for outpatient therapy practices, some of them deliberately bad.

`generate_samples(n, seed, today)` returns the same list for the same arguments on any
machine: every random choice comes from one `random.Random(seed)`, and nothing reads the
clock. Valid charges come in visits (same patient, date, provider and payers, several
procedure codes) so the formatter groups them into one claim; a chosen share of charges
is then broken, each against one formatter rule (see `devtools.sample.breakers`).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from contracts import Address, Authorization, Charge, ChargePayer, Patient, Provider, Subscriber
from devtools.sample import catalog
from devtools.sample.breakers import BREAKERS, Breaker, submitted_at
from devtools.sample.catalog import Company, Discipline, Location, PayerPlan, Practice
from devtools.sample.identifiers import make_mbi, make_member_id, make_npi, make_tax_id

#: Valid service dates fall within this many days up to and including `today`.
SERVICE_WINDOW_DAYS = 60
#: Medicare patients stay well under the yearly KX threshold (2,480.00), so that a valid
#: sample charge never needs the KX modifier, even counted with the bad ones.
MEDICARE_PATIENT_CAP = Decimal("1500.00")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SampleCharge:
    """A generated charge and, when it was broken on purpose, the rule it breaks.

    The formatter must report at least `expected_failure_code` for a broken charge; where
    rules overlap (an evaluation billed 2 units also exceeds a unit limit of 1) it may
    report more. A valid charge (`expected_failure_code is None`) must produce a claim.
    """

    charge: Charge
    expected_failure_code: str | None = None

    @property
    def is_valid(self) -> bool:
        return self.expected_failure_code is None


def generate_samples(n: int, seed: int, today: dt.date, bad_share: float = 0.2) -> list[SampleCharge]:
    """`n` charges, `round(n * bad_share)` of them broken, in the order an EHR sends them."""
    if n < 0:
        raise ValueError("n must not be negative")
    if not 0.0 <= bad_share <= 1.0:
        raise ValueError("bad_share is a fraction between 0 and 1")
    rng = random.Random(seed)
    charges = _ValidCharges(rng, today).generate(n)
    broken = _choose_breakers(rng, charges, round(n * bad_share))
    samples = []
    for i, charge in enumerate(charges):
        breaker = broken.get(i)
        if breaker is None:
            samples.append(SampleCharge(charge))
        else:
            samples.append(SampleCharge(breaker.apply(charge, rng, today), breaker.code))
    return samples


def generate_charges(n: int, seed: int, today: dt.date, bad_share: float = 0.2) -> list[Charge]:
    """The charges of `generate_samples`, without the record of which ones are broken."""
    return [s.charge for s in generate_samples(n, seed, today, bad_share)]


def _choose_breakers(rng: random.Random, charges: list[Charge], count: int) -> dict[int, Breaker]:
    """Spread `count` broken charges over the rules, round robin, on random charges.

    A rule that fits no remaining charge (no Medicare patient left for the MBI rule) passes
    its turn to the next; several rules fit any charge, so `count` is always reached.
    """
    order = list(BREAKERS)
    rng.shuffle(order)
    pool = list(range(len(charges)))
    rng.shuffle(pool)
    chosen: dict[int, Breaker] = {}
    turn = 0
    while len(chosen) < count and pool:
        for attempt in range(len(order)):
            breaker = order[(turn + attempt) % len(order)]
            at = next((k for k, i in enumerate(pool) if breaker.applies(charges[i])), None)
            if at is not None:
                chosen[pool.pop(at)] = breaker
                turn = (turn + attempt + 1) % len(order)
                break
        else:  # no rule fits any charge left: cannot happen with the rules that fit all
            break
    return chosen


def _side_rng(key: str) -> random.Random:
    """A generator of its own for details added later, so the main draws stay as they were."""
    return random.Random(f"claimflow-sample:{key}")


def _clinic_address(practice: Practice) -> Address:
    rng = _side_rng(practice.id)
    city, state = rng.choice(catalog.CITIES)
    return Address(
        line1=f"{rng.randint(10, 999)} {rng.choice(catalog.STREETS)}",
        city=city,
        state=state,
        postal_code=f"0{rng.randint(1000, 1999)}{rng.randint(1000, 9999)}",
    )


def _with_subscribers(payers: list[ChargePayer], patient: Patient) -> list[ChargePayer]:
    """Some commercial patients are covered as a spouse or child on someone else's policy."""
    rng = _side_rng(patient.id)
    if payers[0].payer_type != "commercial" or rng.random() >= 0.25:
        return payers
    assert patient.birth_date is not None
    relationship = "child" if rng.random() < 0.3 else "spouse"
    years = rng.randint(25, 40) if relationship == "child" else rng.randint(-3, 3)
    subscriber = Subscriber(
        first_name=rng.choice(catalog.FIRST_NAMES),
        last_name=patient.last_name,
        birth_date=patient.birth_date - dt.timedelta(days=365 * years + rng.randint(0, 300)),
        sex=rng.choice(("F", "M")),
        address=patient.address,
    )
    primary = payers[0].model_copy(update={"relationship": relationship, "subscriber": subscriber})
    return [primary, *payers[1:]]


@dataclass
class _Staff:
    billing: Provider
    therapists: dict[Discipline, list[Provider]]
    has_assistants: bool


@dataclass
class _Episode:
    """One patient's course of therapy at one location."""

    company: Company
    practice: Practice
    location: Location
    discipline: Discipline
    patient: Patient
    payers: list[ChargePayer]
    therapist: Provider
    staff: _Staff
    diagnoses: list[str]
    minutes_recorded: bool
    authorization: Authorization | None = None
    billed: Decimal = field(default=Decimal("0.00"))

    @property
    def medicare(self) -> bool:
        return self.payers[0].payer_type == "medicare"


class _ValidCharges:
    def __init__(self, rng: random.Random, today: dt.date) -> None:
        self.rng = rng
        self.today = today
        self.staff = {p.id: self._staff(c, p) for c in catalog.COMPANIES for p in c.practices}
        self.charge_ids: set[str] = set()
        self.patient_ids: set[str] = set()

    def generate(self, n: int) -> list[Charge]:
        charges: list[Charge] = []
        while len(charges) < n:
            charges.extend(self._episode_charges(self._episode()))
        charges = charges[:n]
        # An EHR sends the day's charges after the visits: by date, then clinic and patient.
        charges.sort(key=lambda c: (c.service_date or dt.date.min, c.company_id, c.patient.id))
        return charges

    def _staff(self, company: Company, practice: Practice) -> _Staff:
        rng = self.rng
        billing = Provider(
            npi=make_npi(rng),
            name=f"{practice.name} LLC",
            tax_id=make_tax_id(rng, hyphen=company.hyphenated_tax_id),
            address=_clinic_address(practice),
            taxonomy=catalog.CLINIC_TAXONOMY,
        )
        therapists: dict[Discipline, list[Provider]] = {}
        credential = {"PT": "PT, DPT", "OT": "OTR/L", "SLP": "CCC-SLP"}
        for discipline in practice.disciplines:
            therapists[discipline] = [
                Provider(npi=make_npi(rng), name=f"{self._person()}, {credential[discipline]}")
                for _ in range(rng.randint(1, 3))
            ]
        return _Staff(billing, therapists, has_assistants=rng.random() < 0.6)

    def _person(self) -> str:
        return f"{self.rng.choice(catalog.FIRST_NAMES)} {self.rng.choice(catalog.LAST_NAMES)}"

    def _episode(self) -> _Episode:
        rng = self.rng
        company = rng.choice(catalog.COMPANIES)
        practice = rng.choice(company.practices)
        discipline = rng.choice(practice.disciplines)
        location = rng.choice(practice.locations)
        staff = self.staff[practice.id]
        kind = rng.choices(("medicare", "commercial", "self"), weights=(40, 45, 15))[0]
        age = {"medicare": (65, 92), "commercial": (18, 64), "self": (6, 80)}[kind]
        payers = self._payers(kind)
        authorization = None
        if kind == "commercial" and rng.random() < 0.4:
            authorization = Authorization(
                number=f"AUTH{rng.randrange(10**8):08d}",
                start_date=self.today - dt.timedelta(days=SERVICE_WINDOW_DAYS + rng.randint(0, 20)),
                end_date=self.today + dt.timedelta(days=rng.randint(30, 90)),
                visits_authorized=rng.choice((12, 20, 24, 30)),
                visits_used=0,
            )
        pool = catalog.DIAGNOSES[discipline]
        patient = self._patient(age)
        return _Episode(
            company=company,
            practice=practice,
            location=location,
            discipline=discipline,
            patient=patient,
            payers=_with_subscribers(payers, patient),
            therapist=rng.choice(staff.therapists[discipline]),
            staff=staff,
            diagnoses=rng.sample(pool, rng.randint(1, min(3, len(pool)))),
            minutes_recorded=rng.random() < 0.7,
            authorization=authorization,
        )

    def _patient(self, age_range: tuple[int, int]) -> Patient:
        rng = self.rng
        patient_id = f"PT{rng.randrange(10**6):06d}"
        while patient_id in self.patient_ids:
            patient_id = f"PT{rng.randrange(10**6):06d}"
        self.patient_ids.add(patient_id)
        age_days = rng.randint(age_range[0] * 365 + 30, age_range[1] * 365 + 300)
        city, state = rng.choice(catalog.CITIES)
        return Patient(
            id=patient_id,
            first_name=rng.choice(catalog.FIRST_NAMES),
            last_name=rng.choice(catalog.LAST_NAMES),
            birth_date=self.today - dt.timedelta(days=age_days),
            sex=rng.choices(("F", "M", "U"), weights=(50, 48, 2))[0],
            address=Address(
                line1=f"{rng.randint(100, 9899)} {rng.choice(catalog.STREETS)}",
                line2=rng.choice(("", "", "", f"Apt {rng.randint(1, 40)}")),
                city=city,
                state=state,
                postal_code=f"0{rng.randint(1000, 1999)}",
            ),
        )

    def _payers(self, kind: str) -> list[ChargePayer]:
        rng = self.rng
        plans: list[PayerPlan]
        if kind == "medicare":
            plans = [catalog.MEDICARE]
            if rng.random() < 0.6:
                plans.append(rng.choice(catalog.SUPPLEMENTS))
            if plans[-1].payer_type != "medicaid":  # Medicaid covers the dual's cost share
                plans.append(catalog.SELF_PAY)
        elif kind == "commercial":
            plans = rng.sample(catalog.COMMERCIAL, 2 if rng.random() < 0.15 else 1)
            plans.append(catalog.SELF_PAY)
        else:
            plans = [catalog.SELF_PAY]
        return [self._payer(plan) for plan in plans]

    def _payer(self, plan: PayerPlan) -> ChargePayer:
        rng = self.rng
        member_id = None
        if plan.payer_type == "medicare":
            member_id = make_mbi(rng)
        elif plan.member_id_layout is not None:
            member_id = make_member_id(rng, plan.member_id_layout)
        group = make_member_id(rng, plan.group_layout) if plan.group_layout else None
        edi = catalog.PAYER_EDI.get(plan.payer_id)
        return ChargePayer(
            payer_id=plan.payer_id,
            name=plan.name,
            payer_type=plan.payer_type,
            member_id=member_id,
            group_number=group,
            electronic_id=edi[0] if edi else None,
            address=Address(line1=edi[1][0], city=edi[1][1], state=edi[1][2], postal_code=edi[1][3])
            if edi
            else None,
        )

    def _episode_charges(self, episode: _Episode) -> list[Charge]:
        rng = self.rng
        visit_count = rng.randint(1, 8)
        offsets = sorted(rng.sample(range(SERVICE_WINDOW_DAYS), visit_count), reverse=True)
        has_evaluation = bool(catalog.INITIAL_EVALUATIONS[episode.discipline])
        new_patient = has_evaluation and rng.random() < 0.5
        charges: list[Charge] = []
        for number, offset in enumerate(offsets):
            service_date = self.today - dt.timedelta(days=offset)
            lines = self._visit_lines(episode, evaluation=new_patient and number == 0)
            total = sum((line[2] for line in lines), Decimal("0.00"))
            if episode.medicare and episode.billed + total > MEDICARE_PATIENT_CAP:
                break
            episode.billed += total
            assistant = (
                episode.staff.has_assistants
                and episode.discipline in catalog.ASSISTANT_MODIFIER
                and not (new_patient and number == 0)
                and rng.random() < 0.25
            )
            authorization = episode.authorization
            if authorization is not None:
                authorization = authorization.model_copy(update={"visits_used": number})
            for code, units, amount, minutes in lines:
                charges.append(
                    self._charge(
                        episode, service_date, code, units, amount, minutes, assistant,
                        authorization,
                    )
                )  # fmt: skip
        return charges

    def _visit_lines(
        self, episode: _Episode, evaluation: bool
    ) -> list[tuple[catalog.ProcedureCode, int, Decimal, int | None]]:
        """(code, units, amount, minutes) for each line of one visit; codes are distinct."""
        rng = self.rng
        discipline = episode.discipline
        treatments = list(catalog.treatment_codes(discipline, episode.medicare))
        codes: list[catalog.ProcedureCode] = []
        if evaluation:
            eval_code = rng.choice(catalog.INITIAL_EVALUATIONS[discipline])
            codes.append(catalog.procedure(eval_code, discipline))
            codes.extend(rng.sample(treatments, rng.randint(0, 1)))
        elif discipline == "SLP":
            codes.extend(rng.sample(treatments, rng.randint(1, len(treatments))))
        else:
            if discipline in catalog.RE_EVALUATIONS and rng.random() < 0.05:
                codes.append(catalog.procedure(catalog.RE_EVALUATIONS[discipline], discipline))
            codes.extend(rng.sample(treatments, rng.randint(2, min(4, len(treatments)))))
        lines = []
        for proc in codes:
            units = rng.choices((1, 2, 3, 4), weights=(30, 40, 22, 8))[0] if proc.timed else 1
            # Minutes agree with the 8-minute rule line by line and in total: each line is
            # within a minute of 15 per unit, so even four lines stay within 7 minutes.
            minutes = 15 * units + rng.choice((-1, 0, 1)) if proc.timed else None
            if not episode.minutes_recorded:
                minutes = None
            fee = (proc.fee * episode.company.fee_factor).quantize(CENT)
            lines.append((proc, units, fee * units, minutes))
        return lines

    def _charge(
        self,
        episode: _Episode,
        service_date: dt.date,
        proc: catalog.ProcedureCode,
        units: int,
        amount: Decimal,
        minutes: int | None,
        assistant: bool,
        authorization: Authorization | None,
    ) -> Charge:
        rng = self.rng
        modifiers = [catalog.DISCIPLINE_MODIFIER[episode.discipline]]
        if assistant and not proc.evaluation:
            modifiers.append(catalog.ASSISTANT_MODIFIER[episode.discipline])
        pointer_count = rng.randint(1, min(2, len(episode.diagnoses)))
        return Charge(
            charge_id=self._charge_id(),
            company_id=episode.company.id,
            practice_id=episode.practice.id,
            location_id=episode.location.id,
            patient=episode.patient,
            payers=episode.payers,
            rendering_provider=episode.therapist,
            billing_provider=episode.staff.billing,
            service_date=service_date,
            procedure_code=proc.code,
            modifiers=modifiers,
            units=units,
            minutes=minutes,
            amount=amount,
            diagnoses=episode.diagnoses,
            diagnosis_pointers=list(range(1, pointer_count + 1)),
            place_of_service=episode.location.place_of_service,
            prior_authorization=authorization,
            submitted_at=submitted_at(rng, service_date, self.today),
        )

    def _charge_id(self) -> str:
        charge_id = f"chg-{self.rng.getrandbits(48):012x}"
        while charge_id in self.charge_ids:
            charge_id = f"chg-{self.rng.getrandbits(48):012x}"
        self.charge_ids.add(charge_id)
        return charge_id
