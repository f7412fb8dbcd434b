"""The charge record in a real browser: the Charge Record ID opens it, each reason sits beside
the field it names, corrections are checked as the reprocess worker checks them (an invalid
one is refused naming its field, and nothing is published), and a valid one replays the
charge, whose row turns into a claim without a reload."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select

from contracts import Charge
from tests.browser.conftest import axe_violations, shot
from tests.browser.workspace import ACME, BAYSIDE, Workspace
from workers.formatter import tables as t

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def claimable_copy(ws: Workspace) -> tuple[Charge, str]:
    """A new charge like one the formatter claimed, for a patient of its own (so it is no
    duplicate), with a procedure code that is no CPT code: it fails PROCEDURE_CODE_FORMAT
    alone, and the original code fixes it. Returns the charge and that code."""
    with ws.engine.connect() as conn:
        claimed = {
            r.charge_id
            for r in conn.execute(
                select(t.charges.c.charge_id).where(
                    t.charges.c.outcome == "claimed", t.charges.c.company_id == ACME
                )
            )
        }
    original = next(
        c
        for c in ws.charges
        if c.charge_id in claimed and c.bill_id is None and c.procedure_code and c.claim_delay_until is None
    )
    tag = uuid.uuid4().hex[:8]
    copy = original.model_copy(
        update={
            "charge_id": f"FIX-{tag}",
            "version": 1,
            "procedure_code": "ZZZZZ",
            "patient": original.patient.model_copy(update={"id": f"PT-FIX-{tag}"}),
        }
    )
    ws.publish_charges([copy])
    ws.wait_for_formatter([copy.charge_id])
    assert original.procedure_code is not None
    return copy, original.procedure_code


def status_of(ws: Workspace, charge_id: str) -> tuple[str, int]:
    with ws.engine.connect() as conn:
        row = conn.execute(
            select(t.failures.c.status, t.failures.c.latest_version).where(
                t.failures.c.charge_id == charge_id
            )
        ).one()
    return row.status, row.latest_version


def test_open_a_charge_record(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy", "/failed-charges?sort=-charge_id")  # a sample charge
    link = page.locator("#results tbody tr td.cid a").first
    charge_id = link.inner_text().strip()
    link.click()
    page.wait_for_url(re.compile(rf"/charges/{charge_id}\?from="))
    assert page.get_by_role("heading", name=re.compile(f"Charge {charge_id}")).is_visible()
    assert page.get_by_role("heading", name="Why it failed").is_visible()
    for heading in ("Patient", "Payers", "Providers", "Service", "Codes", "Amounts", "Versions"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible()
    flagged = page.locator(".field.flagged")
    assert flagged.count() >= 1  # a reason beside the field it names, editable there
    assert flagged.first.locator("input, select").count() == 1
    assert flagged.first.locator(".why").inner_text().strip()
    versions = page.locator("table", has=page.locator("caption", has_text="Every version"))
    assert versions.locator("tbody tr").count() >= 1
    assert "Not reprocessed yet" in page.locator("main").inner_text()
    assert "{" not in page.locator("main").inner_text()  # never JSON on a page
    shot(page, "charge-record")
    page.get_by_role("link", name="← Failed Charges").click()
    page.wait_for_url(re.compile(r"/failed-charges\?sort=-charge_id$"))


def test_an_invalid_correction_is_refused_naming_its_field(workspace: Workspace, page: Page) -> None:
    charge, _ = claimable_copy(workspace)
    workspace.sign_in(page, "amy", f"/charges/{charge.charge_id}")
    field = page.get_by_label("Procedure")
    assert field.input_value() == "ZZZZZ"
    assert "Procedure code invalid" in page.locator("#fx-procedure_code-row").inner_text()
    field.fill("X" * 17)  # longer than any code: the Charge contract refuses it
    page.get_by_role("button", name="Reprocess with these corrections").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "procedure_code" in alert.inner_text()
    assert page.get_by_label("Procedure").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Procedure").input_value() == "X" * 17  # what was typed stays
    shot(page, "charge-record-refused")
    # Nothing was published: the failure is as it was, with no new version.
    page.wait_for_timeout(1500)
    assert status_of(workspace, charge.charge_id) == ("open", 1)
    assert "Not reprocessed yet" in page.locator("main").inner_text()


def test_sex_x_is_refused_naming_the_field(workspace: Workspace, page: Page) -> None:
    charge, _ = claimable_copy(workspace)
    workspace.sign_in(page, "amy", f"/charges/{charge.charge_id}")
    # The form offers no X: send it as a hand-made form would.
    csrf = page.locator('input[name="csrf_token"]').first.input_value()
    answer = page.request.post(
        f"{workspace.url}/charges/{charge.charge_id}/reprocess",
        form={"csrf_token": csrf, "fix.patient.sex": "X"},
    )
    assert answer.status == 422
    assert "patient.sex" in answer.text()
    assert status_of(workspace, charge.charge_id) == ("open", 1)


def test_another_companys_practice_is_refused(workspace: Workspace, page: Page) -> None:
    charge, _ = claimable_copy(workspace)
    theirs = next(c.practice_id for c in workspace.charges if c.company_id == BAYSIDE and c.practice_id)
    workspace.sign_in(page, "amy", f"/charges/{charge.charge_id}")
    csrf = page.locator("main").get_attribute("data-csrf") or ""
    answer = page.request.post(
        f"{workspace.url}/charges/{charge.charge_id}/reprocess",
        form={"csrf_token": csrf, "fix.practice_id": theirs, "fix.procedure_code": "97110"},
    )
    assert answer.status == 422
    assert "practice_id" in answer.text() and "Nothing was sent" in answer.text()
    assert status_of(workspace, charge.charge_id) == ("open", 1)


def test_a_valid_correction_turns_the_row_into_a_claim(workspace: Workspace, page: Page) -> None:
    charge, code = claimable_copy(workspace)
    workspace.sign_in(page, "amy", "/failed-charges?procedure=ZZZZZ")
    page.locator(f'#results a[href^="/charges/{charge.charge_id}"]').click()
    page.wait_for_url(re.compile(rf"/charges/{charge.charge_id}"))
    page.get_by_label("Procedure").fill(code)
    page.get_by_role("button", name="Reprocess with these corrections").click()
    page.wait_for_url(re.compile(r"/failed-charges\?procedure=ZZZZZ.*watch=rr-"))
    page.evaluate("() => { window.notReloaded = true; }")
    row = page.locator(f'section.watch tr[data-charge-id="{charge.charge_id}"]')
    assert row.count() == 1
    outcome = row.locator(".outcome")
    assert re.match(r"Replaying|Claimed", outcome.inner_text())
    row.locator(".outcome.claimed").wait_for(timeout=60_000)
    assert re.fullmatch(r"Claimed \S+", outcome.inner_text().strip())
    assert page.evaluate("() => window.notReloaded === true")
    shot(page, "failed-charges-reprocessed")
    # The record tells the story in a sentence.
    page.goto(f"{workspace.url}/charges/{charge.charge_id}")
    history = page.locator("ol.history").inner_text()
    assert re.search(
        r"Replayed as version 2 by amy on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC: claimed as \S+\.", history
    )


def test_a_correction_on_the_record_itself_is_followed_there(workspace: Workspace, page: Page) -> None:
    charge, code = claimable_copy(workspace)
    workspace.sign_in(page, "amy", f"/charges/{charge.charge_id}")
    page.get_by_label("Procedure").fill(code)
    page.get_by_role("button", name="Reprocess with these corrections").click()
    page.wait_for_url(re.compile(rf"/charges/{charge.charge_id}\?watch=rr-"))
    page.locator("section.watch .outcome.claimed").wait_for(timeout=60_000)
    page.get_by_role("link", name="Show the charge as it is now").click()
    page.wait_for_url(re.compile(rf"/charges/{charge.charge_id}$"))
    assert re.search(r"Claimed \S+", page.locator("h1").inner_text())
    versions = page.locator("table", has=page.locator("caption", has_text="Every version"))
    assert "procedure_code" in versions.locator("tbody tr").nth(1).inner_text()  # what changed, by name


def test_reprocess_selected_rows_from_the_list(workspace: Workspace, page: Page) -> None:
    charge, _ = claimable_copy(workspace)
    workspace.sign_in(page, "amy", "/failed-charges?procedure=ZZZZZ")
    page.get_by_label(f"Select {charge.charge_id}").check()
    page.get_by_role("button", name="Reprocess 1 selected").click()
    page.wait_for_url(re.compile(r"watch=rr-"))
    row = page.locator(f'section.watch tr[data-charge-id="{charge.charge_id}"]')
    row.locator(".outcome.failed").wait_for(timeout=60_000)  # unchanged, it fails again
    assert "Failed again" in row.inner_text() and "procedure" in row.inner_text().lower()


def test_another_company_reaches_no_record(workspace: Workspace, page: Page) -> None:
    charge, _ = claimable_copy(workspace)
    workspace.sign_in(page, "ben", "/failed-charges")
    answer = page.goto(f"{workspace.url}/charges/{charge.charge_id}")
    assert answer is not None and answer.status == 404
    csrf = page.locator("main").get_attribute("data-csrf") or ""
    posted = page.request.post(
        f"{workspace.url}/charges/{charge.charge_id}/reprocess",
        form={"csrf_token": csrf, "fix.procedure_code": "97110"},
    )
    assert posted.status == 404
    posted = page.request.post(
        f"{workspace.url}/failed-charges/reprocess",
        form={"csrf_token": csrf, "company": ACME, "charge_id": charge.charge_id},
    )
    assert posted.status == 403
    assert status_of(workspace, charge.charge_id) == ("open", 1)


def test_charge_record_passes_the_accessibility_audit(workspace: Workspace, browser: Browser) -> None:
    context = browser.new_context(bypass_csp=True, viewport={"width": 1360, "height": 900})
    page = context.new_page()
    try:
        workspace.sign_in(page, "amy", "/failed-charges")
        page.locator("#results tbody tr td.cid a").first.click()
        page.wait_for_url(re.compile(r"/charges/"))
        assert axe_violations(page) == []
        charge, _ = claimable_copy(workspace)
        page.goto(f"{workspace.url}/charges/{charge.charge_id}")
        page.get_by_label("Procedure").fill("X" * 17)
        page.get_by_role("button", name="Reprocess with these corrections").click()
        page.get_by_role("alert").wait_for()
        assert axe_violations(page) == []  # the refusal too
    finally:
        context.close()
