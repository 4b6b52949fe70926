"""Google Cloud connectors through the real client libraries — CloudCatalogClient (REST transport)
and bigquery.Client — against a local HTTP server returning the documented JSON shapes:
list_skus with nextPageToken paging, a 429 with Retry-After and a 403; BigQuery tables.get,
jobs.insert and jobs.getQueryResults with pageToken paging."""

from __future__ import annotations

import datetime as dt
import json
import math
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pytest
from google.auth.credentials import AnonymousCredentials

from ingest.gcp import BigQueryBillingConnector, GcpClient, MachineShape, fetch_gcp_prices
from ingest.gcp.catalog import SOURCE, component
from ingest.retry import AuthError, RetryPolicy
from tests.ingest.local_servers import JsonHandler, serve

SEPT = dt.date(2026, 9, 1)
REGIONS = ["us-central1", "us-east1"]


def _sku(
    i: int, desc: str, usage: str, units: int, nanos: int, unit: str = "h", group: str = "GPU"
) -> dict:
    return {
        "name": f"services/6F81-5844-456A/skus/SKU-{i:04d}",
        "skuId": f"SKU-{i:04d}",
        "description": desc,
        "category": {
            "serviceDisplayName": "Compute Engine",
            "resourceFamily": "Compute",
            "resourceGroup": group,
            "usageType": usage,
        },
        "serviceRegions": REGIONS,
        "pricingInfo": [
            {
                "summary": "",
                "effectiveTime": "2026-09-01T00:00:00Z",
                "currencyConversionRate": 1,
                "pricingExpression": {
                    "usageUnit": unit,
                    "usageUnitDescription": unit,
                    "baseUnit": "s",
                    "baseUnitDescription": "second",
                    "baseUnitConversionFactor": 3600,
                    "displayQuantity": 1,
                    "tieredRates": [
                        {
                            "startUsageAmount": 0,
                            "unitPrice": {
                                "currencyCode": "USD",
                                "units": str(units),
                                "nanos": nanos,
                            },
                        }
                    ],
                },
            }
        ],
        "serviceProviderName": "Google",
    }


# (GPU, core, RAM) USD per hour (RAM per GiB-hour) for A2 in the Americas, by usage type.
A2 = {"OnDemand": (2.933908, 0.031611, 0.004237), "Preemptible": (0.88, 0.0094833, 0.0012711),
      "Commit1Yr": (1.848362, 0.019915, 0.002669), "Commit3Yr": (1.026846, 0.014225, 0.001907)}  # fmt: skip


def _money(x: float) -> tuple[int, int]:
    units = int(x)
    return units, round((x - units) * 1e9)


def _skus() -> list[dict]:
    out, i = [], 0
    names = {
        "OnDemand": (
            "Nvidia Tesla A100 GPU running in Americas",
            "A2 Instance Core running in Americas",
            "A2 Instance Ram running in Americas",
        ),
        "Preemptible": (
            "Nvidia Tesla A100 GPU attached to Spot Preemptible VMs running in Americas",
            "Spot Preemptible A2 Instance Core running in Americas",
            "Spot Preemptible A2 Instance Ram running in Americas",
        ),
        "Commit1Yr": (
            "Commitment v1: Nvidia Tesla A100 GPU running in Americas for 1 Year",
            "Commitment v1: A2 Cpu in Americas for 1 Year",
            "Commitment v1: A2 Ram in Americas for 1 Year",
        ),
        "Commit3Yr": (
            "Commitment v1: Nvidia Tesla A100 GPU running in Americas for 3 Year",
            "Commitment v1: A2 Cpu in Americas for 3 Year",
            "Commitment v1: A2 Ram in Americas for 3 Year",
        ),
    }
    for usage, (gpu, core, ram) in names.items():
        for desc, price, unit, group in zip(
            (gpu, core, ram), A2[usage], ("h", "h", "GiBy.h"), ("GPU", "CPU", "RAM"), strict=True
        ):
            i += 1
            out.append(_sku(i, desc, usage, *_money(price), unit=unit, group=group))
    out.append(
        _sku(90, "Nvidia L4 GPU running in Americas", "OnDemand", 0, 560000000)
    )  # no G2 core/ram SKUs
    out.append(
        _sku(
            91,
            "N1 Predefined Instance Core running in Americas",
            "OnDemand",
            0,
            31611000,
            group="N1Standard",
        )
    )
    out.append(
        _sku(92, "Storage PD Capacity", "OnDemand", 0, 40000000, unit="GiBy.mo", group="PDStandard")
    )
    return out


SKUS = _skus()
STANDARD_FIELDS = [
    ("billing_account_id", "STRING"),
    ("service_description", "STRING"),
    ("sku_id", "STRING"),
    ("sku_description", "STRING"),
    ("usage_start_time", "TIMESTAMP"),
    ("usage_end_time", "TIMESTAMP"),
    ("project_id", "STRING"),
    ("region", "STRING"),
    ("zone", "STRING"),
    ("resource_name", "STRING"),
    ("cost", "FLOAT"),
    ("cost_at_list", "FLOAT"),
    ("currency", "STRING"),
    ("pricing_quantity", "FLOAT"),
    ("pricing_unit", "STRING"),
    ("cost_type", "STRING"),
    ("invoice_month", "STRING"),
    ("credits_total", "FLOAT"),
    ("cud_credits", "FLOAT"),
    ("labels_json", "STRING"),
]
T1 = int(dt.datetime(2026, 9, 3, tzinfo=dt.UTC).timestamp() * 1_000_000)
HOUR = 3_600_000_000


def _std(sku, desc, cost, credits, cud, cost_type="regular", labels=None, listc=None) -> list:
    return [
        "01A2B3-C4D5E6-F7A8B9",
        "Compute Engine",
        sku,
        desc,
        T1,
        T1 + HOUR,
        "infer-prod",
        "us-central1",
        "us-central1-a",
        "//compute.googleapis.com/projects/infer-prod/zones/us-central1-a/instances/gpu-1",
        cost,
        listc if listc is not None else cost,
        "USD",
        24.0,
        "hour",
        cost_type,
        "202609",
        credits,
        cud,
        json.dumps(labels or []),
    ]


STANDARD_ROWS = [
    [
        _std(
            "SKU-0001",
            "Nvidia Tesla A100 GPU running in Americas",
            70.41,
            0.0,
            0.0,
            labels=[{"key": "service", "value": "chat-llm"}],
        )
    ],
    [
        _std(
            "SKU-0090",
            "Nvidia L4 GPU attached to Spot Preemptible VMs running in Americas",
            5.0,
            -1.0,
            0.0,
            labels=[{"key": "service", "value": "image-gen"}],
        ),
        _std("SKU-0002", "A2 Instance Core running in Americas", 9.10, -3.5, -3.5),
    ],
    [
        _std("SKU-0008", "Commitment v1: A2 Cpu in Americas for 1 Year", 14.0, 0.0, 0.0),
        _std("", "Tax", 2.2, 0.0, 0.0, cost_type="tax"),
    ],
]
STANDARD_BILLED = 70.41 + 4.0 + 5.6 + 14.0 + 2.2
FOCUS_FIELDS = [
    ("BilledCost", "NUMERIC"),
    ("EffectiveCost", "NUMERIC"),
    ("ListCost", "NUMERIC"),
    ("ContractedCost", "NUMERIC"),
    ("BillingCurrency", "STRING"),
    ("BillingPeriodStart", "TIMESTAMP"),
    ("BillingPeriodEnd", "TIMESTAMP"),
    ("ChargePeriodStart", "TIMESTAMP"),
    ("ChargePeriodEnd", "TIMESTAMP"),
    ("ChargeCategory", "STRING"),
    ("ChargeFrequency", "STRING"),
    ("PricingCategory", "STRING"),
    ("ProviderName", "STRING"),
    ("PublisherName", "STRING"),
    ("InvoiceIssuerName", "STRING"),
    ("BillingAccountId", "STRING"),
    ("SubAccountId", "STRING"),
    ("ResourceId", "STRING"),
    ("RegionId", "STRING"),
    ("ServiceName", "STRING"),
    ("ServiceCategory", "STRING"),
    ("SkuId", "STRING"),
    ("Tags", "JSON"),
    ("x_Credits", "STRING"),
]
P0 = int(dt.datetime(2026, 9, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
P1 = int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)


def _focus(cost: str, tags: dict | None, pricing: str = "Standard") -> list:
    return [
        cost,
        cost,
        cost,
        cost,
        "USD",
        P0,
        P1,
        T1,
        T1 + HOUR,
        "Usage",
        "Usage-Based",
        pricing,
        "Google Cloud",
        "Google Cloud",
        "Google",
        "01A2B3-C4D5E6-F7A8B9",
        "infer-prod",
        "gpu-1",
        "us-central1",
        "Compute Engine",
        "Compute",
        "SKU-0001",
        json.dumps(tags) if tags is not None else None,
        "[]",
    ]


FOCUS_ROWS = [
    [_focus("12.5", {"service": "chat-llm"}), _focus("0.75", None, "Dynamic")],
    [_focus("100.25", {"service": "embeddings"})],
]


class FakeGoogle(JsonHandler):
    mode = "ok"
    sku_calls = 0
    jobs: dict[str, str] = {}
    query_calls: list[str] = []

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        cls = type(self)
        if url.path == "/v1/services/6F81-5844-456A/skus":
            cls.sku_calls += 1
            if cls.mode == "forbidden":
                return self.send(
                    403,
                    {
                        "error": {
                            "code": 403,
                            "message": "The caller does not have permission",
                            "status": "PERMISSION_DENIED",
                        }
                    },
                )
            if cls.mode == "throttle-once":
                cls.mode = "ok"
                return self.send(
                    429,
                    {
                        "error": {
                            "code": 429,
                            "message": "Quota exceeded",
                            "status": "RESOURCE_EXHAUSTED",
                        }
                    },
                    {"Retry-After": "3"},
                )
            page = int(q.get("pageToken", ["0"])[0] or 0)
            half = len(SKUS) // 2
            body = {"skus": SKUS[:half]} if page == 0 else {"skus": SKUS[half:]}
            if page == 0:
                body["nextPageToken"] = "1"
            return self.send(200, body)
        if "/tables/" in url.path:
            table = url.path.rsplit("/", 1)[1]
            fields = (
                FOCUS_FIELDS
                if table == "focus_view"
                else [("billing_account_id", "STRING"), ("cost", "FLOAT"), ("resource", "RECORD")]
            )
            return self.send(
                200,
                {
                    "tableReference": {
                        "projectId": "infer-prod",
                        "datasetId": "billing",
                        "tableId": table,
                    },
                    "schema": {"fields": [{"name": n, "type": t} for n, t in fields]},
                },
            )
        if "/queries/" in url.path:
            job = url.path.rsplit("/", 1)[1]
            kind = cls.jobs[job]
            pages, fields = (
                (FOCUS_ROWS, FOCUS_FIELDS) if kind == "focus" else (STANDARD_ROWS, STANDARD_FIELDS)
            )
            page = int(q.get("pageToken", ["0"])[0])
            body = {
                "kind": "bigquery#getQueryResultsResponse",
                "jobComplete": True,
                "totalRows": str(sum(map(len, pages))),
                "jobReference": {"projectId": "infer-prod", "jobId": job, "location": "US"},
                "schema": {
                    "fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in fields]
                },
                "rows": [
                    {"f": [{"v": None if v is None else str(v)} for v in row]}
                    for row in pages[page]
                ],
            }
            if page + 1 < len(pages):
                body["pageToken"] = str(page + 1)
            return self.send(200, body)
        self.send(404, {"error": {"code": 404, "message": f"no route {url.path}"}})

    def do_POST(self):  # noqa: N802
        if self.path.startswith("/token"):  # OAuth 2.0 token endpoint (service-account JWT grant)
            self.body()
            return self.send(
                200,
                {"access_token": "test-access-token", "expires_in": 3600, "token_type": "Bearer"},
            )
        req = json.loads(self.body())
        cls = type(self)
        query = req["configuration"]["query"]["query"]
        params = {
            p["name"]: p["parameterValue"]["value"]
            for p in req["configuration"]["query"].get("queryParameters", [])
        }
        kind = "focus" if "focus_view" in query else "standard"
        cls.query_calls.append(kind)
        if kind == "standard":
            assert (
                params == {"invoice_month": "202609"}
                and "UNNEST(credits)" in query
                and "resource.global_name" in query
            )
        else:
            assert params["period_start"].startswith("2026-09-01")
        job = req["jobReference"]["jobId"]
        cls.jobs[job] = kind
        self.send(
            200,
            {
                "kind": "bigquery#job",
                "jobReference": {"projectId": "infer-prod", "jobId": job, "location": "US"},
                "status": {"state": "DONE"},
                "configuration": req["configuration"],
            },
        )


@pytest.fixture(scope="module")
def google_url():
    with serve(FakeGoogle) as (url, _):
        yield url


def _client(url: str, sleeps: list | None = None) -> GcpClient:
    policy = RetryPolicy(
        attempts=3, base_s=0.0, sleep=(sleeps.append if sleeps is not None else (lambda s: None))
    )
    return GcpClient(
        project="infer-prod",
        credentials=AnonymousCredentials(),
        catalog_endpoint=url,
        bigquery_endpoint=url,
        policy=policy,
    )


SHAPES = [
    MachineShape("a2-highgpu-1g", "a100", 1, 12, 85, "us-central1"),
    MachineShape("g2-standard-4", "l4", 1, 4, 16, "us-central1"),
]


def _expected(usage: str) -> float:
    gpu, core, ram = A2[usage]
    return round(1 * gpu + 12 * core + 85 * ram, 6)


def test_list_skus_pages_and_prices_machines_by_component(google_url):
    from costmodels.catalog import PriceCatalog

    FakeGoogle.mode, FakeGoogle.sku_calls = "ok", 0
    rows, notes = fetch_gcp_prices(_client(google_url), SHAPES)
    assert FakeGoogle.sku_calls == 2  # nextPageToken followed
    assert len(rows) == 1 and rows[0]["instance_type"] == "a2-highgpu-1g"
    a2 = rows[0]
    assert (
        a2["ondemand_usd_per_hour"] == _expected("OnDemand") == 3.673385
    )  # equals the published list price
    assert a2["spot_usd_per_hour"] == _expected("Preemptible")
    assert a2["commit_1y_usd_per_hour"] == _expected("Commit1Yr")
    assert a2["commit_3y_usd_per_hour"] == _expected("Commit3Yr")
    assert any("g2-standard-4 in us-central1: no OnDemand SKU for core, ram" in n for n in notes)
    catalog = PriceCatalog.load_default()
    assert catalog.update_prices(rows, source=SOURCE).updated == 1
    offer = catalog.offer("gcp", "a2-highgpu-1g", "us-central1")
    assert offer.spot_usd_per_hour == _expected("Preemptible") and offer.spot_price_source == SOURCE


def test_throttled_list_skus_waits_retry_after_then_succeeds(google_url):
    FakeGoogle.mode, FakeGoogle.sku_calls = "throttle-once", 0
    sleeps: list[float] = []
    rows, _ = fetch_gcp_prices(_client(google_url, sleeps), SHAPES)
    assert sleeps == [3.0] and FakeGoogle.sku_calls == 3 and len(rows) == 1


def test_permission_denied_fails_fast(google_url):
    FakeGoogle.mode, FakeGoogle.sku_calls = "forbidden", 0
    sleeps: list[float] = []
    with pytest.raises(AuthError, match="access refused"):
        fetch_gcp_prices(_client(google_url, sleeps), SHAPES)
    assert FakeGoogle.sku_calls == 1 and sleeps == []
    FakeGoogle.mode = "ok"


def test_bigquery_standard_export_maps_credits_commitments_and_labels(google_url):
    FakeGoogle.query_calls = []
    conn = BigQueryBillingConnector(
        "infer-prod.billing.gcp_billing_export_resource_v1_01A2B3", _client(google_url), page_size=2
    )
    batches = list(conn.read_period(SEPT).batches)
    assert len(batches) == 3  # one per result page (pageToken followed)
    table = pa.Table.from_batches(batches)
    assert math.isclose(sum(table["BilledCost"].to_pylist()), STANDARD_BILLED)
    rows = {r["ChargeDescription"]: r for r in table.to_pylist()}
    gpu = rows["Nvidia Tesla A100 GPU running in Americas"]
    assert gpu["PricingCategory"] == "Standard" and json.loads(gpu["Tags"]) == {
        "service": "chat-llm"
    }
    assert gpu["ChargePeriodStart"] == dt.datetime(2026, 9, 3, tzinfo=dt.UTC) and gpu[
        "BillingPeriodStart"
    ] == dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    assert (
        gpu["ResourceId"].endswith("/instances/gpu-1")
        and gpu["ServiceProviderName"] == "Google Cloud"
    )
    spot = rows["Nvidia L4 GPU attached to Spot Preemptible VMs running in Americas"]
    assert (
        spot["PricingCategory"] == "Dynamic"
        and spot["BilledCost"] == 4.0
        and spot["ListCost"] == 5.0
    )
    core = rows["A2 Instance Core running in Americas"]
    assert core["PricingCategory"] == "Committed" and math.isclose(core["BilledCost"], 5.6)
    fee = rows["Commitment v1: A2 Cpu in Americas for 1 Year"]
    assert fee["ChargeCategory"] == "Purchase" and fee["PricingCategory"] == "Committed"
    assert rows["Tax"]["ChargeCategory"] == "Tax" and rows["Tax"]["PricingCategory"] is None


def test_bigquery_focus_view_is_validated_as_focus(google_url):
    FakeGoogle.query_calls = []
    conn = BigQueryBillingConnector("bq://infer-prod.billing.focus_view", _client(google_url))
    table = pa.Table.from_batches(list(conn.read_period(SEPT).batches))
    assert FakeGoogle.query_calls == ["focus"]
    assert table.num_rows == 3 and math.isclose(
        sum(table["BilledCost"].to_pylist()), 12.5 + 0.75 + 100.25
    )
    tags = [json.loads(t) if t else None for t in table["Tags"].to_pylist()]
    assert tags == [{"service": "chat-llm"}, None, {"service": "embeddings"}]
    assert json.loads(table["x_Extensions"][0].as_py()) == {"x_Credits": "[]"}
    assert conn.test_connection()[0].detail.endswith("FOCUS view, 24 columns")


def test_sku_components_are_recognised():
    assert component({"description": "Nvidia H100 80GB GPU running in Americas"}) == (
        "gpu",
        "h100-80gb",
    )
    assert component({"description": "Nvidia H100 80GB Mega GPU running in Americas"}) == (
        "gpu",
        "h100-80gb-mega",
    )
    assert component({"description": "Nvidia A100 80GB GPU running in Belgium"}) == (
        "gpu",
        "a100-80gb",
    )
    assert component({"description": "G2 Instance Ram running in Iowa"}) == ("ram", "G2")
    assert component({"description": "Commitment v1: A3 Cpu in Americas for 3 Year"}) == (
        "core",
        "A3",
    )
    assert component({"description": "Storage PD Capacity"}) is None
