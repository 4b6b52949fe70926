"""Ownership (issue 13, item 12): budgets and scenarios are read by every role, changed or deleted
only by the analyst who created them or by an admin; unowned ones (demo, system) by admins."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from planner.alerts.models import Budget
from planner.whatif.models import Scenario
from tests.factories import make_user
from tests.planner.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_analyst(db):
    return make_user("analyst", "t-analyst-2")


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_ownership_budget_api_owner_and_admin_change_others_cannot(
    analyst, other_analyst, admin_user, viewer
):
    owner = token_client(analyst)
    resp = owner.post("/api/v1/budgets/", {"name": "GPU", "amount_usd": "5000"}, format="json")
    assert resp.status_code == 201, resp.content
    pk = resp.json()["id"]
    url = f"/api/v1/budgets/{pk}/"
    other = token_client(other_analyst)
    assert other.get(url).status_code == 200  # every role reads it
    assert token_client(viewer).get(url).status_code == 200
    denied = other.patch(url, {"amount_usd": "1"}, format="json")
    assert (
        denied.status_code == 403 and "created this object or an admin" in denied.json()["detail"]
    )
    assert other.delete(url).status_code == 403
    assert Budget.objects.get(pk=pk).amount_usd == Decimal("5000")
    assert owner.patch(url, {"amount_usd": "6000"}, format="json").status_code == 200
    assert (
        token_client(admin_user).patch(url, {"amount_usd": "7000"}, format="json").status_code
        == 200
    )
    assert Budget.objects.get(pk=pk).amount_usd == Decimal("7000")
    assert token_client(admin_user).delete(url).status_code == 204


def test_ownership_budget_page_edit(analyst, other_analyst, admin_user):
    mine = Budget.objects.create(name="Mine", amount_usd=Decimal(100), created_by=analyst)
    unowned = Budget.objects.create(name="Demo", amount_usd=Decimal(100))
    edit = reverse("budget-edit", args=[mine.pk])
    assert _client(analyst).get(edit).status_code == 200
    assert _client(other_analyst).get(edit).status_code == 403
    assert _client(other_analyst).post(edit, {"name": "x"}).status_code == 403
    assert _client(admin_user).get(edit).status_code == 200
    assert _client(analyst).get(reverse("budget-edit", args=[unowned.pk])).status_code == 403
    assert _client(admin_user).get(reverse("budget-edit", args=[unowned.pk])).status_code == 200
    assert Budget.objects.get(pk=mine.pk).name == "Mine"


def test_ownership_scenario_save(analyst, other_analyst, admin_user):
    s = Scenario.objects.create(name="mine", parameters={}, created_by=analyst)
    url = reverse("scenario-save", args=[s.pk])
    assert _client(other_analyst).post(url, {"name": "renamed"}).status_code == 403
    s.refresh_from_db()
    assert (s.saved, s.name) == (False, "mine")
    assert _client(analyst).post(url, {"name": "kept"}).status_code == 302
    s.refresh_from_db()
    assert (s.saved, s.name) == (True, "kept")
    assert _client(admin_user).post(url, {"name": "by admin"}).status_code == 302
