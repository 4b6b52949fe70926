"""Ingest benchmark: a 10-million-row FOCUS 1.2 Parquet file through the real loader.

Generates the file once (cached under bench/.cache/), then in one run:
  1. ingests it with Headroom's loader (stream → validate → Parquet line items → rollups in the
     database, one transaction), measuring seconds and peak RSS of the ingesting process;
  2. the baseline: DuckDB doing the same work on the same file — read every column, write them
     as Parquet with the same compression (Snappy), and compute the same daily rollup;
  3. two ingesting processes at once, each loading the file for its own account (two workers
     on one machine), reporting the combined rows per second.
Prints figures and, as its last line, one JSON object (also ``cpu_seconds`` of each side: the
machine may be shared, and CPU time is steadier than wall time there; the database server's
CPU is not in ours). Each ingest is a first load of the period: rows of earlier bench runs are
deleted before the clock starts. Database: $DATABASE_URL if set (use PostgreSQL for
production-like figures), else a throwaway SQLite file (the two-worker figure needs PostgreSQL:
SQLite takes one writer at a time).

    python bench/ingest.py [--rows 10000000] [--batch-rows 100000] [--no-pair]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache"
sys.path.insert(0, str(REPO))

DUCKDB_ROLLUP = """
SELECT CAST(ChargePeriodStart AS DATE) AS day, CAST(BillingPeriodStart AS DATE) AS period,
       ProviderName, ServiceName, RegionId, ResourceId, SkuId, PricingCategory, ChargeCategory,
       BillingCurrency,
       coalesce(json_extract_string(Tags, '$.service'), json_extract_string(Tags, '$.app'),
                json_extract_string(Tags, '$."k8s-app"')) AS service_tag,
       sum(BilledCost), sum(EffectiveCost), sum(ListCost), sum(ConsumedQuantity), count(*)
FROM read_parquet('{path}') GROUP BY ALL
"""


def ensure_file(rows: int) -> Path:
    path = CACHE / f"focus12_{rows}.parquet"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"generating {rows:,} FOCUS 1.2 rows → {path} (once)…", flush=True)
        tmp = path.with_suffix(".tmp")
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from fixtures_gen.focus_files import write_focus_file; "
                f"write_focus_file(sys.argv[1], version='1.2', rows={rows}, seed=42, periods=1, "
                "fmt='parquet')",
                str(tmp),
            ],
            cwd=REPO,
            check=True,
        )
        tmp.rename(path)
    return path


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak RSS of this process's own memory: VmHWM (Linux), the high-water mark of the address
    space exec gave it. Not ru_maxrss: Linux carries the forking parent's high-water mark over
    exec, so children started after the in-process DuckDB baseline reported the parent's
    ~3.9 GB (and, at 2 M rows, the "1.28 GB per worker" of the two-worker run)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest_child(path: str, batch_rows: int, account_id: str = "bench") -> None:
    """Runs in a fresh process so its peak RSS is the ingest's own."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planner.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    from ingest.focus.reader import open_focus
    from planner.billing.loader import load_batches
    from planner.billing.models import BillingPeriodLoad, CostRollup
    from planner.core.models import CloudAccount

    account, _ = CloudAccount.objects.get_or_create(
        provider="aws", account_id=account_id, defaults={"name": account_id}
    )
    # A first load, as in production: earlier bench runs' rows go before the clock starts.
    CostRollup.objects.filter(account=account).delete()
    BillingPeriodLoad.objects.filter(account=account).delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"VACUUM ANALYZE {CostRollup._meta.db_table}")
    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    result = load_batches(open_focus(path, batch_rows=batch_rows), account)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu0
    peak_mb = peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "rows": result.rows_stored,
                "rollup_rows": result.rollup_rows,
                "peak_rss_mb": peak_mb,
            }
        )
    )


DUCKDB_SAME_WORK = """
COPY (SELECT * FROM read_parquet('{path}')) TO '{out}' (FORMAT parquet, COMPRESSION snappy)
"""


def duckdb_same_work(path: Path, out_dir: str) -> tuple[float, float, int]:
    """DuckDB reads every column, writes them as Snappy Parquet, computes the daily rollup."""
    import duckdb

    con = duckdb.connect()
    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    con.execute(DUCKDB_SAME_WORK.format(path=path, out=f"{out_dir}/duckdb-copy.parquet"))
    groups = len(con.sql(DUCKDB_ROLLUP.format(path=path)).fetchall())
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu0
    con.close()
    return seconds, cpu, groups


def _child_cmd(path: Path, batch_rows: int, account_id: str) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--child",
        str(path),
        "--batch-rows",
        str(batch_rows),
        "--account",
        account_id,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--no-pair", action="store_true", help="skip the two-worker run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--account", default="bench", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ingest_child(args.child, args.batch_rows, args.account)
        return
    path = ensure_file(args.rows)
    with tempfile.TemporaryDirectory(prefix="headroom-bench-") as tmp:
        env = {
            **os.environ,
            "HEADROOM_VAR_DIR": tmp,
            "LINE_ITEM_STORE": os.environ.get("LINE_ITEM_STORE", f"{tmp}/lineitems"),
            "LOG_LEVEL": "WARNING",
        }
        env.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
        proc = subprocess.run(
            _child_cmd(path, args.batch_rows, "bench"),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            sys.exit(f"ingest failed:\n{proc.stderr[-4000:]}")
        ours = json.loads(proc.stdout.strip().splitlines()[-1])
        duck_s, duck_cpu, groups = duckdb_same_work(path, tmp)
        pair = None
        if not args.no_pair and not env["DATABASE_URL"].startswith("sqlite"):
            start = time.perf_counter()
            procs = [
                subprocess.Popen(
                    _child_cmd(path, args.batch_rows, f"bench-{i}"),
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for i in (1, 2)
            ]
            outs = [p.communicate() for p in procs]
            wall = time.perf_counter() - start
            if any(p.returncode for p in procs):
                sys.exit(f"paired ingest failed:\n{outs[0][1][-2000:]}\n{outs[1][1][-2000:]}")
            each = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
            pair = {
                "seconds": wall,
                "rows_per_s": sum(e["rows"] for e in each) / wall,
                "peak_rss_mb": max(e["peak_rss_mb"] for e in each),
                "each": each,
            }
    print(
        f"headroom ingest: {ours['rows']:,} rows in {ours['seconds']:.1f} s "
        f"({ours['rows'] / ours['seconds']:,.0f} rows/s), {ours['rollup_rows']:,} rollup rows, "
        f"peak RSS {ours['peak_rss_mb']:.0f} MB, CPU {ours['cpu_seconds']:.1f} s (process; the "
        "database server's share not counted)"
    )
    print(
        f"duckdb same work (read all columns, write Snappy Parquet, daily rollup of {groups:,} "
        f"groups): {duck_s:.1f} s (CPU {duck_cpu:.1f} s)"
    )
    if pair:
        print(
            f"two workers, two accounts at once: {pair['rows_per_s']:,.0f} rows/s combined "
            f"({pair['seconds']:.1f} s wall, peak RSS {pair['peak_rss_mb']:.0f} MB each at most)"
        )
        for i, e in enumerate(pair["each"], 1):
            print(
                f"  worker {i}: {e['rows']:,} rows in {e['seconds']:.1f} s "
                f"({e['rows'] / e['seconds']:,.0f} rows/s), peak RSS {e['peak_rss_mb']:.0f} MB, "
                f"CPU {e['cpu_seconds']:.1f} s"
            )
    print(
        json.dumps(
            {
                "bench": "ingest",
                "seconds": round(ours["seconds"], 3),
                "baseline": "duckdb_same_work_read_all_columns_write_snappy_parquet_and_rollup",
                "baseline_seconds": round(duck_s, 3),
                "vs_baseline": round(ours["seconds"] / duck_s, 3),
                "rows": ours["rows"],
                "rows_per_s": round(ours["rows"] / ours["seconds"]),
                "rollup_rows": ours["rollup_rows"],
                "peak_rss_mb": round(ours["peak_rss_mb"], 1),
                "cpu_seconds": round(ours["cpu_seconds"], 2),
                "baseline_cpu_seconds": round(duck_cpu, 2),
                "two_workers_rows_per_s": round(pair["rows_per_s"]) if pair else None,
                "two_workers_seconds": round(pair["seconds"], 3) if pair else None,
                "two_workers_peak_rss_mb": round(pair["peak_rss_mb"], 1) if pair else None,
                "two_workers_each_peak_rss_mb": [round(e["peak_rss_mb"], 1) for e in pair["each"]]
                if pair
                else None,
                "two_workers_each_rows_per_s": [
                    round(e["rows"] / e["seconds"]) for e in pair["each"]
                ]
                if pair
                else None,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "database": os.environ.get("DATABASE_URL", "sqlite").split(":")[0],
                "line_item_store": env["LINE_ITEM_STORE"].split("://")[0]
                if "://" in env["LINE_ITEM_STORE"]
                else "local",
            }
        )
    )


if __name__ == "__main__":
    main()
