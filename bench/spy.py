"""Where a live worker spends its time: py-spy samples the worker process mid-run.

    python -m bench.spy formatter            # 80k charges through the real worker
    python -m bench.spy posting -n 80000

`bench.profile` times the batch step alone; this samples the whole worker as the
throughput bench runs it (its own broker, a preloaded topic, `python -m claimflow worker`):
the consumer, the event loop, the handler thread, the producer. It prints the functions
with the most samples of their own and the heaviest call paths (inclusive), and writes the
same text to bench/results/spy-<worker>.txt. py-spy is in the dev extras.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench import workers
from bench.common import BenchEnv, close_env, start_env

RESULTS = Path(__file__).resolve().parent / "results"


def _sample(env: BenchEnv, out: Path, delay: float, seconds: float) -> None:
    # The worker this run starts (not any `claimflow worker` on the machine: `make run` or
    # another checkout's tests may have one too).
    pid = None
    for _ in range(600):
        if env.workers and env.workers[0].proc is not None:
            pid = env.workers[0].proc.pid
            break
        time.sleep(0.1)
    if pid is None:
        return
    time.sleep(delay)  # past start-up, into the steady part of the run
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    subprocess.run(
        [
            spy,
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],
        capture_output=True,
        check=False,
    )


def summarise(raw: str, top: int = 30) -> str:
    """Own and inclusive sample shares from py-spy's raw (collapsed stack) output."""
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "no samples (is py-spy allowed to attach here?)\n"
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"{n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive (the frame or anything it called):"]
    lines += [f"{n / total:6.1%}  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spy")
    parser.add_argument("worker", choices=("formatter", "posting"))
    parser.add_argument("-n", type=int, default=80_000, help="messages in the run")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to sample")
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    env = start_env(with_postgres=False)
    with tempfile.TemporaryDirectory(prefix="claimflow-spy-") as tmp:
        raw = Path(tmp) / "raw.txt"
        sampler = threading.Thread(target=_sample, args=(env, raw, 5.0, args.seconds))
        sampler.start()
        try:
            if args.worker == "formatter":
                result = asyncio.run(workers.formatter(env, args.n))
            else:
                result = asyncio.run(workers.posting(env, args.n, "sqlite"))
        finally:
            sampler.join()
            close_env(env)
        text = f"{args.worker}: {result['msg_per_s']:,.0f} msg/s over {args.n:,} messages\n"
        text += summarise(raw.read_text() if raw.exists() else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"spy-{args.worker}.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
