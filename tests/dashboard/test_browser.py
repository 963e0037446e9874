"""The dashboard in a real headless Chromium: rendered tables, a click, live updates.

Chromium is Debian's (`make test` installs it when missing); Playwright drives it and never
downloads a browser of its own.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from dashboard_rows import NEWEST, NEWEST_NAME, OLDER, OLDER_NAME, insert_mission
from playwright.sync_api import Page, expect, sync_playwright

from agentcoord.config import Config
from agentcoord.dashboard.app import TITLE, serve_dashboard

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Quiet, offline Chromium: no first-run UI, no background calls home (this network refuses them).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 30_000


def _tasks_title(page: Page) -> str:
    return page.get_by_text("Tasks of").first.inner_text()


def test_a_browser_renders_the_dashboard_follows_a_click_and_live_changes(
    seeded_database_url: str, base_config: Config, tmp_path: Path
) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (make test installs it)"
    server = serve_dashboard(base_config.with_database_url(seeded_database_url), port=0)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(server.url)
                expect(page).to_have_title(TITLE)
                # Tabulator renders the rows in the browser: these are cells, not server-side HTML.
                expect(page.locator(".tabulator-cell", has_text=NEWEST_NAME).first).to_be_visible()
                expect(page.get_by_text(f"Tasks of {NEWEST_NAME} ({NEWEST})")).to_be_visible()
                expect(page.locator(".tabulator-cell", has_text="tests failed").first).to_be_visible()

                page.locator(".tabulator-cell", has_text=OLDER_NAME).first.click()
                expect(page.get_by_text(f"Tasks of {OLDER_NAME} ({OLDER})")).to_be_visible()
                expect(page.locator(".tabulator-cell", has_text="tests failed")).to_have_count(0)

                insert_mission(seeded_database_url, "m-live", "arrived while watching",
                               created_at=datetime.now(UTC), tasks=[("t1", "running", "codex", 1, "")])
                expect(page.locator(".tabulator-cell", has_text="arrived while watching").first).to_be_visible()
                page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            finally:
                browser.close()
    finally:
        server.stop()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
