"""Azure connectors through the real SDK clients (azure-mgmt-costmanagement, azure-storage-blob)
against a local HTTPS server returning the documented response shapes: Query results with
nextLink paging, a 429 with Retry-After, a 401; Blob container listings (XML, NextMarker
paging) and ranged downloads of a FOCUS cost export."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import math
import time
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pyarrow as pa
import pytest
from azure.core.credentials import AccessToken

from fixtures_gen.focus_files import write_focus_file
from ingest.azure import AzureClient, AzureExportConnector, AzureQueryConnector, split_blob_url
from ingest.retry import AuthError, RetryPolicy
from tests.ingest.local_servers import JsonHandler, serve

SEPT = dt.date(2026, 9, 1)
SCOPE = "/subscriptions/sub-1"
COLUMNS = [
    "Cost",
    "UsageQuantity",
    "UsageDate",
    "ResourceGroupName",
    "ResourceId",
    "MeterCategory",
    "Meter",
    "PricingModel",
    "ChargeType",
    "TagKey",
    "TagValue",
    "Currency",
]
VM1 = "/subscriptions/sub-1/resourcegroups/rg-llm/providers/microsoft.compute/virtualmachines/gpu-1"
VM2 = "/subscriptions/sub-1/resourcegroups/rg-llm/providers/microsoft.compute/virtualmachines/gpu-2"
SPOT = (
    "/subscriptions/sub-1/resourcegroups/rg-img/providers/microsoft.compute/virtualmachines/spot-1"
)


def _row(cost, qty, day, rg, rid, meter, model, charge, tag):
    return [
        cost,
        qty,
        day,
        rg,
        rid,
        "Virtual Machines",
        meter,
        model,
        charge,
        "service",
        tag,
        "USD",
    ]


PAGES = {
    "ActualCost": [
        [_row(120.0, 24, 20260901, "rg-llm", VM1, "NC24ads A100 v4", "OnDemand", "Usage", "chat-llm"),
         _row(30.0, 24, 20260901, "rg-img", SPOT, "NV36ads A10 v5 Spot", "Spot", "Usage", "image-gen"),
         _row(1000.0, 1, 20260901, "rg-llm", "", "Reservation-Base", "Reservation", "Purchase", None)],
        [_row(125.0, 24, 20260902, "rg-llm", VM1, "NC24ads A100 v4", "OnDemand", "Usage", "chat-llm"),
         _row(0.0, 24, 20260902, "rg-llm", VM2, "NC24ads A100 v4", "Reservation", "Usage", "chat-llm")],
    ],
    "AmortizedCost": [
        [_row(120.0, 24, 20260901, "rg-llm", VM1, "NC24ads A100 v4", "OnDemand", "Usage", "chat-llm"),
         _row(30.0, 24, 20260901, "rg-img", SPOT, "NV36ads A10 v5 Spot", "Spot", "Usage", "image-gen")],
        [_row(125.0, 24, 20260902, "rg-llm", VM1, "NC24ads A100 v4", "OnDemand", "Usage", "chat-llm"),
         _row(33.33, 24, 20260902, "rg-llm", VM2, "NC24ads A100 v4", "Reservation", "Usage", "chat-llm")],
    ],
}  # fmt: skip
BILLED = 120.0 + 30.0 + 1000.0 + 125.0 + 0.0
EFFECTIVE = 120.0 + 30.0 + 125.0 + 33.33


class FakeAzure(JsonHandler):
    """Resource Manager Query endpoint and a Blob container ``exports`` in account ``devacct``."""

    mode = "ok"  # "throttle-once" | "unauthorized"
    query_calls: list[str] = []
    blobs: dict[str, tuple[bytes, str]] = {}  # name -> (content, last-modified http date)
    list_calls = 0

    def do_POST(self):  # noqa: N802
        body = json.loads(self.body() or b"{}")
        cls = type(self)
        url = urlsplit(self.path)
        assert url.path == f"{SCOPE}/providers/Microsoft.CostManagement/query", url.path
        assert self.headers["Authorization"] == "Bearer test-token"
        assert "api-version" in parse_qs(url.query)
        cls.query_calls.append(body["type"])
        if cls.mode == "unauthorized":
            return self.send(
                401,
                {"error": {"code": "AuthenticationFailed", "message": "Authentication failed."}},
            )
        if cls.mode == "throttle-once":
            cls.mode = "ok"
            return self.send(
                429,
                {"error": {"code": "429", "message": "Too many requests. Please retry."}},
                {"Retry-After": "7"},
            )
        assert body["dataset"]["granularity"] == "Daily" and body["timeframe"] == "Custom"
        page = 1 if "$skiptoken" in parse_qs(url.query) else 0
        next_link = None
        if page == 0:
            next_link = f"https://{self.headers['Host']}{SCOPE}/providers/Microsoft.CostManagement/query?api-version=2025-03-01&$skiptoken=p2"
        self.send(
            200,
            {
                "id": f"{SCOPE}/providers/Microsoft.CostManagement/query/q1",
                "name": "q1",
                "type": "Microsoft.CostManagement/query",
                "properties": {
                    "nextLink": next_link,
                    "columns": [
                        {
                            "name": c,
                            "type": "Number"
                            if c in ("Cost", "UsageQuantity", "UsageDate")
                            else "String",
                        }
                        for c in COLUMNS
                    ],
                    "rows": PAGES[body["type"]][page],
                },
            },
        )

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path == "/msi/token":  # App Service managed-identity endpoint (IDENTITY_ENDPOINT)
            assert self.headers["X-IDENTITY-HEADER"] == "identity-secret"
            return self.send(
                200,
                {
                    "access_token": "test-token",
                    "expires_on": str(int(time.time()) + 3600),
                    "resource": q["resource"][0],
                    "token_type": "Bearer",
                },
            )
        assert self.headers["Authorization"] == "Bearer test-token"
        if q.get("comp") == ["list"]:
            return self._list(q)
        name = url.path.removeprefix("/devacct/exports/")
        content, modified = type(self).blobs[name]
        rng = self.headers.get("x-ms-range") or self.headers.get("Range")
        start, end = 0, len(content) - 1
        if rng:
            a, _, b = rng.removeprefix("bytes=").partition("-")
            start, end = int(a), min(int(b) if b else end, len(content) - 1)
        etag = '"0x' + hashlib.md5(content).hexdigest()[:16].upper() + '"'
        headers = {
            "ETag": etag,
            "Last-Modified": modified,
            "x-ms-blob-type": "BlockBlob",
            "x-ms-version": "2025-01-05",
            "Accept-Ranges": "bytes",
        }
        if rng:
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
        self.send(
            206 if rng else 200, content[start : end + 1], headers, "application/octet-stream"
        )

    def _list(self, q):
        cls = type(self)
        cls.list_calls += 1
        prefix = q.get("prefix", [""])[0]
        names = sorted(n for n in cls.blobs if n.startswith(prefix))
        marker = q.get("marker", [""])[0]
        start = names.index(marker) if marker else 0
        page, rest = (
            names[start : start + 2],
            names[start + 2 :],
        )  # two per page: exercise NextMarker
        items = "".join(
            f"<Blob><Name>{escape(n)}</Name><Properties><Last-Modified>{cls.blobs[n][1]}</Last-Modified>"
            f"<Etag>0x{hashlib.md5(cls.blobs[n][0]).hexdigest()[:16].upper()}</Etag><Content-Length>{len(cls.blobs[n][0])}</Content-Length>"
            f"<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType></Properties></Blob>"
            for n in page
        )
        xml = (
            f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://{self.headers["Host"]}/devacct/" ContainerName="exports">'
            f"<Prefix>{escape(prefix)}</Prefix><Blobs>{items}</Blobs><NextMarker>{rest[0] if rest else ''}</NextMarker></EnumerationResults>"
        )
        self.send(200, xml.encode(), {"x-ms-version": "2025-01-05"}, "application/xml")


class StaticToken:
    """A TokenCredential (azure-core protocol) that hands out a fixed bearer token."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("test-token", int(time.time()) + 3600)


@pytest.fixture(scope="module")
def azure():
    with serve(FakeAzure, tls=True) as (url, ca):
        yield url, ca


def _client(azure, sleeps=None) -> AzureClient:
    url, ca = azure
    policy = RetryPolicy(
        attempts=3, base_s=0.0, sleep=(sleeps.append if sleeps is not None else (lambda s: None))
    )
    return AzureClient(
        StaticToken(), arm_endpoint=url, policy=policy, connection_verify=ca, blob_test_endpoint=url
    )


def test_query_joins_actual_and_amortized_over_paged_results(azure):
    FakeAzure.mode, FakeAzure.query_calls = "ok", []
    conn = AzureQueryConnector(SCOPE, _client(azure), today=dt.date(2026, 9, 30))
    table = pa.Table.from_batches(list(conn.read_period(SEPT).batches))
    assert FakeAzure.query_calls == [
        "ActualCost",
        "ActualCost",
        "AmortizedCost",
        "AmortizedCost",
    ]  # 2 pages each
    assert table.num_rows == 5
    assert math.isclose(sum(table["BilledCost"].to_pylist()), BILLED)
    assert math.isclose(sum(table["EffectiveCost"].to_pylist()), EFFECTIVE)
    rows = table.to_pylist()
    purchase = [r for r in rows if r["ChargeCategory"] == "Purchase"][0]
    assert (
        purchase["BilledCost"] == 1000.0
        and purchase["EffectiveCost"] == 0.0
        and purchase["Tags"] is None
    )
    ri = [r for r in rows if r["ResourceId"] == VM2][0]
    assert (
        ri["PricingCategory"] == "Committed"
        and ri["BilledCost"] == 0.0
        and ri["EffectiveCost"] == 33.33
    )
    spot = [r for r in rows if r["ResourceId"] == SPOT][0]
    assert spot["PricingCategory"] == "Dynamic" and json.loads(spot["Tags"]) == {
        "service": "image-gen"
    }
    assert spot["ChargePeriodStart"] == dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    assert spot["ChargePeriodEnd"] == dt.datetime(2026, 9, 2, tzinfo=dt.UTC)
    assert spot["ServiceName"] == "Virtual Machines" and spot["ServiceProviderName"] == "Microsoft"
    assert json.loads(spot["x_Extensions"])["x_ResourceGroup"] == "rg-img"
    check = conn.test_connection()[0]
    assert check.ok and "3 cost row(s) on the first page" in check.detail


def test_throttled_query_honours_retry_after_then_succeeds(azure):
    FakeAzure.mode, FakeAzure.query_calls = "throttle-once", []
    sleeps: list[float] = []
    conn = AzureQueryConnector(SCOPE, _client(azure, sleeps), today=dt.date(2026, 9, 30))
    table = pa.Table.from_batches(list(conn.read_period(SEPT).batches))
    assert sleeps == [7.0]  # the server's Retry-After, not our own backoff
    assert FakeAzure.query_calls[:2] == ["ActualCost", "ActualCost"]  # the 429, then the retry
    assert math.isclose(sum(table["BilledCost"].to_pylist()), BILLED)


def test_unauthorized_query_fails_fast(azure):
    FakeAzure.mode, FakeAzure.query_calls = "unauthorized", []
    sleeps: list[float] = []
    conn = AzureQueryConnector(SCOPE, _client(azure, sleeps), today=dt.date(2026, 9, 30))
    with pytest.raises(AuthError, match="access refused"):
        list(conn.read_period(SEPT).batches)
    assert FakeAzure.query_calls == ["ActualCost"] and sleeps == []
    FakeAzure.mode = "ok"


def _http_date(day: int) -> str:
    return email.utils.format_datetime(dt.datetime(2026, 9, day, tzinfo=dt.UTC), usegmt=True)


def test_focus_cost_export_newest_run_is_read_and_unchanged_runs_skipped(azure, tmp_path):
    old = write_focus_file(
        tmp_path / "old.parquet", version="1.0", rows=50, start="2026-09-01", seed=1
    )
    new = write_focus_file(
        tmp_path / "new.parquet", version="1.0", rows=300, start="2026-09-01", seed=2
    )
    base = "focus/gpu-focus/20260901-20260930"
    FakeAzure.blobs = {}
    for run, gen, day in (("run-0", old, 2), ("run-1", new, 9)):
        part = f"{base}/{run}/part_0_0001.parquet"
        manifest = {
            "manifestVersion": "2024-04-01",
            "exportConfig": {"exportName": "gpu-focus", "type": "FocusCost", "dataVersion": "1.0"},
            "runInfo": {
                "runId": run,
                "startDate": "2026-09-01T00:00:00",
                "endDate": "2026-09-30T00:00:00",
            },
            "blobs": [{"blobName": part, "byteCount": gen.path.stat().st_size}],
        }
        FakeAzure.blobs[part] = (gen.path.read_bytes(), _http_date(day))
        FakeAzure.blobs[f"{base}/{run}/manifest.json"] = (
            json.dumps(manifest).encode(),
            _http_date(day),
        )
    FakeAzure.list_calls = 0
    url, _ = azure
    conn = AzureExportConnector(f"{url}/devacct/exports/focus/gpu-focus", _client(azure))
    read = conn.read_period(SEPT)
    assert FakeAzure.list_calls == 2  # four blobs, two per page: NextMarker followed
    table = pa.Table.from_batches(list(read.batches))
    assert table.num_rows == new.rows == 300  # the newest run, not both
    assert math.isclose(sum(table["BilledCost"].to_pylist()), new.billed_cost_total, abs_tol=1e-6)
    again = conn.read_period(SEPT, known_fingerprint=read.fingerprint)
    assert again.unchanged
    assert conn.test_connection()[0].ok
    with pytest.raises(
        Exception, match=r"no export manifest for billing period 2026-08 \(periods found: 2026-09\)"
    ):
        conn.read_period(dt.date(2026, 8, 1))


def test_blob_url_forms():
    assert split_blob_url("https://acct.blob.core.windows.net/exports/focus/x") == (
        "https://acct.blob.core.windows.net",
        "exports",
        "focus/x",
    )
    assert split_blob_url(
        "https://127.0.0.1:10000/devacct/exports/p", "https://127.0.0.1:10000"
    ) == (
        "https://127.0.0.1:10000/devacct",
        "exports",
        "p",
    )
    with pytest.raises(Exception, match="container"):
        split_blob_url("https://acct.blob.core.windows.net/")
