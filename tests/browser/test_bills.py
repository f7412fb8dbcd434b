"""The Bills pages in a real browser: find a bill, post to it, see a refusal's reason, the
reports, another company's biller kept out, and the accessibility audit."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.browser.conftest import axe_violations, shot
from tests.browser.workspace import ACME, Workspace
from workers.clearinghouse import read as x12_read
from workers.posting import storage
from workers.posting.bill import Bill
from workers.posting.tables import bills as bills_table
from workers.report.web.bill_patients import patients_of

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def wait_for_bills(ws: Workspace, company: str, at_least: int = 6, timeout: float = 90) -> list[Bill]:
    """The company's bills once the posting worker has opened them from the claims."""
    deadline = time.monotonic() + timeout
    found: list[Bill] = []
    while time.monotonic() < deadline:
        with ws.engine.connect() as conn:
            found = storage.load_all_bills(conn, company)
        if len(found) >= at_least:
            return found
        time.sleep(0.5)
    raise TimeoutError(f"{len(found)} bills of {company} opened in {timeout:.0f} s")


def wait_for_837p(ws: Workspace, bill_id: str, timeout: float = 60) -> None:
    """Until the clearinghouse worker has written the bill's claim into an 837P file: it reads
    the claims beside the posting worker that opens the bills, and may come second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ws.engine.connect() as conn:
            if any(c.get("file_name") for c in x12_read.bill_claims(conn, bill_id)):
                return
        time.sleep(0.25)
    raise TimeoutError(f"no 837P file for bill {bill_id} in {timeout:.0f} s")


_taken: set[str] = set()


def fresh_bill(ws: Workspace) -> Bill:
    """A bill of acme-therapy no other test here has posted to: owing, with no status."""
    for bill in wait_for_bills(ws, ACME):
        if bill.bill_id in _taken or bill.balance <= 10 or bill.current is None:
            continue
        if not (bill.on_hold or bill.in_collections or bill.killed or bill.rejected):
            _taken.add(bill.bill_id)
            return bill
    raise AssertionError("no fresh bill of acme-therapy left")


def post(page: Page, code: str, amount: str = "") -> None:
    page.get_by_label("Transaction code").select_option(code)
    page.get_by_label("Amount").fill(amount)
    page.get_by_role("button", name="Post").click()
    page.wait_for_load_state()


@pytest.fixture
def audited(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_find_a_bill_and_post_a_payment(workspace: Workspace, page: Page) -> None:
    bill = fresh_bill(workspace)
    wait_for_837p(workspace, bill.bill_id)
    workspace.sign_in(page, "amy", "/bills")
    assert page.get_by_role("heading", name="Bills").is_visible()
    shot(page, "bills-list")
    with workspace.engine.connect() as conn:
        patient = patients_of(conn, ACME, [bill.bill_id])[bill.bill_id]
    page.get_by_label("Bill, claim or patient").fill(patient.split(" (")[0])
    page.get_by_role("button", name="Find").click()
    assert page.get_by_role("cell", name=patient).first.is_visible()
    shot(page, "bills-found")
    page.get_by_role("link", name=bill.bill_id, exact=True).click()
    page.wait_for_url(f"**/bills/{bill.bill_id}")
    assert page.get_by_role("heading", name=f"Bill {bill.bill_id}").is_visible()
    payers = page.get_by_role("table", name="Payers, in billing order")
    assert payers.get_by_role("row").nth(1).get_by_text("current").is_visible()
    # The clearinghouse worker wrote the bill's claim into an 837P file.
    claims = page.get_by_role("table", name="Claims sent")
    assert claims.get_by_text("Sent", exact=True).first.is_visible()
    assert ".x12" in claims.inner_text()
    page.get_by_label("Transaction code").select_option("P")
    assert "Money that is paid" in page.locator("#code-help").inner_text()
    shot(page, "bill")
    post(page, "P", "10.00")
    outcome = page.locator("#outcome")
    assert "Applied:" in outcome.inner_text(), outcome.inner_text()
    expected = f"{bill.balance - 10:,.2f}"
    assert expected in outcome.inner_text()
    ledger = page.get_by_role("table", name="Ledger")
    assert ledger.get_by_role("cell", name="10.00", exact=True).first.is_visible()
    shot(page, "bill-payment-applied")


def test_a_refused_refund_shows_its_reason(workspace: Workspace, page: Page) -> None:
    bill = fresh_bill(workspace)
    workspace.sign_in(page, "amy", f"/bills/{bill.bill_id}")
    post(page, "F", "5000.00")
    refusal = page.get_by_role("alert")
    assert "Posting refused" in refusal.inner_text()
    assert "exceeds the cash balance" in refusal.inner_text(), refusal.inner_text()
    refused = page.get_by_role("table", name="Refused postings")
    assert refused.get_by_text("REFUND_EXCEEDS_CASH").is_visible()
    shot(page, "bill-refund-refused")


def test_a_mistyped_amount_is_caught_before_posting(workspace: Workspace, page: Page) -> None:
    bill = fresh_bill(workspace)
    workspace.sign_in(page, "amy", f"/bills/{bill.bill_id}")
    post(page, "P", "12.345")
    assert page.get_by_text("at most two decimal places").is_visible()
    assert page.get_by_label("Amount").get_attribute("aria-invalid") == "true"
    shot(page, "bill-form-error")
    with workspace.engine.connect() as conn:
        assert storage.load_ledger(conn, [bill.bill_id]) == []


def test_collections_list_a_written_off_bill_with_its_bad_debt(workspace: Workspace, page: Page) -> None:
    bill = fresh_bill(workspace)
    workspace.sign_in(page, "amy", f"/bills/{bill.bill_id}")
    post(page, "SL")
    assert "Applied:" in page.locator("#outcome").inner_text()
    post(page, "WB", f"{bill.balance:.2f}")
    assert "Applied:" in page.locator("#outcome").inner_text()
    page.goto(f"{workspace.url}/collections")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=bill.bill_id, exact=True))
    text = row.inner_text()
    assert "written off" in text and "0.00" in text and f"{bill.balance:,.2f}" in text
    shot(page, "collections")


def test_aging_and_statements(workspace: Workspace, page: Page) -> None:
    wait_for_bills(workspace, ACME)
    workspace.sign_in(page, "amy", "/aging")
    chart = page.get_by_role("img", name=re.compile("Open balance by age bucket"))
    assert chart.is_visible()
    assert page.get_by_role("table", name=re.compile("Aging of acme-therapy")).is_visible()
    shot(page, "aging")
    table = page.get_by_role("table", name=re.compile("Aging of acme-therapy"))
    first_payer = table.get_by_role("rowheader").first.inner_text()
    table.get_by_role("link", name=first_payer, exact=True).click()
    assert page.get_by_role(
        "img", name=re.compile(f"Open balance by age bucket, {re.escape(first_payer)}")
    ).is_visible()
    shot(page, "aging-one-payer")
    page.goto(f"{workspace.url}/statements")
    assert page.get_by_role("heading", name="Statements").is_visible()
    shot(page, "statements")


def test_another_company_s_biller_sees_and_reaches_none_of_it(workspace: Workspace, page: Page) -> None:
    amy_bills = {b.bill_id for b in wait_for_bills(workspace, ACME)}
    some = sorted(amy_bills)[0]
    workspace.sign_in(page, "ben", "/bills")
    listed = set(page.get_by_role("table").first.get_by_role("link").all_inner_texts())
    assert listed and not listed & amy_bills
    for path in (f"/bills/{some}", "/bills/NO-SUCH-BILL"):
        answer = page.goto(f"{workspace.url}{path}")
        assert answer is not None and answer.status == 404
        assert page.get_by_text("among your companies' bills").is_visible()
    shot(page, "bill-not-found")
    for path in ("/bills", "/aging", "/statements", "/collections"):
        answer = page.goto(f"{workspace.url}{path}?company={ACME}")
        assert answer is not None and answer.status == 404, path
    page.goto(f"{workspace.url}/collections")
    assert not set(page.get_by_role("link").all_inner_texts()) & amy_bills
    csrf = page.locator("main").get_attribute("data-csrf")
    posted = page.request.post(
        f"{workspace.url}/bills/{some}/postings",
        form={"csrf_token": csrf or "", "posting_id": "ben-probe-1", "code": "HA"},
        headers={"accept": "text/html"},
    )
    assert posted.status == 404
    with workspace.engine.connect() as conn:
        on_hold = conn.execute(
            select(bills_table.c.on_hold).where(bills_table.c.bill_id == some)
        ).scalar_one()
    assert not on_hold


def test_no_serious_accessibility_violation(workspace: Workspace, audited: Page) -> None:
    bill = fresh_bill(workspace)
    workspace.sign_in(audited, "amy", f"/bills/{bill.bill_id}")
    post(audited, "F", "5000.00")  # the page with a refusal and its alert
    found = {"bill": axe_violations(audited)}
    post(audited, "P", "1.234")  # with field errors
    found["bill-form-error"] = axe_violations(audited)
    for path in ("/bills", "/aging", "/statements", "/collections", "/bills/NO-SUCH-BILL"):
        audited.goto(f"{workspace.url}{path}")
        found[path] = axe_violations(audited)
    assert {where: v for where, v in found.items() if v} == {}
