"""A demo budget alert on the notifications page, in a real browser: the email rendered in its
sandboxed frame (with its chart) shows the same figures as the budget's own page.

Time is frozen (ticking) at 2026-09-20 so the demo fleet every test database starts with (data to
2026-09-30) is "this month" for the budgets; the session cookie is a browser-session cookie so
Chromium's real clock does not expire it. Like test_ui.py, ``transactional_db`` is overridden so
the live server sees committed rows; what this module creates is deleted at teardown.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser
PASSWORD = "Notif-browser-pass-123!"
TODAY = dt.datetime(2026, 9, 20, 9, tzinfo=dt.UTC)


@pytest.fixture
def transactional_db(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def demo_budgets(django_db_setup, django_db_blocker, settings):
    from django.contrib.auth import get_user_model

    from planner.alerts.demo import seed_demo_budgets
    from planner.alerts.models import Budget, Notification
    from planner.core.models import Service
    from planner.core.roles import assign_role
    from tests.conftest import seed_test_fleet

    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    with django_db_blocker.unblock(), time_machine.travel(TODAY, tick=True):
        if not Service.objects.filter(slug="embeddings").exists():
            seed_test_fleet()
        user, _ = get_user_model().objects.get_or_create(username="notif-analyst")
        user.set_password(PASSWORD)
        user.save()
        assign_role(user, "analyst")
        results = seed_demo_budgets()
        yield {r.story: r for r in results}
        Notification.objects.all().delete()
        Budget.objects.filter(pk__in=[r.budget.pk for r in results]).delete()
        user.delete()


def money(text: str) -> Decimal:
    return Decimal(re.sub(r"[^0-9.\-]", "", text))


@pytest.mark.parametrize("story", ["forecast to exceed", "already over"])
def test_notification_of_a_demo_budget_alert_shows_the_budget_page_figures(
    browser_page, live_server, demo_budgets, story
):
    from planner.alerts.models import Notification

    page, base = browser_page, live_server.url
    budget = demo_budgets[story].budget
    alert = Notification.objects.filter(budget=budget, channel="email").order_by("pk").first()
    assert alert is not None and alert.status == "sent"

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "notif-analyst")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".role-analyst")

    page.goto(f"{base}/notifications/")
    row = page.locator(f"#notification-{alert.pk}")
    assert "finops@example.com" in row.inner_text() and "Sent" in row.inner_text()
    row.locator("a").click()
    page.wait_for_selector("#email-html")
    mail = page.frame_locator("#email-html")
    email = {
        k: Decimal(mail.locator(f"#email-{k}").get_attribute("data-value"))
        for k in ("amount", "spend", "forecast")
    }
    # what the recipient reads is the same number as the attribute the test compares
    assert money(mail.locator("#email-spend").inner_text()) == email["spend"]
    assert mail.locator("img").evaluate("img => img.complete && img.naturalWidth") == 1120
    assert budget.name in page.locator("#email-text").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"notification-{budget.pk}.png"), full_page=True)

    page.click("#notification-budget-link")
    page.wait_for_selector("#kpi-spend")
    shown = {
        k: Decimal(page.get_attribute(f"#kpi-{k}", "data-value"))
        for k in ("amount", "spend", "forecast")
    }
    assert email == shown
    if story == "already over":
        assert email["spend"] > email["amount"]
    else:
        assert email["spend"] < email["amount"] <= email["forecast"]
