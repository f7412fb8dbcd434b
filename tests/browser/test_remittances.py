"""Billing -> Remittances in a real browser: a payer's 835 goes through the remittance worker
and shows beside its deposit, with what it posted; a claim payment with no bill shows as an
unmatched remittance, to operators only."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import select

from devtools.sample.era835 import ClaimPayment, Remittance, build
from tests.browser.conftest import axe_violations, shot
from tests.browser.workspace import ACME, Workspace, in_thread
from workers.formatter import tables as formatter_tables
from workers.remittance.cli import publish_files

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def acme_claim(workspace: Workspace) -> dict[str, object]:
    c = formatter_tables.claims
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with workspace.engine.connect() as conn:
            rows = conn.execute(
                select(c.c.claim_json).where(c.c.company_id == ACME, c.c.frequency == "original")
            ).all()
        if rows:
            claim: dict[str, object] = orjson.loads(rows[-1].claim_json)
            return claim
        time.sleep(0.5)
    raise AssertionError("no claim for acme-therapy")


def test_an_era_shows_beside_its_deposit(workspace: Workspace, browser: Browser) -> None:
    claim = acme_claim(workspace)
    payer = claim["payers"][0]  # type: ignore[index]
    total = Decimal(str(claim["total_amount"]))
    era = Remittance(
        trace="WEB0001",
        payer_id=str(payer["payer_id"]),
        payer_name=str(payer["name"]).upper(),
        claims=(
            ClaimPayment(str(claim["claim_id"]), "1", str(total), str(total)),
            ClaimPayment("CLM-NO-SUCH-BILL", "1", "80", "80"),
        ),
    )
    path = workspace.folder / "web0001.835"
    path.write_text(build(era))
    settings = workspace.settings()
    in_thread(publish_files([path], settings))

    context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    page = context.new_page()
    workspace.sign_in(page, "amy", "/remittances")
    deadline = time.monotonic() + 60
    while "WEB0001" not in page.locator("main").inner_text() and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    eras = page.get_by_role("table", name="ERAs")
    assert eras.get_by_text("WEB0001").is_visible()
    assert eras.get_by_text(f"{total + 80:,.2f}").first.is_visible()  # the deposit, BPR02
    # The claim payment with no bill belongs to no company: a biller does not see it.
    assert "CLM-NO-SUCH-BILL" not in page.locator("main").inner_text()
    assert axe_violations(page) == []
    shot(page, "remittances")
    context.close()


def test_another_companys_biller_sees_none_of_acmes_eras(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "ben", "/remittances")
    assert page.get_by_role("heading", name="Remittances", exact=True).is_visible()
    assert "WEB0001" not in page.locator("main").inner_text()
