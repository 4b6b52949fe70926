"""Figures are built as plain dicts for speed; plotly's own validator must accept every one, and
cached pages must follow new data at once."""

import datetime as dt
import json
from decimal import Decimal

import plotly.graph_objects as go
import pytest
from django.urls import reverse

from planner.billing.models import CostRollup
from planner.core import charts as core_charts
from planner.whatif import charts


def test_every_figure_is_valid_plotly():
    d = [dt.date(2026, 9, 1), dt.date(2026, 9, 2)]
    figures = [
        core_charts.stacked_daily({"a": {d[0]: 1.0, d[1]: Decimal("2.5")}, "b": {d[1]: 3.0}}),
        core_charts.donut([("AWS", Decimal("3")), ("GCP", 1.0)]),
        core_charts.daily_lines({"llm_chat (USD per 1k tokens)": {d[0]: 0.002}}, yaxis="USD"),
        charts.lines(d, {"p95": [100.0, float("inf")]}, "ms", ref=250, ref_name="SLO"),
        charts.per_minute(
            "2026-09-01T00:00:00+00:00", {"baseline": [1, 2], "scenario": [1, None]}, "replicas"
        ),
        charts.grouped_bars(
            ["spot", "ondemand"], {"baseline": {"spot": 1.0}, "scenario": {"ondemand": 2.0}}
        ),
    ]
    for fig in figures:
        parsed = go.Figure(json.loads(fig))  # raises on any unknown attribute or bad value
        assert parsed.data
    line = json.loads(figures[3])
    assert line["data"][0]["y"] == [100.0, None]  # no capacity -> a gap, not Infinity
    assert line["layout"]["shapes"][0]["y0"] == 250


@pytest.mark.django_db
def test_cached_dashboard_follows_new_rollups(viewer_client, demo_fleet):
    url = "/?start=2026-09-01&end=2026-09-30"
    before = viewer_client.get(url).context["spend"]
    assert viewer_client.get(url).context["spend"] == before  # served from the cache
    row = CostRollup.objects.filter(date="2026-09-10").first()
    row.pk = None
    row.save()  # a new row, as every load inserts
    after = viewer_client.get(url).context["spend"]
    assert float(after) == pytest.approx(float(before) + float(row.effective_cost))
    resp = viewer_client.get(
        reverse("service-detail", args=["embeddings"]) + "?start=2026-09-01&end=2026-09-30"
    )
    assert resp.status_code == 200 and resp.context["service"].slug == "embeddings"


def test_hourly_grid_fills_missing_hours_with_gaps_for_a_fixed_step_axis():
    from planner.core.fleet import hourly_grid

    h0 = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    rows = [{"hour": h0, "util": 50.0}, {"hour": h0 + dt.timedelta(hours=3), "util": 70.0}]
    grid = hourly_grid(rows)
    assert [g["util"] for g in grid] == [50.0, None, None, 70.0]
    fig = json.loads(
        charts.lines(grid[0]["hour"], {"util": [g["util"] for g in grid]}, "%", dx_ms=3_600_000)
    )
    go.Figure(fig)
    assert fig["data"][0]["x0"] == "2026-09-01 00:00:00" and fig["data"][0]["dx"] == 3_600_000
