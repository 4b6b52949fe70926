"""Benchmark: 50 concurrent API clients for 60 s against Headroom served by gunicorn on loopback.

Creates its own data (a temporary SQLite database, or DATABASE_URL if set, with the demo fleet:
30 days), a viewer token, and a gunicorn server bound to 127.0.0.1 only. Each client is a
connection cycling through read endpoints (cost rollups filtered by date and
service, summaries, fleet, ingest runs, health). Everything must answer 2xx: errors are counted
and reported (the run exits non-zero if there is any).

Baseline: the same request mix from ONE client for a short phase (unloaded latency); seconds =
p95 latency under load, baseline_seconds = single-client p95, so vs_baseline says how much p95
grows at 50 clients. Bounded: --seconds (default 60) plus ~2.5 min of set-up. Last line: JSON.

Load generator: everything shares the machine's CPUs, so the clients must cost little. Debian's
wrk (/usr/bin/wrk, C and epoll) is used when installed: a Lua script cycles through PATHS, sends
the token, counts every non-2xx answer by status (and wrk's socket errors by kind) and reports
wrk's p50/p95/p99. Without wrk (or with --tool threads) the clients are Python threads using
requests, ~1-2 ms of GIL-bound CPU per request taken from the server. The single-client baseline
uses the same tool as the load.

Server: gunicorn, one sync worker per CPU by default. Measured on the 2-CPU machine (wrk, 50
clients, 20 s, before this issue's API changes; the machine was shared, so figures vary by
~30% run to run): 2 sync workers 286 and 192 req/s, p95 268 and 429 ms, p99/p95 1.1-1.2,
4.0-4.1 ms of server CPU per request; 2 gthread x 1 thread (keep-alive) 309 and 264 req/s,
p95 469 and 653 ms, p99/p95 1.3; 3 x 1 gthread 308 req/s p95 393; 4 x 1 gthread 299 req/s p95
420; 2 x 4 threads 314 req/s p95 316, p99 616; 4 x 4 threads (the old default) 292 req/s p95
545 ms, p99 895. More processes or threads than CPUs add switching and GIL contention, not CPU.
Sync workers take a connection from the shared accept queue only when free, so the load spreads
evenly and the tail stays near the median; keep-alive (gthread) workers keep serving the
connections they accepted, and one worker's queue can be twice the other's.
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


def drive_threads(base: str, token: str, clients: int, seconds: float) -> dict:
    """`clients` Python threads, each looping over PATHS until `seconds` have passed (the
    fallback when wrk is not installed: ~1-2 ms of GIL-bound CPU per request, taken from the
    server on a small machine)."""
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


# wrk (C, epoll): the load costs the server's two CPUs far less than 50 Python threads do.
# request() cycles through PATHS (each wrk thread from its own offset); response() counts every
# non-2xx answer by status; done() adds up the threads' counts and wrk's socket errors.
WRK_LUA = """
local paths = {%(paths)s}
local n = 0
errors = {}
local threads = {}
wrk.headers["Authorization"] = "Token %(token)s"

function setup(thread)
  thread:set("offset", #threads * 3)
  table.insert(threads, thread)
end

function init(args)
  n = offset or 0
end

function request()
  n = n + 1
  return wrk.format("GET", paths[n %% #paths + 1])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    local k = tostring(status)
    errors[k] = (errors[k] or 0) + 1
  end
end

function done(summary, latency, requests)
  local kinds = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("errors")) do kinds[k] = (kinds[k] or 0) + v end
  end
  for _, k in ipairs({"connect", "read", "write", "timeout"}) do
    if summary.errors[k] > 0 then kinds[k] = summary.errors[k] end
  end
  local parts = {}
  for k, v in pairs(kinds) do table.insert(parts, k .. "=" .. v) end
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%s\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    table.concat(parts, ",")))
end
"""


def drive_wrk(base: str, token: str, clients: int, seconds: float, script_dir: Path) -> dict:
    """`clients` keep-alive connections from Debian's wrk for `seconds` (whole seconds)."""
    script = script_dir / "api_load.lua"
    paths = ", ".join(json.dumps(p) for p in PATHS)
    script.write_text(WRK_LUA % {"paths": paths, "token": token})
    out = subprocess.run(
        ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{max(1, round(seconds))}s"]
        + ["--timeout", "30s", "-s", str(script), base + "/"],
        capture_output=True,
        text=True,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK ")), None)
    if out.returncode or line is None:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    fields = line.split(" ", 6)
    n, duration_us, p50, p95, p99 = (int(x) for x in fields[1:6])
    kinds = dict(kv.split("=") for kv in fields[6].split(",") if kv)
    kinds = {k: int(v) for k, v in kinds.items()}
    wall = duration_us / 1e6
    return {
        "requests": n,
        "errors": sum(kinds.values()),
        "error_samples": [f"{v} x {k}" for k, v in kinds.items()][:5],
        "error_kinds": kinds,
        "wall_s": wall,
        "throughput_rps": n / wall if wall else 0.0,
        "p50_s": p50 / 1e6,
        "p95_s": p95 / 1e6,
        "p99_s": p99 / 1e6,
    }


def start_server(
    env: dict, workers: int, threads: int, worker_class: str = "sync"
) -> tuple[subprocess.Popen, str]:
    """gunicorn on a free loopback port; returns once /healthz answers 200."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "planner.wsgi:application"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
        + ["--timeout", "60", "--log-level", "warning"]
        + ["--worker-class", worker_class],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return server, base
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit(f"gunicorn did not come up: {server.communicate()[1]}")
        time.sleep(0.3)


def bench_env(tmp: Path, database_url: str) -> dict:
    return {
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
        # persistent database connections, as bench/dashboard.py and a production deployment
        # (DB_CONN_MAX_AGE): not a new connection per request
        "DB_CONN_MAX_AGE": "600",
        # never the developer's DATABASE_URL: the bench migrates and seeds the database it uses
        "DATABASE_URL": database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="load phase length (default 60)"
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="gunicorn worker processes (default: one per CPU, see the module docstring)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker (default 1; more than 1 makes gunicorn use gthread)",
    )
    parser.add_argument(
        "--worker-class", default="sync", help="gunicorn worker class (default sync)"
    )
    parser.add_argument(
        "--tool",
        choices=("auto", "wrk", "threads"),
        default="auto",
        help="load generator: wrk if installed (auto), or Python threads",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="an EMPTY scratch database to migrate and seed (default: temporary SQLite)",
    )
    args = parser.parse_args()
    use_wrk = args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk") is not None)
    tool = "wrk" if use_wrk else "python-threads"

    tmp = Path(tempfile.mkdtemp(prefix="headroom-api-load-"))
    env = bench_env(tmp, args.database_url)
    t0 = time.monotonic()
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--days", "30", "--usage-step-min", "60")
    token = (
        manage(env, "issue_token", "bench-viewer", "--create-user", "viewer")
        .strip()
        .splitlines()[-1]
    )
    setup_s = time.monotonic() - t0

    def drive(base: str, clients: int, seconds: float) -> dict:
        if use_wrk:
            return drive_wrk(base, token, clients, seconds, tmp)
        return drive_threads(base, token, clients, seconds)

    server = None
    try:
        server, base = start_server(env, args.workers, args.threads, args.worker_class)
        drive(base, 2 * args.workers, 3.0)  # warm every worker's imports and caches
        single = drive(base, 1, min(10.0, max(3.0, args.seconds / 6)))
        loaded = drive(base, args.clients, args.seconds)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"set-up {setup_s:.1f}s (migrate, 30-day demo fleet, token); gunicorn {args.workers} "
        f"{args.worker_class} workers x {args.threads} threads; load from {tool}"
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
                "single_client_p50_ms": round(single["p50_s"] * 1000, 1),
                "database": env["DATABASE_URL"].split(":")[0],
                "gunicorn_workers": args.workers,
                "gunicorn_threads": args.threads,
                "gunicorn_worker_class": args.worker_class,
                "load_tool": tool,
            }
        )
    )
    return 1 if loaded["errors"] or single["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
