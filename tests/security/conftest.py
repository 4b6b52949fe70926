"""Helpers for the security suite: every URL pattern of the project with a concrete URL (using
real object ids where objects exist), and a fingerprint of the stored data."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import NoReverseMatch, Resolver404

CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")
# Page URL prefix -> model whose id/slug the page takes (API viewsets say it themselves).
PAGE_MODELS = {
    "/ingest/runs/": "billing.IngestRun",
    "/services/": "core.Service",
    "/recommendations/": "whatif.Recommendation",
    "/whatif/": "whatif.Scenario",
    "/plans/tokens/": "plans.ClusterToken",
    "/plans/": "plans.Plan",
    "/anomalies/": "alerts.Anomaly",
    "/budgets/": "alerts.Budget",
    "/api/keda/targets/": "core.Service",
}
HEADROOM_APPS = ("core", "billing", "whatif", "plans", "alerts", "auth", "authtoken")
BIG_TABLES = {"billing.costrollup", "billing.usagesample"}  # counted, not hashed row by row


@dataclass(frozen=True)
class Route:
    pattern: str  # the pattern text, prefixes joined
    name: str  # namespace:name, or the pattern when unnamed
    url: str  # a concrete URL that resolves to this pattern's view


def _concrete(pattern: str) -> str:
    def group(m: re.Match) -> str:
        body = m.group("body")
        if "|" in body and "[" not in body:
            return body.split("|")[0]  # an alternation of literals: take the first
        return "1"

    url = GROUP.sub(group, pattern)  # regex groups first: "(?P<pk>" also looks like "<pk>"
    url = CONVERTER.sub(lambda m: "x" if m.group("conv") in ("slug", "path", "str") else "1", url)
    return "/" + url.replace("^", "").replace("$", "").replace("\\", "")


def _model_for(url: str, match):
    cls = getattr(match.func, "cls", None)
    qs = getattr(cls, "queryset", None)
    if qs is not None:
        return qs.model
    for prefix, label in PAGE_MODELS.items():
        if url.startswith(prefix):
            try:
                return apps.get_model(label)
            except LookupError:
                return None
    return None


def _with_real_ids(url: str, name: str) -> str:
    """Rebuild `url` with the id (or slug) of an existing object of the view's model."""
    match = resolve(url)
    if not match.kwargs or not match.url_name:
        return url
    model = _model_for(url, match)
    obj = model.objects.order_by("pk").first() if model is not None else None
    if obj is None:
        return url
    kwargs = dict(match.kwargs)
    for key in kwargs:
        if key in ("pk", "id", "object_id"):
            kwargs[key] = obj.pk
        elif "slug" in key and hasattr(obj, "slug"):
            kwargs[key] = obj.slug
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return url


def all_routes(real_ids: bool = False) -> list[Route]:
    routes: list[Route] = []

    def walk(patterns, prefix: str, ns: str | None) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or ns)
            elif isinstance(p, URLPattern):
                text = prefix + str(p.pattern)
                name = f"{ns}:{p.name}" if ns and p.name else (p.name or text)
                url = _concrete(text)
                try:
                    resolve(url)
                except Resolver404:
                    raise AssertionError(f"sample URL {url} for {text} does not resolve") from None
                if real_ids and p.name and not name.startswith("admin:"):
                    url = _with_real_ids(url, name)
                routes.append(Route(text, name, url))

    walk(get_resolver().url_patterns, "", None)
    return routes


def is_login_redirect(resp) -> bool:
    return resp.status_code == 302 and (
        "/accounts/login/" in resp["Location"] or "/admin/login/" in resp["Location"]
    )


def data_fingerprint() -> str:
    """A hash of every stored row of Headroom's models (big fact tables: count and sum of ids)."""
    h = hashlib.sha256()
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label not in HEADROOM_APPS or label == "auth.permission":
            continue
        if label in BIG_TABLES:
            h.update(f"{label}:{model.objects.count()}".encode())
            continue
        for row in model.objects.order_by("pk").values_list():
            h.update(repr((label, row)).encode())
    return h.hexdigest()


@pytest.fixture
def populated(demo_fleet, analyst):
    """The demo fleet plus one object of each feature model, so id-taking URLs hit real rows."""
    import datetime as dt
    from decimal import Decimal

    from planner.billing.models import IngestRun, RunSource
    from planner.core.models import CloudAccount, Service

    svc = Service.objects.order_by("pk").first()
    IngestRun.objects.create(
        account=CloudAccount.objects.first(), source=RunSource.FOCUS_FILE, status="succeeded"
    )
    if apps.is_installed("planner.alerts"):
        from planner.alerts.models import Anomaly, Budget

        Anomaly.objects.create(
            series_key="cost:total",
            series_label="All",
            start=dt.date(2026, 9, 1),
            end=dt.date(2026, 9, 1),
            actual_usd=Decimal(2),
            expected_usd=Decimal(1),
            impact_usd=Decimal(1),
            score=0.5,
        )
        Budget.objects.create(name="All", amount_usd=Decimal(1000))
    if apps.is_installed("planner.whatif"):
        from planner.whatif.models import Recommendation, Scenario

        Recommendation.objects.create(
            kind="spot-share",
            service=svc,
            title="t",
            monthly_savings_usd=Decimal(1),
            confidence=0.5,
            slo_risk="low",
            evidence_start="2026-09-01T00:00:00Z",
            evidence_end="2026-09-02T00:00:00Z",
        )
        Scenario.objects.create(name="s", parameters={"services": [svc.slug]})
    if apps.is_installed("planner.plans"):
        from planner.core.seeding import ensure_fleet
        from planner.plans.demo import decision_from_deployment
        from planner.plans.models import ClusterToken
        from planner.plans.services import create_plan_from_decisions

        dep = next(iter(ensure_fleet().values()))
        create_plan_from_decisions([decision_from_deployment(dep)], name="p", created_by=analyst)
        ClusterToken.issue("prod", analyst)


def stored_state(store_root: Path) -> tuple:
    """Everything a failed ingest must leave untouched."""
    from django.db.models import Count, Sum

    from planner.billing.models import BillingPeriodLoad, CostRollup

    rollups = CostRollup.objects.aggregate(
        n=Count("id"), billed=Sum("billed_cost"), eff=Sum("effective_cost")
    )
    loads = sorted(
        BillingPeriodLoad.objects.values_list(
            "account_id", "billing_period_start", "version", "rows", "billed_cost"
        )
    )
    files = (
        sorted(str(p.relative_to(store_root)) for p in store_root.rglob("*.parquet"))
        if store_root.exists()
        else []
    )
    return rollups, loads, files


@pytest.fixture
def loaded(tmp_path, settings):
    """An account with one good period loaded (40 rows): the data bad inputs must not disturb."""
    from fixtures_gen.focus_files import write_focus_file
    from planner.billing.loader import load_batches
    from tests.factories import make_account

    settings.LINE_ITEM_STORE = str(tmp_path / "store")
    account = make_account(account_id="corpus", name="corpus")
    good = write_focus_file(tmp_path / "good.csv", version="1.2", rows=40, seed=3, fmt="csv")
    from ingest.focus.reader import open_focus

    load_batches(open_focus(str(good.path)), account)
    with open(good.path, newline="", encoding="utf-8") as f:
        base = list(csv.reader(f))
    return account, base, Path(settings.LINE_ITEM_STORE)
