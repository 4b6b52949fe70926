"""S3 object reads go through the AWS client module (issue #14, item 6): a FOCUS file read from
s3:// uses the client's timeouts with the SDK's own retries off, throttling and 5xx answers are
retried by the shared policy (and reported as transient when they persist), and a missing
object is a clear error raised at once, never retried.

moto's S3 server stores the objects; a small forwarding proxy in front of it answers chosen
requests with S3's own error responses (moto has no throttling of its own)."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import boto3
import pytest

from fixtures_gen.focus_files import write_focus_file
from ingest.aws.client import AwsClient
from ingest.errors import IngestError, ObjectNotFoundError, TransientError
from ingest.focus import open_focus
from ingest.retry import RetryPolicy, classify
from ingest.sources import S3Source
from tests.ingest.aws_data import moto_endpoint
from tests.ingest.local_servers import serve

BUCKET = "focus-exports"
KEY = "focus/2026/export.csv"

SLOW_DOWN = (
    503,
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>",
)
INTERNAL_ERROR = (
    500,
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>",
)


class FaultyS3Proxy(BaseHTTPRequestHandler):
    """Forwards every request to moto, except that a request whose method and path match a
    ``faults`` entry ``(method, key)`` gets the next queued (status, body) answer instead.
    ``seen`` logs (method, path) of every request received."""

    upstream = ""
    faults: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def _handle(self) -> None:
        with self.lock:
            self.seen.append((self.command, self.path))
            fault = next(
                (
                    queue.pop(0)
                    for (method, key), queue in self.faults.items()
                    if method == self.command and key in self.path and queue
                ),
                None,
            )
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        if fault is not None:
            status, payload = fault
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        up = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def s3_behind_proxy(tmp_path_factory):
    with moto_endpoint() as moto_url:
        s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        local = write_focus_file(
            tmp_path_factory.mktemp("s3reads") / "export.csv", version="1.2", rows=1500, seed=5
        )
        s3.upload_file(str(local.path), BUCKET, KEY)
        FaultyS3Proxy.upstream = moto_url
        with serve(FaultyS3Proxy) as (proxy_url, _):
            yield proxy_url, local


@pytest.fixture
def proxy(s3_behind_proxy):
    FaultyS3Proxy.faults = {}
    FaultyS3Proxy.seen = []
    return s3_behind_proxy


def _client(proxy_url: str, waits: list[float], attempts: int = 4) -> AwsClient:
    policy = RetryPolicy(attempts=attempts, timeout_s=4.5, sleep=waits.append)
    return AwsClient(endpoint_url=proxy_url, policy=policy)


def test_an_s3_focus_read_goes_through_the_aws_client_and_its_timeouts(proxy):
    proxy_url, local = proxy
    uri = f"s3://{BUCKET}/{KEY}"
    table = open_focus(uri, storage_options={"endpoint_url": proxy_url, "timeout_s": 4.5})
    assert table.read_all().equals(open_focus(local.path).read_all())
    source = S3Source(uri, {"endpoint_url": proxy_url, "timeout_s": 4.5})
    config = source.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (4.5, 4.5)
    assert config.retries["total_max_attempts"] == 1  # retries happen once, in ingest.retry
    assert source.aws.policy.timeout_s == 4.5


def test_throttling_and_5xx_answers_are_retried_then_the_read_completes(proxy):
    proxy_url, local = proxy
    FaultyS3Proxy.faults = {("HEAD", KEY): [SLOW_DOWN], ("GET", KEY): [INTERNAL_ERROR, SLOW_DOWN]}
    waits: list[float] = []
    aws = _client(proxy_url, waits)
    stream = open_focus(f"s3://{BUCKET}/{KEY}", storage_options=aws.storage_options())
    assert stream.read_all().equals(open_focus(local.path).read_all())
    # HEAD answered 503 (retried), then the first ranged GET 500 and 503 (retried twice)
    assert len(waits) == 3
    methods = [m for m, path in FaultyS3Proxy.seen if KEY in path]
    assert methods[:4] == ["HEAD", "HEAD", "GET", "GET"]


def test_a_persistent_5xx_is_reported_as_transient_naming_the_object(proxy):
    proxy_url, _ = proxy
    FaultyS3Proxy.faults = {("HEAD", KEY): [INTERNAL_ERROR] * 3}
    waits: list[float] = []
    with pytest.raises(TransientError, match=f"s3://{BUCKET}/{KEY}") as caught:
        S3Source(f"s3://{BUCKET}/{KEY}", {"aws_client": _client(proxy_url, waits, attempts=3)})
    assert classify(caught.value.__cause__) == "transient"
    assert len(waits) == 2 and len(FaultyS3Proxy.seen) == 3


def test_a_missing_object_is_a_clear_error_raised_at_once(proxy):
    proxy_url, _ = proxy
    waits: list[float] = []
    aws = _client(proxy_url, waits)
    missing = "focus/2026/absent.csv"
    with pytest.raises(ObjectNotFoundError, match="no such S3 object") as caught:
        open_focus(f"s3://{BUCKET}/{missing}", storage_options=aws.storage_options())
    assert isinstance(caught.value, IngestError) and isinstance(caught.value, FileNotFoundError)
    assert f"s3://{BUCKET}/{missing}" in str(caught.value)
    assert classify(caught.value.__cause__) == "other"  # not retryable
    assert waits == [] and [p for _, p in FaultyS3Proxy.seen if missing in p] == [
        f"/{BUCKET}/{missing}"
    ]


def test_unknown_s3_storage_options_are_refused_by_name():
    from ingest.errors import StoreConfigError

    with pytest.raises(StoreConfigError, match="aws_secret_access_key"):
        S3Source(f"s3://{BUCKET}/{KEY}", {"aws_secret_access_key": "x"})
