"""The workspace in a real browser: Debian's Chromium driven by Playwright for Python,
against the real report service, the real broker and the workers as processes.

    chromium_path  session  Chromium's executable (CLAIMFLOW_CHROMIUM, else `chromium` on PATH)
    browser        session  one Chromium for the whole run
    workspace      session  the pipeline on SQLite, filled with sample data, two billers
    pg_workspace   session  the same on PostgreSQL (start it only in tests that need it)
    page           function a fresh browser context and page (no cookies)

Playwright's own browser download does not work on these machines, so Chromium is always
launched from its executable path. A missing Chromium fails under CI=true, like a missing
broker. Screenshots go to var/screenshots/ (`shot`), as test artifacts.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.workspace import Workspace, start_workspace
from tests.conftest import _fresh_postgres_database, unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CLAIMFLOW_CHROMIUM") or next(
        (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
    )
    if not path:
        unavailable("Chromium", "no `chromium` on PATH (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("Playwright", exc)
    pw = sync_playwright().start()
    try:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = pw.chromium.launch(
            executable_path=chromium_path, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
    except Exception as exc:
        pw.stop()
        unavailable("Chromium", f"{type(exc).__name__}: {exc}")
    try:
        yield launched
    finally:
        launched.close()
        pw.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="session")
def workspace(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("workspace")
    with start_workspace(kafka_bootstrap, f"sqlite:///{folder / 'claimflow.db'}", folder) as ws:
        yield ws


@pytest.fixture(scope="session")
def pg_workspace(
    kafka_bootstrap: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("pg-workspace")
    for url in _fresh_postgres_database(postgres_url):
        with start_workspace(kafka_bootstrap, url, folder) as ws:
            yield ws


def shot(page: Page, name: str) -> Path:
    """Save what the page shows now as var/screenshots/NAME.png (a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's audit of the page as it is now: the violations of the given impacts.
    The page's context must be made with bypass_csp=True (the CSP allows no injected script)."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def today() -> dt.date:
    return dt.date.today()
