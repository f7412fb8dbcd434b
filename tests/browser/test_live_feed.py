"""The live feed in a real browser: a failure the formatter publishes reaches the pages of
its company's billers as it happens, and no other company's."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tests.browser.workspace import ACME, Workspace, failing_copy

if TYPE_CHECKING:
    from playwright.sync_api import Page

LISTEN = """() => {
  window.events = [];
  const source = new EventSource("/live/events");
  for (const kind of ["failed", "resolved"]) {
    source.addEventListener(kind, (e) => window.events.push(JSON.parse(e.data)));
  }
  return new Promise((resolve) => source.addEventListener("open", () => resolve(true)));
}"""


def test_a_new_failure_reaches_its_company_only(workspace: Workspace, page: Page, browser: object) -> None:
    workspace.sign_in(page, "amy")
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    ben = other.new_page()
    workspace.sign_in(ben, "ben")
    page.evaluate(LISTEN)
    ben.evaluate(LISTEN)
    page.wait_for_timeout(1500)  # the feed's consumer has found the topics' ends

    acme = next(c for c in workspace.charges if c.company_id == ACME)
    new_id = f"LIVE-{uuid.uuid4().hex[:8]}"
    workspace.publish_charges([failing_copy(acme, new_id)])

    page.wait_for_function(f"() => window.events.some(e => e.charge_id === '{new_id}')", timeout=30_000)
    event = page.evaluate(f"() => window.events.find(e => e.charge_id === '{new_id}')")
    assert event["kind"] == "failed" and event["company_id"] == ACME
    assert any(r["code"] for r in event["reasons"])
    ben.wait_for_timeout(1000)
    assert ben.evaluate("() => window.events.length") == 0
    other.close()
