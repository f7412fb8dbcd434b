"""Scraping a worker's `/metrics` while it is measured, as Prometheus would, but more often."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import httpx

from bench.common import WorkerProcess

#: Fifteen times Prometheus's default interval: an upper bound on what scraping costs.
SCRAPE_INTERVAL = 1.0


@dataclass
class Scrapes:
    count: int = 0
    failed: int = 0
    last_bytes: int = 0


async def scrape_metrics(proc: WorkerProcess, scrapes: Scrapes, interval: float = SCRAPE_INTERVAL) -> None:
    """Scrape the port `proc` logged it serves metrics on, every `interval` s, until cancelled."""
    port: int | None = None
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            if port is None:
                text = proc.log_path.read_text(errors="replace") if proc.log_path.exists() else ""
                found = re.search(r"metrics_serving.*?port=(\d+)", text)
                port = int(found.group(1)) if found else None
            if port is not None:
                try:
                    answer = await client.get(f"http://127.0.0.1:{port}/metrics")
                    answer.raise_for_status()
                    scrapes.count += 1
                    scrapes.last_bytes = len(answer.content)
                except httpx.HTTPError:
                    scrapes.failed += 1
            await asyncio.sleep(interval)
