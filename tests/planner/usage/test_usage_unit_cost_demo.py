"""The demo fleet's servers carry inference metrics: measured unit costs (recomputed here from the
raw rows), latency SLOs from histograms, the batch capacity fit, unit-cost anomalies, build vs
buy with a user-entered price, and the pages/API that say which metric produced each figure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.db.models.functions import TruncDate

from planner.billing.models import CostRollup
from planner.core import demo
from planner.core.models import Deployment, Service
from planner.usage import demo as serving_demo
from planner.usage.economics import service_unit_costs, unit_cost_series
from planner.usage.models import ServiceServingTargets, UsageSample
from tests.conftest import DEMO_DAYS, DEMO_END

pytestmark = pytest.mark.django_db
START, END = DEMO_END - dt.timedelta(days=30), DEMO_END - dt.timedelta(days=1)


def _frame(slug: str) -> pd.DataFrame:
    lo = dt.datetime.combine(START, dt.time.min, tzinfo=dt.UTC)
    hi = dt.datetime.combine(END, dt.time.min, tzinfo=dt.UTC) + dt.timedelta(days=1)
    rows = UsageSample.objects.filter(deployment__service__slug=slug, ts__gte=lo, ts__lt=hi)
    f = pd.DataFrame(
        list(
            rows.values(
                "ts",
                "input_tokens",
                "output_tokens",
                "prefill_seconds",
                "decode_seconds",
                "images",
                "audio_seconds",
                "video_seconds",
            )
        )
    )
    f["day"] = f["ts"].dt.date
    return f.groupby("day").sum(numeric_only=True)


def _cost(slug: str) -> pd.Series:
    """The service's cost per day: its tagged rows plus the untagged cost of its node pool (the
    demo's spare nodes). Each demo pool runs one service only, so the shared-node rule gives it
    all of that cost on days it ran (checked here, not assumed)."""
    rows = CostRollup.objects.filter(service__slug=slug, date__gte=START, date__lte=END)
    f = pd.DataFrame(list(rows.values("date", "effective_cost")))
    tagged = f.groupby("date")["effective_cost"].sum().astype(float)
    dep = Deployment.objects.get(service__slug=slug)
    pool = dict(account=dep.account, region=dep.region, instance_type=dep.instance_type)
    assert Deployment.objects.filter(**pool).count() == 1
    ran = set(
        UsageSample.objects.filter(deployment=dep, replicas__gt=0)
        .annotate(day=TruncDate("ts"))
        .values_list("day", flat=True)
    )
    spare = CostRollup.objects.filter(
        service__isnull=True, date__gte=START, date__lte=END, date__in=ran, **pool
    )
    f = pd.DataFrame(list(spare.values("date", "effective_cost")))
    untagged = f.groupby("date")["effective_cost"].sum().astype(float) if len(f) else 0.0
    return tagged.add(untagged, fill_value=0.0)


def test_demo_unit_cost_per_million_tokens_recomputed_from_raw_rows(demo_fleet):
    service = Service.objects.get(slug="chat-assistant")
    got = {u.unit: u for u in service_unit_costs(service, START, END)}
    amounts, cost = _frame("chat-assistant"), _cost("chat-assistant")
    days = cost.index.intersection(amounts.index[amounts["input_tokens"] > 0])
    share = amounts["prefill_seconds"] / (amounts["prefill_seconds"] + amounts["decode_seconds"])
    cost_in = (cost[days] * share[days]).sum()
    cost_out = (cost[days] * (1 - share[days])).sum()
    assert got["1M input tokens"].usd_per_unit == pytest.approx(
        cost_in / amounts.loc[days, "input_tokens"].sum() * 1e6, rel=1e-9
    )
    assert got["1M output tokens"].usd_per_unit == pytest.approx(
        cost_out / amounts.loc[days, "output_tokens"].sum() * 1e6, rel=1e-9
    )
    # the split conserves the service's cost on measured days
    total = sum(u.usd_per_unit * u.units for u in got.values())
    assert total == pytest.approx(cost[days].sum(), rel=1e-9)
    assert got["1M input tokens"].metric == "vllm:prompt_tokens_total (vLLM)"
    assert got["1M output tokens"].metric == "vllm:generation_tokens_total (vLLM)"
    assert got["1M input tokens"].rule == "measured prefill/decode GPU time"
    assert got["1M input tokens"].coverage == pytest.approx(1.0)
    # decoding dominates GPU time, so an output token costs more than an input token
    assert got["1M output tokens"].usd_per_unit > 5 * got["1M input tokens"].usd_per_unit


@pytest.mark.parametrize(
    "slug, unit, amount, per",
    [
        ("image-gen", "image", "images", 1.0),
        ("speech-to-text", "audio-minute", "audio_seconds", 60.0),
        ("text-to-speech", "audio-minute", "audio_seconds", 60.0),
        ("video-understanding", "video-minute", "video_seconds", 60.0),
    ],
)
def test_demo_unit_cost_per_image_audio_and_video_minute(demo_fleet, slug, unit, amount, per):
    got = {u.unit: u for u in service_unit_costs(Service.objects.get(slug=slug), START, END)}
    amounts, cost = _frame(slug), _cost(slug)
    days = cost.index.intersection(amounts.index[amounts[amount] > 0])
    expected = cost[days].sum() / (amounts.loc[days, amount].sum() / per)
    assert got[unit].usd_per_unit == pytest.approx(expected, rel=1e-9)
    assert (
        got[unit].metric
        == f"{serving_demo.STACKS[slug][1][amount]} (Custom counters (generic mapping))"
    )
    assert got[unit].gpu_seconds_per_unit > 0


def test_demo_unit_cost_series_flags_the_injected_cost_anomalies(demo_fleet):
    from costmodels.anomaly.estimator import detect

    start = DEMO_END - dt.timedelta(days=DEMO_DAYS)
    for a in demo_fleet:
        if a.service not in ("image-gen", "chat-assistant"):
            continue
        unit = "image" if a.service == "image-gen" else "1M output tokens"
        s = unit_cost_series(Service.objects.get(slug=a.service), unit, start, DEMO_END)
        flags = detect(s.interpolate(limit_area="inside").dropna())
        flagged = set(flags.index[flags["is_anomaly"] == 1].date)
        assert a.start.date() in flagged, (a.service, sorted(flagged))


def test_demo_triton_capacity_fit_recovers_the_generating_batch_model(demo_fleet):
    from planner.usage.slo import measured_capacity

    cap = measured_capacity(Service.objects.get(slug="embeddings"), START, END)
    assert cap.fit.service_time_ms == pytest.approx(serving_demo.TRITON_T1_MS, rel=0.05)
    assert cap.fit.batch_cost_factor == pytest.approx(serving_demo.TRITON_FACTOR, rel=0.08)


def test_demo_chat_latency_slos_come_from_the_histograms(demo_fleet):
    from planner.usage.slo import latency_slos

    slos = {s.kind: s for s in latency_slos(Service.objects.get(slug="chat-assistant"), START, END)}
    assert set(slos) == {"e2e", "ttft", "itl"}
    assert slos["ttft"].objective_p95_ms == serving_demo.CHAT_TARGETS["ttft_slo_p95_ms"]
    assert slos["e2e"].metric == "vllm:e2e_request_latency_seconds_bucket"
    # every request served in the range is in the e2e histogram
    served = sum(_frame_requests("chat-assistant"))
    assert slos["e2e"].requests == pytest.approx(served, rel=0.01)
    for s in slos.values():
        assert s.p50_ms < s.p95_ms < s.p99_ms and 0 < s.attainment <= 1


def _frame_requests(slug: str) -> list[float]:
    lo = dt.datetime.combine(START, dt.time.min, tzinfo=dt.UTC)
    hi = dt.datetime.combine(END, dt.time.min, tzinfo=dt.UTC) + dt.timedelta(days=1)
    qs = UsageSample.objects.filter(deployment__service__slug=slug, ts__gte=lo, ts__lt=hi)
    return [v for v in qs.values_list("requests_succeeded", flat=True) if v]


def test_build_vs_buy_prices_the_measured_tokens_at_the_entered_api_price(demo_fleet):
    from planner.usage.economics import build_vs_buy

    service = Service.objects.get(slug="chat-assistant")
    before = build_vs_buy(service, START, END)
    assert before.managed_usd is None  # no bundled vendor price
    ServiceServingTargets.objects.update_or_create(
        service=service,
        defaults={
            "managed_api_name": "Some API",
            "managed_usd_per_1m_input": Decimal("0.5"),
            "managed_usd_per_1m_output": Decimal("1.5"),
            "managed_price_source": "test",
        },
    )
    after = build_vs_buy(service, START, END)
    expected = after.input_tokens / 1e6 * 0.5 + after.output_tokens / 1e6 * 1.5
    assert after.managed_usd == pytest.approx(expected)
    assert after.saving_usd == pytest.approx(expected - after.self_hosted_usd)
    assert after.self_usd_per_1m_blended == pytest.approx(
        after.self_hosted_usd / (after.input_tokens + after.output_tokens) * 1e6
    )


def test_service_page_and_dashboard_name_the_metric_behind_each_unit_cost(
    demo_fleet, viewer_client
):
    page = viewer_client.get(f"/services/chat-assistant/?start={START}&end={END}")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="table-unit-costs"' in html
    assert (
        "vllm:generation_tokens_total (vLLM)" in html and "measured prefill/decode GPU time" in html
    )
    assert 'id="table-latency-slos"' in html and "Time to first token" in html
    dash = viewer_client.get(f"/?start={START}&end={END}").content.decode()
    assert 'id="table-measured-unit-costs"' in dash and "asr_audio_seconds_total" in dash
    assert demo.SERVICES[0].name in dash


def test_serving_targets_form_needs_the_analyst_role(demo_fleet, viewer, analyst):
    from django.test import Client

    viewer_client, analyst_client = Client(), Client()
    viewer_client.force_login(viewer)
    analyst_client.force_login(analyst)
    url = "/services/chat-assistant/serving-targets/"
    data = {
        "ttft_slo_p95_ms": 900,
        "managed_usd_per_1m_input": "0.4",
        "managed_usd_per_1m_output": "1.2",
    }
    assert viewer_client.post(url, data).status_code == 403
    assert analyst_client.post(url, data).status_code == 302
    t = ServiceServingTargets.objects.get(service__slug="chat-assistant")
    assert t.ttft_slo_p95_ms == 900 and t.managed_usd_per_1m_output == Decimal("1.2")
