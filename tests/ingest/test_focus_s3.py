"""Reading FOCUS files from s3:// against moto's S3 server over real HTTP.

boto3 is used unchanged: the endpoint comes from ``AWS_ENDPOINT_URL`` as it would for
any S3-compatible store, and the reader streams the object (CSV) or fetches byte
ranges (Parquet) rather than downloading it whole.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import boto3
import pytest

from fixtures_gen.focus_files import write_focus_file
from ingest.focus import FocusValidationError, open_focus
from ingest.sources import S3Source

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

BUCKET = "billing-exports"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    local = {}
    d = tmp_path_factory.mktemp("s3src")
    for fmt in ("csv", "csv.gz", "parquet"):
        g = write_focus_file(
            d / f"f.{fmt}", version="1.1", rows=2500, seed=21, periods=2, batch_rows=1000
        )
        client.upload_file(str(g.path), BUCKET, f"focus/2026/export.{fmt}")
        local[fmt] = g
    client.put_object(Bucket=BUCKET, Key="focus/noext", Body=local["parquet"].path.read_bytes())
    client.put_object(Bucket=BUCKET, Key="focus/empty.csv", Body=b"")
    yield client, env, local
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_s3_object_reads_like_the_local_file(s3, fmt):
    _, _, local = s3
    stream = open_focus(f"s3://{BUCKET}/focus/2026/export.{fmt}", batch_rows=600)
    assert stream.bytes_total == local[fmt].path.stat().st_size
    remote = stream.read_all()
    assert stream.version == "1.1"
    assert remote.equals(open_focus(local[fmt].path, batch_rows=600).read_all())
    total = math.fsum(remote["BilledCost"].to_pylist())
    assert round(total, 2) == round(local[fmt].billed_cost_total, 2)
    assert stream.bytes_read == stream.bytes_total


def test_parquet_is_detected_without_a_suffix(s3):
    stream = open_focus(f"s3://{BUCKET}/focus/noext")
    assert stream.format == "parquet"
    assert stream.read_all().num_rows == 2500


def test_parquet_on_s3_is_read_by_ranges_not_downloaded_whole(s3):
    client, _, _ = s3
    src = S3Source(f"s3://{BUCKET}/focus/2026/export.parquet")
    calls = []
    src.client.meta.events.register(
        "provide-client-params.s3.GetObject",
        lambda params, **kw: calls.append(params.get("Range")),
    )
    f = src.open_random_access()
    f.seek(-8, 2)
    assert f.read(8)[-4:] == b"PAR1"
    assert calls and all(r is not None and r.startswith("bytes=") for r in calls)


def test_missing_object_and_empty_object(s3):
    with pytest.raises(FileNotFoundError, match="no such S3 object"):
        open_focus(f"s3://{BUCKET}/focus/absent.csv")
    with pytest.raises(FocusValidationError, match="empty"):
        open_focus(f"s3://{BUCKET}/focus/empty.csv")


def test_explicit_endpoint_in_storage_options(s3):
    _, env, _ = s3
    options = {"endpoint_url": env["AWS_ENDPOINT_URL"], "region_name": "us-east-1"}
    stream = open_focus(f"s3://{BUCKET}/focus/2026/export.csv", storage_options=options)
    assert stream.read_all().num_rows == 2500


def test_cli_validates_an_s3_object(s3):
    _, env, _ = s3
    proc = subprocess.run(
        [sys.executable, "-m", "ingest", "validate", f"s3://{BUCKET}/focus/2026/export.csv.gz"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid FOCUS 1.1" in proc.stdout and "2,500" in proc.stdout
