"""Well-formed fake identifiers: NPIs, Medicare MBIs, tax ids, member ids.

Every generator takes the caller's `random.Random` so that a seed reproduces a data set.
The formats follow the formatter rules (spec/formatter-rules.md); the values are random
and belong to nobody.
"""

from __future__ import annotations

import random

from workers.formatter.rules.identity import npi_check_digit as check_digit

#: MBI letters leave out S, L, O, I, B and Z so they cannot be read as digits.
MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
MBI_ALNUM = MBI_LETTERS + "0123456789"
DIGITS = "0123456789"


def npi_check_digit(first_nine: str) -> str:
    # The formatter's rule is the one definition of the digit (Luhn over 80840 + 9 digits).
    return str(check_digit(first_nine))


def make_npi(rng: random.Random) -> str:
    first_nine = rng.choice("12") + "".join(rng.choice(DIGITS) for _ in range(8))
    return first_nine + npi_check_digit(first_nine)


def break_npi(npi: str) -> str:
    """The same NPI with a wrong check digit (every other digit is wrong, pick the next)."""
    return npi[:9] + str((int(npi[9]) + 1) % 10)


def make_mbi(rng: random.Random) -> str:
    """A Medicare Beneficiary Identifier in the CMS layout, e.g. 1EG4TE5MK73."""
    layout = (
        "123456789",
        MBI_LETTERS,
        MBI_ALNUM,
        DIGITS,
        MBI_LETTERS,
        MBI_ALNUM,
        DIGITS,
        MBI_LETTERS,
        MBI_LETTERS,
        DIGITS,
        DIGITS,
    )
    return "".join(rng.choice(alphabet) for alphabet in layout)


def malformed_mbi(rng: random.Random, mbi: str) -> str:
    """An id a Medicare payer would refuse: an old SSN-based HICN, or an excluded letter."""
    if rng.random() < 0.5:
        return "".join(rng.choice(DIGITS) for _ in range(9)) + "A"
    # Position 2 must be a letter outside S/L/O/I/B/Z.
    return mbi[0] + rng.choice("SLOIBZ") + mbi[2:]


def make_tax_id(rng: random.Random, hyphen: bool = False) -> str:
    digits = str(rng.randint(10, 99)) + "".join(rng.choice(DIGITS) for _ in range(7))
    return f"{digits[:2]}-{digits[2:]}" if hyphen else digits


def make_member_id(rng: random.Random, layout: str) -> str:
    """`layout`: A = a capital letter, 9 = a digit, anything else is kept as is."""
    out = []
    for ch in layout:
        if ch == "A":
            out.append(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ"))
        elif ch == "9":
            out.append(rng.choice(DIGITS))
        else:
            out.append(ch)
    return "".join(out)
