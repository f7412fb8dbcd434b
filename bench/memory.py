"""A worker's resident memory over a run, against how many messages it had done.

RSS is sampled from /proc/<pid>/status (VmRSS) every half second while the worker runs the
throughput bench; progress is the consumer group's committed offset. Growth compares the
high-water RSS at the baseline mark (100k messages, or a tenth of a short run) with the
high-water RSS at the end: a worker that keeps something per message climbs, one that
only holds a batch at a time plateaus. High-water marks, not single samples, because a
single sample lands anywhere in a batch's allocate-and-free cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The issue's mark: RSS must be flat from 100k messages to the end of a 1M run.
BASELINE_MESSAGES = 100_000


@dataclass
class RssSeries:
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds, processed, kB)

    def add(self, seconds: float, processed: int, rss_kb: int | None) -> None:
        if rss_kb is not None:
            self.samples.append((seconds, processed, rss_kb))

    def summary(self, total: int) -> dict[str, Any]:
        baseline = BASELINE_MESSAGES if total >= 2 * BASELINE_MESSAGES else max(total // 10, 1)
        if not self.samples:
            return {"baseline_messages": baseline, "peak_rss_mb": None, "growth_pct": None}
        peak = max(kb for _, _, kb in self.samples)
        before = [kb for _, done, kb in self.samples if done <= baseline]
        at_mark = max(before) if before else self.samples[0][2]
        return {
            "messages": total,
            "baseline_messages": baseline,
            "rss_at_baseline_mb": round(at_mark / 1024, 1),
            "peak_rss_mb": round(peak / 1024, 1),
            "growth_pct": round((peak - at_mark) / at_mark * 100, 1),
            "samples": len(self.samples),
            # A coarse curve for the report: (messages done, MB) at ~20 points.
            "curve": [
                (done, round(kb / 1024, 1))
                for _, done, kb in self.samples[:: max(len(self.samples) // 20, 1)]
            ],
        }
