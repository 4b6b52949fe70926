"""moto's S3 server as a separate process (`moto_server`), on loopback or on any address a test
network namespace can reach; a bucket in it; the environment a process needs to use it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CREDENTIALS = {  # moto accepts any; real deployments use the SDK's default chain
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None, log: Path | None = None):
        self.host, self.port = host, port or free_port(host)
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, prefix: list[str] | None = None) -> MotoServer:
        """Start `moto_server` (optionally under `prefix`, e.g. ``ip netns exec NS``)."""
        exe = str(Path(sys.executable).with_name("moto_server"))
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*(prefix or []), exe, "-H", self.host, "-p", str(self.port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"moto_server exited with {self.proc.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"moto_server did not listen on {self.url} within 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def env(self) -> dict[str, str]:
        return {**CREDENTIALS, "LINE_ITEM_STORE_ENDPOINT": self.url, "AWS_ENDPOINT_URL": self.url}
