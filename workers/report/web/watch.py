"""What became of the charges a biller just sent to reprocess: replaying, claimed, failed
again, or not replayed, read from the database (the page renders it; its script asks again
while the live feed is connecting, then follows the feed).

Which charges a request replays is known the moment it is published, and recorded by the
reprocess worker only when it has run it; `Watches` keeps the first (a small, bounded
memory of this process's requests), `reprocess_items` the second.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from workers.report import queries as q
from workers.report import storage
from workers.reprocess import read as reprocess_read

#: Requests remembered per report process; older ones are read from the database.
REMEMBERED = 500
#: The most watched rows a page shows (a page of results at its largest).
SHOWN = q.MAX_LIMIT


@dataclass(frozen=True)
class Watched:
    request_id: str
    company_id: str
    charge_ids: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()


@dataclass
class Watches:
    """Requests this process published, newest last."""

    known: OrderedDict[str, Watched] = field(default_factory=OrderedDict)

    def add(self, watched: Watched) -> None:
        self.known[watched.request_id] = watched
        self.known.move_to_end(watched.request_id)
        while len(self.known) > REMEMBERED:
            self.known.popitem(last=False)

    def find(self, conn: Connection, request_id: str, companies: Iterable[str]) -> Watched | None:
        """The request if it is one of `companies`'; else None, as if it did not exist."""
        allowed = set(companies)
        found = self.known.get(request_id)
        if found is None:
            found = recorded(conn, request_id)
        if found is None or found.company_id not in allowed:
            return None
        return found


def recorded(conn: Connection, request_id: str) -> Watched | None:
    """A request as the reprocess worker recorded it (once it has run it)."""
    rows = reprocess_read.request_items(conn, request_id)
    if not rows:
        return None
    ids = tuple(r.charge_id for r in rows)
    company = _company_of(conn, ids)
    if company is None:
        return None
    return Watched(request_id, company, ids)


def _company_of(conn: Connection, charge_ids: tuple[str, ...]) -> str | None:
    row = conn.execute(select(q.f.c.company_id).where(q.f.c.charge_id.in_(charge_ids[:1]))).first()
    return None if row is None else str(row.company_id)


def state_of(row: dict[str, Any], item: Any | None) -> dict[str, str]:
    """One watched charge's state and what the page says about it."""
    if item is not None and item.outcome != "replayed":
        return {"state": "skipped", "text": f"Not replayed: {item.reason or 'no reason given'}"}
    if row.get("status") == "resolved":
        claim = row.get("resolved_claim_id") or ""
        return {"state": "claimed", "text": f"Claimed {claim}".strip(), "claim_id": claim}
    replayed_as = None if item is None else item.new_version
    if (
        row.get("status") == "open"
        and replayed_as is not None
        and int(row.get("latest_version") or 0) >= int(replayed_as)
    ):
        reasons = "; ".join(r["message"] for r in row.get("reasons", []))
        return {"state": "failed", "text": f"Failed again: {reasons}"}
    return {"state": "replaying", "text": "Replaying…"}


def states(conn: Connection, watched: Watched) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """The watched charges' rows (as the search shows them) and each one's state."""
    ids = watched.charge_ids[:SHOWN]
    if not ids:
        return [], {}
    search = q.Search(company_id=watched.company_id, charge_ids=ids, status="all", limit=len(ids))
    page, _ = storage.search(conn, search)
    items = {r.charge_id: r for r in reprocess_read.request_items(conn, watched.request_id)}
    skipped = dict(watched.skipped)
    out: dict[str, dict[str, str]] = {}
    for row in page.rows:
        cid = row["charge_id"]
        out[cid] = state_of(row, items.get(cid))
    for cid, reason in skipped.items():
        out[cid] = {"state": "skipped", "text": f"Not replayed: {reason}"}
    order = {cid: i for i, cid in enumerate(ids)}
    rows = sorted(page.rows, key=lambda r: order.get(r["charge_id"], 0))
    return rows, out
