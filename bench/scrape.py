"""Scraping a worker's `/metrics` while it is measured, as Prometheus would, but more often."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

#: Fifteen times Prometheus's default interval: an upper bound on what scraping costs.
SCRAPE_INTERVAL = 1.0


@dataclass
class Scrapes:
    count: int = 0
    failed: int = 0
    last_bytes: int = 0


async def scrape_metrics(port: int, scrapes: Scrapes, interval: float = SCRAPE_INTERVAL) -> None:
    """Scrape `port` every `interval` s until cancelled (refused while the worker starts)."""
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            await _scrape(client, port, scrapes)
            await asyncio.sleep(interval)


async def scrape_once(port: int, scrapes: Scrapes) -> None:
    """One more scrape at the end of a run: a run shorter than the interval (the quick
    bench's) is scraped at least once, as Prometheus would scrape a live worker."""
    async with httpx.AsyncClient(timeout=5) as client:
        await _scrape(client, port, scrapes)


async def _scrape(client: httpx.AsyncClient, port: int, scrapes: Scrapes) -> None:
    try:
        answer = await client.get(f"http://127.0.0.1:{port}/metrics")
        answer.raise_for_status()
        scrapes.count += 1
        scrapes.last_bytes = len(answer.content)
    except httpx.HTTPError:
        scrapes.failed += 1
