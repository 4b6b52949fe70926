"""Chargeback and commitments pages in a real browser (Debian Chromium via Playwright): the
chart renders, and a table's Parquet export downloads a file whose numbers are the page's."""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.browser
PASSWORD = "Cb-browser-pass-123!"


@pytest.fixture
def transactional_db(django_db_setup, django_db_blocker):
    """The live server must see committed rows; they are removed by the fixture below."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def finops(django_db_setup, django_db_blocker):
    from django.contrib.auth import get_user_model

    from planner.chargeback.demo import seed_demo_finops
    from planner.chargeback.models import ReportSubscription, SharedCostPool, Team
    from planner.commitments.models import Commitment, ExpiryAlertRule
    from planner.core.roles import assign_role
    from tests.conftest import seed_test_fleet

    with django_db_blocker.unblock():
        from planner.core.models import Service

        if not Service.objects.filter(slug="embeddings").exists():
            seed_test_fleet()
        seed_demo_finops()
        user, _ = get_user_model().objects.get_or_create(username="cb-ui-viewer")
        user.set_password(PASSWORD)
        user.save()
        assign_role(user, "viewer")
    yield
    with django_db_blocker.unblock():
        for model in (Team, SharedCostPool, ReportSubscription, Commitment, ExpiryAlertRule):
            model.objects.all().delete()
        user.delete()


def test_chargeback_page_chart_and_parquet_export_in_browser(
    browser_page, live_server, finops, tmp_path
):
    from planner.chargeback.report import Period, build_report

    page, base = browser_page, live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "cb-ui-viewer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".role-viewer")
    page.goto(f"{base}/chargeback/?month=2026-09")
    page.wait_for_selector("#chart-chargeback.rendered")
    assert "converted at the ECB" in page.content() or "billed in USD" in page.content()
    tools = page.locator("#table-chargeback-teams").locator("xpath=preceding-sibling::div[1]")
    with page.expect_download() as info:
        tools.locator("button:has-text('Export Parquet')").click()
    path = tmp_path / "teams.parquet"
    info.value.save_as(path)
    rows = pq.read_table(path).to_pylist()
    report = build_report(Period.month(dt.date(2026, 9, 1)))
    shown = {r["Team"]: r for r in rows}
    total_col = next(k for k in rows[0] if k.startswith("Total"))
    assert shown["(total)"][total_col] == pytest.approx(report.allocation.total, abs=0.01)
    assert shown["(unallocated)"][total_col] == pytest.approx(
        report.allocation.unallocated, abs=0.01
    )
    # a table without sorting still gets both exports
    rules_tools = page.locator("#table-chargeback-rules").locator("xpath=preceding-sibling::div[1]")
    assert rules_tools.locator("button:has-text('Export CSV')").count() == 1
    page.goto(f"{base}/commitments/?start=2026-09-02&end=2026-09-30")
    assert page.locator("#table-commitments tbody tr").count() >= 5
    assert page.locator("#table-commitment-calendar tbody tr").count() >= 3
