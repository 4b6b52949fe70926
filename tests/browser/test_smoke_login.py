"""The spine in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS as ARTIFACTS_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ARTIFACTS_ROOT / "screenshots"


@pytest.fixture
def seeded(django_user_model):
    from planner.core.roles import assign_role
    from planner.core.seeding import seed_demo

    seed_demo(days=40, seed=7, usage_step_min=60, log=lambda *_: None)
    user = django_user_model.objects.create_user("browser-viewer", password="Browser-pass-123")
    assign_role(user, "viewer")
    return user


def test_login_shows_the_dashboard_charts_and_logout_refuses_it(browser_page, live_server, seeded):
    page = browser_page
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
    assert (ARTIFACTS / "spine-dashboard.png").stat().st_size > 10_000
