"""Benchmark: 50 concurrent API clients for 60 s against Headroom served by gunicorn on loopback.

Creates its own data (a temporary SQLite database, or DATABASE_URL if set, with the demo fleet:
30 days), a viewer token, and a gunicorn server bound to 127.0.0.1 only. Each client is a thread
with its own HTTP session cycling through read endpoints (cost rollups filtered by date and
service, summaries, fleet, ingest runs, health). Everything must answer 2xx: errors are counted
and reported (the run exits non-zero if there is any).

Baseline: the same request mix from ONE client for a short phase (unloaded latency); seconds =
p95 latency under load, baseline_seconds = single-client p95, so vs_baseline says how much p95
grows at 50 clients. Bounded: --seconds (default 60) plus ~30 s of set-up. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
PATHS = [
    "/api/v1/costs/?start=2026-09-01&end=2026-09-30&page_size=100",
    "/api/v1/costs/?service=chat-assistant&start=2026-09-15&end=2026-09-21",
    "/api/v1/costs/summary/?group_by=service&start=2026-09-01&end=2026-09-30",
    "/api/v1/costs/summary/?group_by=provider",
    "/api/v1/services/",
    "/api/v1/deployments/",
    "/api/v1/accounts/",
    "/api/v1/ingest-runs/",
    "/api/v1/period-loads/",
    "/healthz",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.stdout


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
        if ordered
        else float("nan")
    )


def drive(base: str, token: str, clients: int, seconds: float) -> dict:
    """`clients` threads, each looping over PATHS until `seconds` have passed."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(k: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        mine, bad, i = [], [], k
        while time.monotonic() < stop_at:
            path = PATHS[i % len(PATHS)]
            i += 1
            t0 = time.perf_counter()
            try:
                r = session.get(base + path, timeout=30)
                ok = 200 <= r.status_code < 300
                if not ok:
                    bad.append(f"{path} -> {r.status_code}")
            except requests.RequestException as exc:
                bad.append(f"{path} -> {type(exc).__name__}")
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        # what failed, by answer: "429", "500", "ReadTimeout", ...
        "error_kinds": dict(Counter(e.rsplit(" -> ", 1)[-1] for e in errors)),
        "wall_s": wall,
        "throughput_rps": len(latencies) / wall if wall else 0.0,
        "p50_s": statistics.median(latencies) if latencies else float("nan"),
        "p95_s": percentile(latencies, 95),
        "p99_s": percentile(latencies, 99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="load phase length (default 60)"
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument(
        "--database-url",
        default="",
        help="an EMPTY scratch database to migrate and seed (default: temporary SQLite)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="headroom-api-load-"))
    env = {
        **os.environ,
        "HEADROOM_VAR_DIR": str(tmp),
        "LINE_ITEM_STORE": str(tmp / "lineitems"),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
        # The clients share one token: the per-user throttle (2000/min by default) would answer
        # 429 to this one user at ~100 requests/s, which measures the throttle, not the API.
        "HEADROOM_API_THROTTLE_USER": "1000000/min",
    }
    # never the developer's DATABASE_URL: the bench migrates and seeds the database it uses
    env["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    t0 = time.monotonic()
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--days", "30", "--usage-step-min", "60")
    token = (
        manage(env, "issue_token", "bench-viewer", "--create-user", "viewer")
        .strip()
        .splitlines()[-1]
    )
    setup_s = time.monotonic() - t0

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "planner.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            "4",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(
                    f"gunicorn did not come up: {server.stderr.read() if server.poll() is not None else ''}"
                )
            time.sleep(0.3)
        drive(base, token, 2, 3.0)  # warm every worker's imports and caches
        single = drive(base, token, 1, min(10.0, max(3.0, args.seconds / 6)))
        loaded = drive(base, token, args.clients, args.seconds)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"set-up {setup_s:.1f}s (migrate, 30-day demo fleet, token); gunicorn {args.workers} workers x 4 threads"
    )
    print(
        f"1 client : {single['throughput_rps']:.1f} req/s, p50 {single['p50_s'] * 1000:.1f} ms, "
        f"p95 {single['p95_s'] * 1000:.1f} ms, errors {single['errors']}"
    )
    print(
        f"{args.clients} clients: {loaded['throughput_rps']:.1f} req/s over {loaded['wall_s']:.1f}s, "
        f"{loaded['requests']} requests, p50 {loaded['p50_s'] * 1000:.1f} ms, p95 {loaded['p95_s'] * 1000:.1f} ms, "
        f"p99 {loaded['p99_s'] * 1000:.1f} ms, errors {loaded['errors']} {loaded['error_samples']}"
    )
    print(
        json.dumps(
            {
                "bench": "api_load",
                "seconds": round(loaded["p95_s"], 4),
                "baseline": "single_client_p95",
                "baseline_seconds": round(single["p95_s"], 4),
                "vs_baseline": round(loaded["p95_s"] / single["p95_s"], 3)
                if single["p95_s"]
                else None,
                "clients": args.clients,
                "duration_s": round(loaded["wall_s"], 1),
                "requests": loaded["requests"],
                "throughput_rps": round(loaded["throughput_rps"], 1),
                "p50_ms": round(loaded["p50_s"] * 1000, 1),
                "p95_ms": round(loaded["p95_s"] * 1000, 1),
                "p99_ms": round(loaded["p99_s"] * 1000, 1),
                "errors": loaded["errors"],
                "error_kinds": loaded["error_kinds"],
                "single_client_rps": round(single["throughput_rps"], 1),
                "database": env["DATABASE_URL"].split(":")[0],
                "gunicorn_workers": args.workers,
            }
        )
    )
    return 1 if loaded["errors"] or single["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
