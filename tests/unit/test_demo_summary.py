"""`make run`'s summary: this run's charges only, in words."""

from __future__ import annotations

from pathlib import Path

from claimflow.db import create_all, make_engine
from devtools.demo import RunCounts, counts, in_words
from tests.unit.report.data import fill


def test_the_summary_reads_as_sentences() -> None:
    c = RunCounts(
        outcomes={"claimed": 320, "failed": 80},
        claims=155,
        runs=3,
        open_failures=74,
        reasons=[],
        bills=155,
        applied=120,
        refused=14,
    )
    assert in_words(c, 400, 134) == [
        "400 sample charges published; the formatter has answered 400.",
        "320 charges became 155 claims in 3 runs (a claim holds one patient's charges of one visit).",
        "80 charges failed a billing rule; 74 wait in the Failed Charges report.",
        "155 bills opened from the claims; 134 postings sent (a few twice, as Kafka may redeliver): "
        "120 applied, 14 refused with a reason.",
    ]


def test_one_of_each_is_said_in_the_singular() -> None:
    c = RunCounts({"claimed": 1, "failed": 1, "held": 1}, 1, 1, 1, [], 0, 0, 0)
    lines = in_words(c, 3, 0)
    assert "1 charge became 1 claim in 1 run" in lines[1]
    assert "1 waits in the Failed Charges report" in lines[2]
    assert lines[3] == "1 charge is held until a claim delay date."


def test_counts_are_of_this_runs_charges_only(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    create_all(engine)
    fill(engine)
    with engine.connect() as conn:
        everything = counts(conn, {"A1", "A2", "A3", "A4", "A5", "O1"})
        two = counts(conn, {"A2", "A4"})
        nothing = counts(conn, set())
    assert everything.outcomes == {"failed": 4, "claimed": 2}  # A5's newest version is a claim
    assert two.outcomes == {"failed": 1, "claimed": 1} and two.claims == 1 and two.open_failures == 1
    assert nothing.outcomes == {} and nothing.claims == 0
