"""Signing in and out of the workspace, in a real browser."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from claimflow.db import unit_of_work
from tests.browser.conftest import shot
from tests.browser.workspace import Workspace
from workers.report.tables import web_sessions

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_a_wrong_password_is_refused_in_words(workspace: Workspace, page: Page) -> None:
    page.goto(f"{workspace.url}/failed-charges")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("User name").fill("amy")
    page.get_by_label("Password", exact=True).fill("not her password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("did not match").is_visible()
    shot(page, "login-refused")


def test_sign_in_lands_on_the_page_asked_for_and_sign_out_ends_it(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "amy")
    assert page.get_by_role("heading", name="Failed Charges").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "claimflow_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login?out=1")
    assert page.get_by_text("You are signed out").is_visible()
    page.goto(f"{workspace.url}/failed-charges")
    page.wait_for_url("**/login?next=*")


def test_an_expired_session_goes_back_to_the_sign_in_page(workspace: Workspace, page: Page) -> None:
    workspace.sign_in(page, "ben")
    with unit_of_work(workspace.engine) as conn:
        conn.execute(
            update(web_sessions)
            .where(web_sessions.c.user_id == "ben")
            .values(expires_at=web_sessions.c.created_at)
        )
    page.goto(f"{workspace.url}/failed-charges")
    page.wait_for_url("**/login?next=*expired=1")
    assert page.get_by_text("Your session has ended").is_visible()
    shot(page, "login-expired")
