"""A real Prometheus server (Debian package) over series backfilled with promtool, for system tests.

``backfilled_prometheus(tmp, openmetrics_text)`` writes the OpenMetrics text, turns it into TSDB
blocks with ``promtool tsdb create-blocks-from openmetrics``, serves it on a free local port and
yields the URL; the server is stopped on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import skip_or_fail


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def backfilled_prometheus(tmp: Path, openmetrics: str):
    prom, promtool = (
        shutil.which("prometheus") or "/usr/bin/prometheus",
        shutil.which("promtool") or "/usr/bin/promtool",
    )
    if not (Path(prom).exists() and Path(promtool).exists()):
        skip_or_fail(
            "the prometheus server and promtool binaries are not installed (apt-get install prometheus)"
        )
    (tmp / "series.om").write_text(openmetrics)
    subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(tmp / "series.om"),
            str(tmp / "tsdb"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (tmp / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = _free_port()
    proc = subprocess.Popen(
        [
            prom,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        else:
            pytest.fail("prometheus did not become ready in 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
