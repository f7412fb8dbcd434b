"""Billing -> Failed Charges in a real browser: the seed's search, filters, sort, group and
drill-down, paging, reprocess by filters, and what another company's biller cannot see.
Each test asserts what the page shows."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tests.browser.conftest import axe_violations, shot
from tests.browser.workspace import ACME, BAYSIDE, Workspace, failing_copy
from workers.formatter import tables as t
from workers.formatter.rules import RULES

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

f = t.failures


def open_failures(ws: Workspace, company: str, **where: object) -> list[str]:
    with ws.engine.connect() as conn:
        stmt = select(f.c.charge_id).where(f.c.company_id == company, f.c.status == "open")
        for name, value in where.items():
            stmt = stmt.where(f.c[name] == value)
        return [r.charge_id for r in conn.execute(stmt)]


def shown_ids(page: Page) -> list[str]:
    return page.locator("#results tbody tr").evaluate_all("rows => rows.map(r => r.dataset.chargeId)")


def stat_total(page: Page) -> int:
    return int(page.locator("#stats strong").first.inner_text().replace(",", ""))


def test_search_with_the_defaults(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy")
    assert page.get_by_role("heading", name="Failed Charges").is_visible()
    assert page.get_by_label("Company").input_value() == ACME
    assert page.get_by_label("Practice").input_value() == ""  # All
    assert page.get_by_label("Location").input_value() == ""
    practices = page.get_by_label("Practice").locator("option").all_inner_texts()
    assert practices[0] == "All" and len(practices) > 1
    expected = open_failures(workspace, ACME)
    assert expected, "the sample data has failures in acme-therapy"
    assert stat_total(page) == len(expected)
    shown = shown_ids(page)
    assert set(shown) <= set(expected) and len(shown) == min(50, len(expected))
    first = page.locator("#results tbody tr").first
    assert first.locator("td.reasons li").count() >= 1  # reasons in words
    assert re.search(r"\d{4}-\d{2}-\d{2}", first.locator("td.date").first.inner_text())
    # Oldest failure first by default.
    headers = page.locator("#results thead th[aria-sort]")
    assert headers.count() == 1 and "Oldest failure" in headers.inner_text()
    assert headers.get_attribute("aria-sort") == "ascending"
    shot(page, "failed-charges")


def test_filter_by_run_number(workspace: Workspace, page: Page) -> None:
    with workspace.engine.connect() as conn:
        run = conn.execute(
            select(f.c.run_number)
            .where(f.c.company_id == ACME, f.c.status == "open")
            .group_by(f.c.run_number)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one_or_none()
    assert run is not None
    workspace.sign_in(page, "amy")
    page.get_by_label("Run Number").fill(str(run))
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(rf"run={run}"))
    expected = open_failures(workspace, ACME, run_number=run)
    assert stat_total(page) == len(expected)
    assert sorted(shown_ids(page)) == sorted(expected)
    runs = page.locator("#results tbody tr td:last-child").all_inner_texts()
    assert runs and all(r.strip() == str(run) for r in runs)
    assert page.locator(".chip", has_text=f"Run Number {run}").is_visible()


def test_sort_by_amount_both_ways(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy")
    page.locator("#results thead").get_by_role("link", name=re.compile("^Amount")).click()
    page.wait_for_url(re.compile(r"sort=amount"))
    header = page.locator("#results thead th", has_text="Amount")
    assert header.get_attribute("aria-sort") == "ascending"

    def amounts() -> list[Decimal]:
        cells = page.locator("#results tbody td.num:nth-child(10)").all_inner_texts()
        return [Decimal(c.strip().lstrip("$").replace(",", "")) for c in cells if c.strip()]

    ascending = amounts()
    assert ascending == sorted(ascending) and len(ascending) > 2
    page.locator("#results thead").get_by_role("link", name=re.compile("^Amount")).click()
    page.wait_for_url(re.compile(r"sort=-amount"))
    assert page.locator("#results thead th", has_text="Amount").get_attribute("aria-sort") == "descending"
    descending = amounts()
    assert descending == sorted(descending, reverse=True)
    page.go_back()  # the state is the URL: back is the ascending sort again
    page.wait_for_url(re.compile(r"sort=amount(&|$)"))
    assert amounts() == ascending


def test_group_by_reason_and_drill_in(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy")
    page.get_by_role("navigation", name="Group by").get_by_role("link", name="By reason").click()
    page.wait_for_url(re.compile(r"by=reason"))
    groups = page.locator("table.groups tbody tr")
    assert groups.count() >= 2
    top = groups.first
    code = top.locator("th .muted").inner_text().strip()
    assert f"reason={code}" in (top.locator("th a").get_attribute("href") or "")
    charges = int(top.locator("td.num").first.inner_text().replace(",", ""))
    top_title = top.locator("th a").inner_text().strip()
    assert re.fullmatch(r"[A-Z_]+", code) and charges >= 1
    assert top.locator("td.num").nth(1).inner_text().startswith("$")
    shot(page, "failed-charges-by-reason")
    top.locator("th a").click()
    page.wait_for_url(re.compile(rf"reason={code}"))
    assert "by=" not in page.url
    assert stat_total(page) == charges
    rows = page.locator("#results tbody tr")
    assert rows.count() == min(charges, 50)
    title = RULES[code].title
    assert top_title == title
    for i in range(rows.count()):
        assert title in rows.nth(i).locator("td.reasons").inner_text()
    page.go_back()
    page.wait_for_url(re.compile(r"by=reason"))
    assert page.locator("table.groups").is_visible()


def test_group_by_practice_has_totals(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy", "/failed-charges?by=practice")
    total = page.locator("table.groups tfoot td.num").first.inner_text()
    counts = page.locator("table.groups tbody td.num:nth-child(2)").all_inner_texts()
    assert sum(int(c.replace(",", "")) for c in counts) == int(total.replace(",", ""))
    assert int(total.replace(",", "")) == len(open_failures(workspace, ACME))


def test_pages_through_results(workspace: Workspace, page: Page) -> None:
    total = len(open_failures(workspace, ACME))
    workspace.sign_in(page, "amy", "/failed-charges?limit=5")
    first = shown_ids(page)
    assert len(first) == 5
    assert page.get_by_text(f"Rows 1\u20135 of {total}").is_visible()
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(re.compile(r"offset=5"))
    second = shown_ids(page)
    assert second and not set(first) & set(second)
    assert page.get_by_text(f"Rows 6\u2013{5 + len(second)} of {total}").is_visible()
    page.go_back()
    page.wait_for_url(re.compile(r"limit=5$"))
    assert shown_ids(page) == first


def test_bad_input_is_a_message_in_words(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy", "/failed-charges?run=abc")
    alert = page.get_by_role("alert")
    assert "Run Number" in alert.inner_text()
    assert page.get_by_label("Run Number").input_value() == "abc"
    answer = page.goto(f"{workspace.url}/failed-charges?sort=bogus")
    assert answer is not None and answer.status == 422
    assert "cannot sort by 'bogus'" in page.get_by_role("alert").inner_text()
    answer = page.goto(f"{workspace.url}/charges/{'x' * 300}")
    assert answer is not None and answer.status == 404
    assert "There is no failed charge" in page.locator("main").inner_text()


def test_another_company_sees_none_of_it(workspace: Workspace, page: Page, browser: Browser) -> None:
    acme = set(open_failures(workspace, ACME))
    workspace.sign_in(page, "ben")
    assert page.get_by_label("Company").input_value() == BAYSIDE
    assert page.get_by_label("Company").locator("option").all_inner_texts() == [BAYSIDE]
    assert not set(shown_ids(page)) & acme
    answer = page.goto(f"{workspace.url}/failed-charges?company={ACME}")
    assert answer is not None and answer.status == 403
    assert "you do not belong to company" in page.locator("main").inner_text().lower()
    some = sorted(acme)[0]
    answer = page.goto(f"{workspace.url}/charges/{some}")
    assert answer is not None and answer.status == 404
    assert f"no failed charge {some} in your companies" in page.locator("main").inner_text()
    assert page.request.get(f"{workspace.url}/failed-charges/reprocess-all?company={ACME}").status == 403


def test_reprocess_by_filters_confirms_the_count(workspace: Workspace, page: Page) -> None:
    acme = next(c for c in workspace.charges if c.company_id == ACME)
    tag = uuid.uuid4().hex[:6]
    copies = [failing_copy(acme, f"BYF-{tag}-{i}") for i in range(3)]
    workspace.publish_charges(copies)
    workspace.wait_for_formatter([c.charge_id for c in copies])
    with workspace.engine.connect() as conn:
        run = conn.execute(select(f.c.run_number).where(f.c.charge_id == copies[0].charge_id)).scalar_one()
    matching = open_failures(workspace, ACME, run_number=run)
    workspace.sign_in(page, "amy", f"/failed-charges?run={run}")
    page.get_by_role("link", name=re.compile(r"Reprocess all \d+ matching")).click()
    page.wait_for_url(re.compile(r"/failed-charges/reprocess-all\?"))
    assert page.locator("#confirm-count").inner_text() == str(len(matching))
    assert page.locator(".chip", has_text=f"Run Number {run}").is_visible()
    shot(page, "failed-charges-confirm")
    page.get_by_role("button", name=re.compile(r"Reprocess \d+ charge")).click()
    page.wait_for_url(re.compile(r"watch=rr-"))
    watched = page.locator("section.watch tbody tr")
    assert watched.count() == len(matching)
    # Still ZZZZZ: every one fails again, and the page says so without a reload.
    for c in copies:
        row = page.locator(f'section.watch tr[data-charge-id="{c.charge_id}"]')
        row.locator(".outcome.failed").wait_for(timeout=60_000)
        assert "Failed again" in row.locator(".outcome").inner_text()


def test_no_filter_asks_before_replaying_the_whole_company(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "ben", "/failed-charges/reprocess-all")
    assert "No filter narrows this" in page.locator("main").inner_text()
    count = int(page.locator("#confirm-count").inner_text().replace(",", ""))
    assert count == len(open_failures(workspace, BAYSIDE))


def test_new_failures_are_a_notice_not_a_reshuffle(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy", "/failed-charges?sort=-oldest_failure_date")
    before = shown_ids(page)
    page.wait_for_timeout(2000)  # the live feed has found the topics' ends
    acme = next(c for c in workspace.charges if c.company_id == ACME)
    new_id = f"NEW-{uuid.uuid4().hex[:8]}"
    workspace.publish_charges([failing_copy(acme, new_id)])
    notice = page.get_by_role("link", name=re.compile(r"^1 new failure — show them$"))
    notice.wait_for(timeout=30_000)
    assert shown_ids(page) == before  # the rows under the biller did not move
    notice.click()
    page.wait_for_url(re.compile(r"sort=-oldest_failure_date"))
    page.locator(f'#results tr[data-charge-id="{new_id}"]').wait_for()


def test_failed_charges_pages_pass_the_accessibility_audit(workspace: Workspace, browser: Browser) -> None:
    context = browser.new_context(bypass_csp=True, viewport={"width": 1360, "height": 900})
    page = context.new_page()
    try:
        workspace.sign_in(page, "amy")
        assert axe_violations(page) == []
        page.goto(f"{workspace.url}/failed-charges?by=reason")
        assert axe_violations(page) == []
        page.goto(f"{workspace.url}/failed-charges/reprocess-all?run=1")
        assert axe_violations(page) == []
        page.goto(f"{workspace.url}/failed-charges?run=abc")
        assert axe_violations(page) == []
    finally:
        context.close()


def test_search_on_postgresql(pg_workspace: Workspace, page: Page) -> None:
    pg_workspace.sign_in(page, "amy", "/failed-charges?sort=-amount")
    expected = open_failures(pg_workspace, ACME)
    assert stat_total(page) == len(expected)
    assert set(shown_ids(page)) <= set(expected)
    page.get_by_role("navigation", name="Group by").get_by_role("link", name="By run").click()
    page.wait_for_url(re.compile(r"by=run"))
    assert page.locator("table.groups tbody tr").count() >= 1
