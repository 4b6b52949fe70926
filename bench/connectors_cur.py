"""CUR 2.0 -> FOCUS mapping throughput (the AWS export connector's pure part).

Builds a synthetic CUR 2.0 Parquet file (``--rows``, default 500k; the nine line-item types of
tests/ingest/aws_data.py repeated with varied costs and tags), then times:

  1. Headroom: read the Parquet in 100k-row batches, map each with ``cur_to_focus`` and
     validate into canonical FOCUS batches (``CanonicalBatcher``) — what the connector does;
  2. baseline: the same rows already in FOCUS shape read through ``open_focus`` (read +
     validate only, no mapping), i.e. the cost of the FOCUS path the mapping feeds into.

Prints figures and, as its last line, one JSON object.

    python bench/connectors_cur.py [--rows 500000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import pyarrow.compute  # noqa: E402, F401
import pyarrow.parquet as pq  # noqa: E402

from ingest.aws.cur import cur_to_focus  # noqa: E402
from ingest.canonical import CanonicalBatcher  # noqa: E402
from ingest.focus import open_focus  # noqa: E402
from tests.ingest.aws_data import cur_table  # noqa: E402


def make_cur(rows: int, path: Path) -> None:
    base = cur_table(9)
    reps = -(-rows // base.num_rows)
    table = pa.concat_tables([base] * reps).slice(0, rows).combine_chunks()
    idx = table.schema.get_field_index("line_item_unblended_cost")
    factor = pa.array([1 + (i % 97) / 100 for i in range(rows)])
    table = table.set_column(
        idx, "line_item_unblended_cost", pa.compute.multiply(table.column(idx), factor)
    )
    pq.write_table(table, path, row_group_size=100_000)


def run_headroom(path: Path) -> tuple[int, float]:
    batcher = CanonicalBatcher(str(path))
    rows, billed = 0, 0.0
    for raw in pq.ParquetFile(path).iter_batches(batch_size=100_000):
        out = batcher.batch(cur_to_focus(raw))
        rows += out.num_rows
        billed += pa.compute.sum(out.column("BilledCost")).as_py() or 0.0
    return rows, billed


def run_baseline(path: Path) -> int:
    return sum(b.num_rows for b in open_focus(path))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cur = Path(tmp) / "cur.parquet"
        make_cur(args.rows, cur)
        t0 = time.perf_counter()
        rows, billed = run_headroom(cur)
        seconds = time.perf_counter() - t0
        # The baseline file: the mapped rows written once as FOCUS Parquet.
        focus = Path(tmp) / "focus.parquet"
        batcher = CanonicalBatcher(str(cur))
        with pq.ParquetWriter(
            focus, batcher.batch(cur_to_focus(pq.ParquetFile(cur).read_row_group(0))).schema
        ) as w:
            batcher = CanonicalBatcher(str(cur))
            for raw in pq.ParquetFile(cur).iter_batches(batch_size=100_000):
                w.write_batch(batcher.batch(cur_to_focus(raw)))
        t0 = time.perf_counter()
        base_rows = run_baseline(focus)
        baseline_seconds = time.perf_counter() - t0
    assert rows == base_rows == args.rows
    print(
        f"CUR 2.0 -> FOCUS: {rows:,} rows in {seconds:.2f} s ({rows / seconds:,.0f} rows/s); billed total {billed:,.2f} USD"
    )
    print(f"baseline open_focus on the same rows as FOCUS Parquet: {baseline_seconds:.2f} s")
    print(
        json.dumps(
            {
                "bench": "connectors_cur",
                "seconds": round(seconds, 3),
                "baseline": "open_focus read+validate of the same rows as FOCUS",
                "baseline_seconds": round(baseline_seconds, 3),
                "vs_baseline": round(seconds / baseline_seconds, 3),
                "rows": rows,
                "rows_per_s": round(rows / seconds),
            }
        )
    )


if __name__ == "__main__":
    main()
