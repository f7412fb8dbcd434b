"""/docs, the API explorer, works with no internet: every asset it loads is the service's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import shot
from tests.browser.workspace import Workspace

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request


def test_the_api_explorer_loads_from_the_service_alone(workspace: Workspace, page: Page) -> None:
    requested: list[str] = []

    def note(request: Request) -> None:
        requested.append(request.url)

    page.on("request", note)
    page.goto(f"{workspace.url}/docs")
    page.locator(".swagger-ui .information-container").get_by_text("claimflow").first.wait_for()
    assert page.locator(".opblock-summary-path", has_text="/failures").first.is_visible()
    assert requested and all(url.startswith(workspace.url) for url in requested), requested
    shot(page, "api-docs")
