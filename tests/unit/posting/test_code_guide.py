"""Every transaction code is explained once, in the seed's family."""

from __future__ import annotations

from workers.posting.code_guide import BY_CODE, FAMILIES
from workers.posting.codes import REGISTRY


def test_every_registered_code_has_one_explanation() -> None:
    listed = [h.code for f in FAMILIES for h in f.codes]
    assert sorted(listed) == sorted(REGISTRY)
    assert len(listed) == len(set(listed))
    assert all(h.explanation.endswith(".") for h in BY_CODE.values())


def test_families_follow_the_seed() -> None:
    titles = [f.title for f in FAMILIES]
    assert titles[0] == "Payments (start with P)" and "Rejections (start with J)" in titles
    assert BY_CODE["F"].family and BY_CODE["J"].takes_next_payer and not BY_CODE["HA"].takes_amount
