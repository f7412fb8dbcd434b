"""The live failures dashboard in a real browser: a new failure appears without a reload."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tests.browser.conftest import axe_violations, shot
from tests.browser.workspace import ACME, Workspace, failing_copy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def test_a_new_failure_appears_on_the_dashboard_without_a_reload(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy", "/live")
    assert page.get_by_role("heading", name="Live failures").is_visible()
    page.get_by_text("live", exact=True).wait_for()  # the event stream is open
    page.wait_for_timeout(1500)  # the feed's consumer has found the topics' ends
    before = int(page.locator("[data-stat=open-count]").inner_text())
    page.evaluate("() => { window.notReloaded = true; }")

    acme = next(c for c in workspace.charges if c.company_id == ACME)
    new_id = f"DASH-{uuid.uuid4().hex[:8]}"
    workspace.publish_charges([failing_copy(acme, new_id)])

    row = page.locator(f"tr[data-charge-id='{new_id}']")
    row.wait_for(timeout=30_000)
    assert page.evaluate("() => window.notReloaded") is True
    assert int(page.locator("[data-stat=open-count]").inner_text()) == before + 1
    assert "fresh" in (row.get_attribute("class") or "")
    assert page.locator("svg.chart").count() == 1
    shot(page, "live-dashboard")


def test_the_dashboard_passes_the_accessibility_audit(workspace: Workspace, browser: Browser) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    workspace.sign_in(page, "amy", "/live")
    assert axe_violations(page) == []
    context.close()


def test_another_companys_dashboard_is_refused(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "ben", "/live")
    answer = page.goto(f"{workspace.url}/live?company={ACME}")
    assert answer is not None and answer.status == 403
    answer = page.goto(f"{workspace.url}/live/summary?company={ACME}")
    assert answer is not None and answer.status == 403
