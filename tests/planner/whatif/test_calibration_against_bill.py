"""Calibration: the as-deployed replay reproduces each demo service's billed compute and its
observed SLO (python manage.py calibration --json)."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db.models import Sum

from planner.billing.models import CostRollup
from planner.core import demo
from planner.whatif import calibration

MAX_COST_ERROR_PCT = 2.0  # the target, met
MAX_SLO_GAP = 0.02  # the target (2 points)


def _lines():
    out = io.StringIO()
    call_command("calibration", "--json", stdout=out)
    return [json.loads(x) for x in out.getvalue().splitlines() if x.strip()]


@pytest.mark.django_db
def test_calibration_command_reproduces_bill_and_slo_on_the_demo_fleet(demo_fleet):
    lines = _lines()
    *rows, summary = lines
    assert summary["services"] == len(rows) == len(demo.SERVICES)
    keys = {
        "service",
        "billed_compute_monthly",
        "simulated_compute_monthly",
        "cost_error_pct",
        "observed_slo_attainment",
        "simulated_slo_attainment",
    }
    for r in rows:
        assert keys <= set(r), r
        err = (
            100
            * (r["simulated_compute_monthly"] - r["billed_compute_monthly"])
            / r["billed_compute_monthly"]
        )
        assert r["cost_error_pct"] == pytest.approx(err, abs=0.01)
        assert abs(r["cost_error_pct"]) <= MAX_COST_ERROR_PCT, r
        for k in ("observed_slo_attainment", "simulated_slo_attainment"):
            assert 0.0 <= r[k] <= 1.0
        # issue target: 2 points (once 3.0 for batch and 2.5 for video: the service time was
        # fitted from steps with a scale from zero, and the demo's histograms were re-drawn from
        # 5-min p50/p95 summaries instead of counting each minute's requests)
        assert abs(r["observed_slo_attainment"] - r["simulated_slo_attainment"]) <= MAX_SLO_GAP, r
    assert summary["max_abs_cost_error_pct"] == pytest.approx(
        max(abs(r["cost_error_pct"]) for r in rows), abs=1e-3
    )
    gaps = [abs(r["observed_slo_attainment"] - r["simulated_slo_attainment"]) for r in rows]
    assert summary["max_slo_gap"] == pytest.approx(max(gaps), abs=1e-3)
    # as deployed, most services meet their SLO; the video service misses it (visible reason:
    # its autoscaler target leaves no queueing headroom)
    met = [r["service"] for r in rows if r["observed_slo_attainment"] >= 0.95]
    assert len(met) >= len(rows) - 2  # one or two miss: video clearly, TTS at night
    assert "video-understanding" not in met


@pytest.mark.django_db
def test_billed_compute_is_the_services_instance_type_cost_by_hand(demo_fleet):
    """Billed compute over the days compared = the service's rollups on its instance types
    (no shared-node cost on the demo's services), recomputed here from the rollups."""
    from planner.core.models import Service

    svc = Service.objects.get(slug="embeddings")
    c = calibration.calibrate(svc)
    assert c.days_compared >= 12 and c.days_excluded == ()
    types = set(svc.deployments.values_list("instance_type", flat=True))
    # the days compared are the window's full days, ending on the last sample's day
    last = dt.date(2026, 10, 1)
    first = last - dt.timedelta(days=c.days_compared)
    total = CostRollup.objects.filter(
        service=svc, sku__in=types, date__gte=first, date__lt=last
    ).aggregate(v=Sum("effective_cost"))["v"]
    assert c.billed_compute_monthly_usd == pytest.approx(
        float(total) / (24 * c.days_compared) * 730
    )
    other = (
        CostRollup.objects.filter(service=svc, date__gte=first, date__lt=last)
        .exclude(sku__in=types)
        .aggregate(v=Sum("effective_cost"))["v"]
    )
    assert c.billed_other_monthly_usd == pytest.approx(
        float(other or 0) / (24 * c.days_compared) * 730
    )
