"""`python -m devtools.sample charges.jsonl --count 200 --seed 7 --today 2026-03-02`

Writes seeded sample charges as JSON lines (stdout with `-`), for feeding a topic by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from devtools.sample.charges import generate_charges
from devtools.sample.jsonl import write_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.sample", description=__doc__)
    parser.add_argument("out", help="file to write, or - for stdout")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--bad-share", type=float, default=0.2)
    args = parser.parse_args(argv)
    charges = generate_charges(args.count, args.seed, args.today, args.bad_share)
    written = write_jsonl(charges, sys.stdout.buffer if args.out == "-" else args.out)
    print(f"wrote {written} charges", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
