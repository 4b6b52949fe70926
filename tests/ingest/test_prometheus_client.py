"""Prometheus client (prometheus-api-client) against a local HTTP server speaking the query_range API:
503 retried, 401 not; PromQL templates per service; gaps and missing series reported, not zero.
The real-server check (promtool-backfilled DCGM series) is tests/system/test_prometheus_server.py."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from ingest.prometheus import PrometheusClient, UsageQueries, read_usage, selector_for
from ingest.retry import AuthError, RetryPolicy
from tests.ingest.local_servers import JsonHandler, serve

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
START, END = T0, T0 + dt.timedelta(minutes=4)


class FakePrometheus(JsonHandler):
    script: list[int] = []
    queries: list[str] = []

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        cls = type(self)
        if cls.script:
            status = cls.script.pop(0)
            return self.send(
                status, {"status": "error", "errorType": "unavailable", "error": "busy"}
            )
        promql = q["query"][0]
        cls.queries.append(promql)
        t = int(T0.timestamp())
        result = []
        if "DCGM_FI_DEV_GPU_UTIL" in promql:
            # minutes 0, 1, 4 present; 2 and 3 absent (a gap)
            result = [
                {"metric": {}, "values": [[t, "50"], [t + 60, "60"], [t + 240, "70"]]},
                {"metric": {"GPU_I_PROFILE": "1g.10gb"}, "values": [[t + 60, "12.5"]]},
            ]
        elif "http_requests_total" in promql:
            result = [{"metric": {}, "values": [[t + 60 * m, "4"] for m in range(5)]}]
        elif "histogram_quantile(0.95" in promql:
            result = [{"metric": {}, "values": [[t, "NaN"], [t + 60, "250"]]}]
        self.send(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})


@pytest.fixture(scope="module")
def prom_url():
    with serve(FakePrometheus) as (url, _):
        yield url


def _client(url, sleeps) -> PrometheusClient:
    return PrometheusClient(url, policy=RetryPolicy(attempts=3, base_s=0.5, sleep=sleeps.append))


def test_unavailable_prometheus_is_retried_with_backoff(prom_url):
    FakePrometheus.script, FakePrometheus.queries = [503], []
    sleeps: list[float] = []
    out = _client(prom_url, sleeps).query_range("up", START, END, 60)
    assert out == [] and len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


def test_unauthorised_prometheus_fails_fast(prom_url):
    FakePrometheus.script = [401]
    sleeps: list[float] = []
    with pytest.raises(AuthError, match="access refused"):
        _client(prom_url, sleeps).query_range("up", START, END, 60)
    assert sleeps == [] and FakePrometheus.script == []


def test_gaps_nan_and_missing_series_stay_none_and_are_reported(prom_url):
    FakePrometheus.script, FakePrometheus.queries = [], []
    res = read_usage(_client(prom_url, []), selector_for("prod", "chat"), START, END, step_s=60)
    whole = [r for r in res.rows if r.mig_profile == ""]
    assert [r.gpu_util_pct for r in whole] == [50.0, 60.0, None, None, 70.0]
    assert [r.request_rate_rps for r in whole] == [4.0] * 5
    assert [r.p95_latency_ms for r in whole] == [None, 250.0, None, None, None]  # NaN is no data
    mig = [r for r in res.rows if r.mig_profile == "1g.10gb"]
    assert len(mig) == 1 and mig[0].gpu_util_pct == 12.5 and mig[0].request_rate_rps is None
    assert "gpu_util_pct: no data at 2 of 5 steps for profile (whole GPU)" in " ".join(res.missing)
    assert any(
        m.startswith(
            'gpu_mem_used_gib: no series for avg by (GPU_I_PROFILE) (DCGM_FI_DEV_FB_USED{namespace="prod",pod=~"chat-.*"})'
        )
        for m in res.missing
    )
    assert any(m.startswith("queue_depth: no series") for m in res.missing)
    assert not any(m.startswith("request_rate_rps") for m in res.missing)


def test_queries_are_configurable_per_service():
    q = UsageQueries(rate_window="2m").for_service(
        {"request_rate_rps": "sum(rate(vllm:request_success_total{sel}[{w}]))", "queue_depth": ""}
    )
    sel = selector_for("prod", "chat-llm")
    assert (
        q.render("request_rate_rps", sel)
        == 'sum(rate(vllm:request_success_total{namespace="prod",pod=~"chat-llm-.*"}[2m]))'
    )
    assert q.render("queue_depth", sel) is None  # disabled for this service
    assert (
        q.render("gpu_util_pct", sel)
        == 'avg by (GPU_I_PROFILE) (DCGM_FI_DEV_GPU_UTIL{namespace="prod",pod=~"chat-llm-.*"})'
    )
    with pytest.raises(ValueError, match="empty window"):
        read_usage(None, sel, END, START)  # type: ignore[arg-type]
