"""The spine in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts" / "screenshots"


@pytest.fixture
def page():
    exe = shutil.which("chromium")
    if not exe:
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def seeded(django_user_model):
    from planner.core.roles import assign_role
    from planner.core.seeding import seed_demo

    seed_demo(days=40, seed=7, usage_step_min=60, log=lambda *_: None)
    user = django_user_model.objects.create_user("browser-viewer", password="Browser-pass-123")
    assign_role(user, "viewer")
    return user


def test_login_shows_the_dashboard_charts_and_logout_refuses_it(page, live_server, seeded):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url  # refused while logged out
    page.fill("#id_username", "browser-viewer")
    page.fill("#id_password", "Browser-pass-123")
    page.click("button[type=submit]")
    page.wait_for_selector("#chart-over-time.rendered", timeout=20_000)
    assert page.locator("#chart-over-time .main-svg").count() >= 1  # plotly drew an SVG
    assert page.locator("#chart-provider.rendered").count() == 1
    spend = page.locator("#kpi-spend").inner_text()
    assert spend.startswith("$") and spend != "$0"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "spine-dashboard.png"), full_page=True)
    page.click("button:has-text('Sign out')")
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    assert Path(ARTIFACTS / "spine-dashboard.png").stat().st_size > 10_000
