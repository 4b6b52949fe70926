"""AWS connectors against moto's server mode (a real HTTP endpoint), through unchanged boto3."""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pyarrow as pa
import pytest
import requests

from fixtures_gen.focus_files import write_focus_file
from ingest.aws import AwsClient, AwsExportConnector, CostExplorerConnector, fetch_spot_prices
from ingest.aws.cost_explorer import parse_usage_type, period_request
from ingest.aws.exports import newest_manifests
from ingest.focus.schema import CANONICAL_SCHEMA
from ingest.retry import AuthError, RetryPolicy
from tests.ingest.aws_data import (
    BUCKET,
    CUR_BILLED,
    CUR_EFFECTIVE,
    CUR_LIST,
    CUR_ROWS,
    RI_ARN,
    SP_ARN,
    cur_table,
    moto_endpoint,
    parquet_bytes,
    put_data_export,
)

SEPT = dt.date(2026, 9, 1)


@pytest.fixture(scope="module")
def moto_url():
    with moto_endpoint() as url:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield url


@pytest.fixture
def s3(moto_url):
    return boto3.client("s3", region_name="us-east-1")


def _fast() -> RetryPolicy:
    return RetryPolicy(attempts=2, base_s=0.0, sleep=lambda s: None)


def test_cur2_export_maps_to_focus_with_commitments_spot_and_tags(s3):
    put_data_export(s3, "cur2", "gpu-cur", 9, parquet_bytes(cur_table(9)))
    put_data_export(s3, "cur2", "gpu-cur", 8, parquet_bytes(cur_table(8, scale=0.5)))
    conn = AwsExportConnector(f"s3://{BUCKET}/cur2", AwsClient(policy=_fast()))

    periods = conn.discover()
    assert sorted(periods) == [dt.date(2026, 8, 1), SEPT]

    read = conn.read_period(SEPT)
    table = pa.Table.from_batches(list(read.batches))
    assert table.schema == CANONICAL_SCHEMA
    assert table.num_rows == 9
    assert math.isclose(sum(table["BilledCost"].to_pylist()), CUR_BILLED, abs_tol=1e-9)
    assert math.isclose(sum(table["EffectiveCost"].to_pylist()), CUR_EFFECTIVE, abs_tol=1e-9)
    assert math.isclose(sum(x for x in table["ListCost"].to_pylist() if x), CUR_LIST, abs_tol=1e-9)
    rows = table.to_pylist()
    by_type = {json.loads(r["x_Extensions"])["x_LineItemType"]: r for r in rows}
    assert by_type["DiscountedUsage"]["PricingCategory"] == "Committed"
    assert by_type["DiscountedUsage"]["CommitmentDiscountId"] == RI_ARN
    assert by_type["DiscountedUsage"]["EffectiveCost"] == 20.0
    assert by_type["SavingsPlanCoveredUsage"]["CommitmentDiscountId"] == SP_ARN
    assert by_type["SavingsPlanCoveredUsage"]["CommitmentDiscountCategory"] == "Spend"
    assert by_type["SavingsPlanNegation"]["EffectiveCost"] == 0.0
    assert math.isclose(by_type["SavingsPlanRecurringFee"]["EffectiveCost"], 37.1)
    assert by_type["SavingsPlanRecurringFee"]["ChargeCategory"] == "Purchase"
    assert by_type["RIFee"]["EffectiveCost"] == 5.0
    assert by_type["Tax"]["ChargeCategory"] == "Tax"
    assert by_type["Credit"]["ChargeCategory"] == "Credit"
    spot = [r for r in rows if "SpotUsage" in (r["x_Extensions"] or "")][0]
    assert spot["PricingCategory"] == "Dynamic"
    assert json.loads(spot["Tags"]) == {"service": "image-gen"}  # user_ prefix dropped
    assert rows[0]["BillingPeriodStart"] == dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    assert rows[0]["RegionId"] == "us-east-1" and rows[0]["ServiceProviderName"] == "AWS"


def test_unchanged_export_is_skipped_and_restated_one_reloaded(s3):
    put_data_export(s3, "etag", "gpu-cur", 9, parquet_bytes(cur_table(9)))
    conn = AwsExportConnector(f"s3://{BUCKET}/etag", AwsClient(policy=_fast()))
    first = conn.read_period(SEPT)
    assert first.fingerprint and not first.unchanged
    again = conn.read_period(SEPT, known_fingerprint=first.fingerprint)
    assert again.unchanged and list(again.batches) == []
    put_data_export(
        s3, "etag", "gpu-cur", 9, parquet_bytes(cur_table(9, scale=1.1))
    )  # provider restates
    restated = conn.read_period(SEPT, known_fingerprint=first.fingerprint)
    assert not restated.unchanged and restated.fingerprint != first.fingerprint
    billed = sum(pa.Table.from_batches(list(restated.batches))["BilledCost"].to_pylist())
    assert math.isclose(billed, sum(round(r[2] * 1.1, 6) for r in CUR_ROWS), abs_tol=1e-9)


@pytest.mark.parametrize("version", ["1.0", "1.2"])
def test_focus_export_is_read_through_the_focus_reader(s3, tmp_path, version):
    gen = write_focus_file(
        tmp_path / "f.parquet", version=version, rows=400, start="2026-09-01", seed=3
    )
    put_data_export(s3, f"focus{version}", "gpu-focus", 9, (tmp_path / "f.parquet").read_bytes())
    conn = AwsExportConnector(f"s3://{BUCKET}/focus{version}/", AwsClient(policy=_fast()))
    table = pa.Table.from_batches(list(conn.read_period(SEPT).batches))
    assert table.num_rows == gen.rows == 400
    assert math.isclose(
        sum(table["BilledCost"].to_pylist()), gen.billed_cost_total, rel_tol=1e-12, abs_tol=1e-6
    )
    checks = conn.test_connection()
    assert all(c.ok for c in checks), checks
    assert f"FOCUS {version}" in checks[-1].detail


def test_missing_period_names_the_periods_found(s3):
    put_data_export(s3, "miss", "gpu-cur", 9, parquet_bytes(cur_table(9)))
    conn = AwsExportConnector(f"s3://{BUCKET}/miss", AwsClient(policy=_fast()))
    with pytest.raises(
        Exception, match=r"no export manifest for billing period 2026-07 \(periods found: 2026-09\)"
    ):
        conn.read_period(dt.date(2026, 7, 1))


def test_newest_manifest_wins():
    objs = [
        {
            "Key": "p/x/metadata/BILLING_PERIOD=2026-09/run-1/x-Manifest.json",
            "LastModified": dt.datetime(2026, 9, 2),
        },
        {
            "Key": "p/x/metadata/BILLING_PERIOD=2026-09/run-2/x-Manifest.json",
            "LastModified": dt.datetime(2026, 9, 5),
        },
        {"Key": "p/x/20260801-20260901/x-Manifest.json", "LastModified": dt.datetime(2026, 9, 1)},
        {
            "Key": "p/x/data/BILLING_PERIOD=2026-09/x-1.parquet",
            "LastModified": dt.datetime(2026, 9, 9),
        },
    ]
    found = newest_manifests(objs)
    assert found[SEPT]["Key"].endswith("run-2/x-Manifest.json")
    assert found[dt.date(2026, 8, 1)]["Key"] == "p/x/20260801-20260901/x-Manifest.json"


def _seed_ce(moto_url: str, results: list[dict]) -> None:
    r = requests.post(
        f"{moto_url}/moto-api/static/ce/cost-and-usage-results",
        json={"results": results},
        timeout=10,
    )
    assert r.status_code == 201


def _group(service: str, usage_type: str, unblended: float, amortized: float, qty: float) -> dict:
    return {
        "Keys": [service, usage_type],
        "Metrics": {
            "UnblendedCost": {"Amount": str(unblended), "Unit": "USD"},
            "AmortizedCost": {"Amount": str(amortized), "Unit": "USD"},
            "UsageQuantity": {"Amount": str(qty), "Unit": "Hrs"},
        },
    }


def test_cost_explorer_pages_through_next_page_token(moto_url):
    day1 = {
        "TimePeriod": {"Start": "2026-09-01", "End": "2026-09-02"},
        "Total": {},
        "Estimated": False,
        "Groups": [
            _group(
                "Amazon Elastic Compute Cloud - Compute",
                "USE1-BoxUsage:p4d.24xlarge",
                786.48,
                786.48,
                24,
            ),
            _group(
                "Amazon Elastic Compute Cloud - Compute", "USW2-SpotUsage:g5.xlarge", 9.6, 9.6, 24
            ),
        ],
    }
    day2 = {
        "TimePeriod": {"Start": "2026-09-02", "End": "2026-09-03"},
        "Total": {},
        "Estimated": True,
        "Groups": [
            _group("Amazon SageMaker", "USE1-ml.g5.2xlarge-hosting", 36.36, 30.0, 24),
            _group("Tax", "Tax", 12.5, 12.5, 0),
        ],
    }
    _seed_ce(
        moto_url, [{"ResultsByTime": [day1], "NextPageToken": "page-2"}, {"ResultsByTime": [day2]}]
    )
    conn = CostExplorerConnector(
        "111122223333", AwsClient(policy=_fast()), today=dt.date(2026, 9, 30)
    )
    read = conn.read_period(SEPT)
    table = pa.Table.from_batches(list(read.batches))
    assert table.num_rows == 4  # both pages
    assert any(
        w.startswith("ListCost: Cost Explorer publishes no list prices, so 4 row(s)")
        for w in read.warnings
    ), read.warnings
    assert math.isclose(sum(table["BilledCost"].to_pylist()), 786.48 + 9.6 + 36.36 + 12.5)
    assert math.isclose(sum(table["EffectiveCost"].to_pylist()), 786.48 + 9.6 + 30.0 + 12.5)
    rows = {r["SkuId"]: r for r in table.to_pylist()}
    assert (
        rows["g5.xlarge"]["PricingCategory"] == "Dynamic"
        and rows["g5.xlarge"]["RegionId"] == "us-west-2"
    )
    assert (
        rows["p4d.24xlarge"]["PricingCategory"] == "Standard"
        and rows["p4d.24xlarge"]["ConsumedQuantity"] == 24
    )
    assert rows["Tax"]["ChargeCategory"] == "Tax"
    assert all(r["ListCost"] is None for r in rows.values())  # not invented


def test_usage_type_parsing_and_request_window():
    assert parse_usage_type("USE1-BoxUsage:p5.48xlarge") == ("us-east-1", "p5.48xlarge", False)
    assert parse_usage_type("EUW1-SpotUsage:g5.xlarge") == ("eu-west-1", "g5.xlarge", True)
    assert parse_usage_type("BoxUsage:g4dn.xlarge") == ("us-east-1", "g4dn.xlarge", False)
    assert parse_usage_type("USE1-DataTransfer-Out-Bytes") == ("us-east-1", None, False)
    req = period_request(SEPT, dt.date(2026, 9, 14))
    assert (
        req["TimePeriod"] == {"Start": "2026-09-01", "End": "2026-09-15"}
        and req["Granularity"] == "DAILY"
    )
    assert (
        period_request(dt.date(2026, 8, 1), dt.date(2026, 9, 2))["TimePeriod"]["End"]
        == "2026-09-01"
    )


def test_spot_price_history_updates_the_price_catalog(moto_url):
    from costmodels.catalog import PriceCatalog

    rows = fetch_spot_prices(AwsClient(policy=_fast()), "us-east-1", ["g5.xlarge", "p4d.24xlarge"])
    assert {r["instance_type"] for r in rows} == {"g5.xlarge", "p4d.24xlarge"}
    assert all(r["spot_usd_per_hour"] == 0.00001 for r in rows)  # what moto's EC2 reports
    catalog = PriceCatalog.load_default()
    report = catalog.update_prices(rows, source="aws_spot_price_history")
    assert report.updated == 2
    offer = catalog.offer("aws", "g5.xlarge", "us-east-1")
    assert (
        offer.spot_usd_per_hour == 0.00001 and offer.spot_price_source == "aws_spot_price_history"
    )


def test_auth_failure_from_the_server_is_not_retried(moto_url):
    """Moto's IAM check switched on: unknown keys get InvalidClientTokenId (403) -> AuthError, no retry."""
    sleeps: list[float] = []
    requests.post(f"{moto_url}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    try:
        client = AwsClient(policy=RetryPolicy(attempts=5, base_s=0.0, sleep=sleeps.append))
        with pytest.raises(
            AuthError,
            match="access refused .*InvalidAccessKeyId|access refused .*InvalidClientTokenId",
        ):
            client.list_objects(BUCKET, "cur2/")
    finally:
        requests.post(f"{moto_url}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()
    assert sleeps == []  # failed fast: no backoff, no second attempt


class _ThrottleOnce(BaseHTTPRequestHandler):
    """Cost Explorer endpoint that answers ThrottlingException once, then a real result."""

    calls: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server API
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).calls.append(self.headers.get("X-Amz-Target", ""))
        if len(type(self).calls) == 1:
            body, status = {"__type": "ThrottlingException", "message": "Rate exceeded"}, 400
        else:
            body, status = (
                {
                    "ResultsByTime": [
                        {
                            "TimePeriod": {"Start": "2026-09-01", "End": "2026-09-02"},
                            "Groups": [
                                _group(
                                    "Amazon Elastic Compute Cloud - Compute",
                                    "USE1-BoxUsage:g5.xlarge",
                                    24.144,
                                    24.144,
                                    24,
                                )
                            ],
                            "Estimated": False,
                        }
                    ]
                },
                200,
            )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_throttled_cost_explorer_call_is_retried_and_succeeds(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ThrottleOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _ThrottleOnce.calls = []
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sleeps: list[float] = []
    try:
        conn = CostExplorerConnector(
            "1",
            AwsClient(policy=RetryPolicy(attempts=3, base_s=0.25, sleep=sleeps.append)),
            today=SEPT,
        )
        table = pa.Table.from_batches(list(conn.read_period(SEPT).batches))
    finally:
        server.shutdown()
    assert _ThrottleOnce.calls == ["AWSInsightsIndexService.GetCostAndUsage"] * 2
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 0.25  # one jittered backoff
    assert table["BilledCost"].to_pylist() == [24.144]


def _legacy_name(name: str) -> str:
    """CUR 2.0 name -> the legacy CUR CSV header (``line_item_unblended_cost`` -> ``lineItem/UnblendedCost``)."""
    groups = {
        "bill": "bill",
        "line_item": "lineItem",
        "pricing": "pricing",
        "product": "product",
        "reservation": "reservation",
        "savings_plan": "savingsPlan",
    }
    for snake, camel in sorted(groups.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(snake + "_"):
            rest = name[len(snake) + 1 :].split("_")
            field = "".join(w.upper() if len(w) == 1 else w.capitalize() for w in rest)
            return f"{camel}/{field}"
    return name


@pytest.mark.parametrize("layout", ["cur2-csv-gz", "legacy-csv"])
def test_cur_csv_exports_map_like_parquet(s3, layout):
    import csv
    import gzip
    import io

    table = cur_table(9)
    rows = table.to_pylist()
    names = [n for n in table.column_names if n != "resource_tags"]
    out = io.StringIO()
    w = csv.writer(out)
    if layout == "cur2-csv-gz":
        w.writerow([*names, "resource_tags"])
        for r in rows:
            tags = json.dumps(dict(r["resource_tags"])) if r["resource_tags"] else ""
            w.writerow(
                [
                    *(
                        ""
                        if r[n] is None
                        else (
                            r[n].strftime("%Y-%m-%dT%H:%M:%SZ")
                            if hasattr(r[n], "strftime")
                            else r[n]
                        )
                        for n in names
                    ),
                    tags,
                ]
            )
        body = gzip.compress(out.getvalue().encode())
    else:
        w.writerow([*(_legacy_name(n) for n in names), "resourceTags/user:service"])
        for r in rows:
            tag = dict(r["resource_tags"] or []).get("user_service", "")
            w.writerow(
                [
                    *(
                        ""
                        if r[n] is None
                        else (
                            r[n].strftime("%Y-%m-%dT%H:%M:%SZ")
                            if hasattr(r[n], "strftime")
                            else r[n]
                        )
                        for n in names
                    ),
                    tag,
                ]
            )
        body = out.getvalue().encode()
    put_data_export(s3, f"csv-{layout}", "gpu-cur", 9, body)
    conn = AwsExportConnector(f"s3://{BUCKET}/csv-{layout}", AwsClient(policy=_fast()))
    got = pa.Table.from_batches(list(conn.read_period(SEPT).batches))
    assert got.num_rows == 9
    assert math.isclose(sum(got["BilledCost"].to_pylist()), CUR_BILLED, abs_tol=1e-9)
    assert math.isclose(sum(got["EffectiveCost"].to_pylist()), CUR_EFFECTIVE, abs_tol=1e-9)
    by_type = {json.loads(r["x_Extensions"])["x_LineItemType"]: r for r in got.to_pylist()}
    assert by_type["SavingsPlanCoveredUsage"]["CommitmentDiscountId"] == SP_ARN
    assert by_type["DiscountedUsage"]["CommitmentDiscountId"] == RI_ARN
    assert json.loads(by_type["Usage"]["Tags"]) in (
        {"service": "chat-llm"},
        {"service": "image-gen"},
    )
