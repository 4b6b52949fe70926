"""Decompression bombs (issue 13, item 4): the header probe stops at 1 MiB of decompressed data,
and a gzip file may not inflate past the configured limit; both fail with an error naming the
limit, without the memory the inflated data would take."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fixtures_gen.focus_files import write_focus_file
from ingest.focus.datasets import read_dataset
from ingest.focus.errors import FocusValidationError, NotFocusError
from ingest.focus.reader import HEADER_PROBE_BYTES, open_focus
from planner.billing.models import RunSource
from tests.factories import make_account

MiB = 1024 * 1024


def write_bomb(path: Path, inflated_mib: int = 200, byte: bytes = b"a") -> Path:
    """A gzip member of `inflated_mib` MiB of one byte and no newline (~200 KB on disk)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = byte * MiB
    with open(path, "wb") as out:
        for _ in range(inflated_mib):
            out.write(comp.compress(chunk))
        out.write(comp.flush())
    return path


def test_gzip_bomb_is_small_on_disk_and_inflates(tmp_path):
    bomb = write_bomb(tmp_path / "bomb.csv.gz", inflated_mib=20)
    assert bomb.stat().st_size < 100_000
    with gzip.open(bomb) as f:
        assert sum(len(b) for b in iter(lambda: f.read(MiB), b"")) == 20 * MiB


def test_gzip_bomb_header_probe_stops_at_1_mib(tmp_path):
    bomb = write_bomb(tmp_path / "bomb.csv.gz")
    tracemalloc.start()
    try:
        with pytest.raises(FocusValidationError) as err:
            open_focus(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not isinstance(err.value, NotFocusError)  # no second, unbounded read as a dataset
    assert "no line break in the first 1 MiB (decompressed)" in str(err.value)
    assert peak < 16 * MiB, f"peak {peak / MiB:.0f} MiB"  # unfixed: the whole 200 MiB
    assert MiB == HEADER_PROBE_BYTES


def test_gzip_bomb_cli_validate_fails_with_bounded_memory(tmp_path):
    """`python -m ingest validate` on the issue's bomb: unfixed it took 38 s and 1.5 GB."""
    bomb = write_bomb(tmp_path / "bomb.csv.gz")
    baseline = tmp_path / "tiny.csv"
    write_focus_file(baseline, version="1.2", rows=5, seed=1)

    def run(path: Path) -> tuple[int, str, int]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "validate", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out = proc.stdout.read().decode() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        return os.waitstatus_to_exitcode(status), out, usage.ru_maxrss * 1024

    rc_ok, _, rss_ok = run(baseline)
    rc, out, rss = run(bomb)
    assert rc_ok == 0 and rc != 0
    assert "no line break in the first 1 MiB" in out
    assert rss - rss_ok < 200 * MiB, f"{(rss - rss_ok) / MiB:.0f} MiB more than a 5-row file"


def test_gzip_bomb_total_decompressed_size_is_capped(tmp_path):
    g = write_focus_file(tmp_path / "big.csv.gz", version="1.2", rows=20_000, seed=4)
    with gzip.open(g.path) as f:
        inflated = len(f.read())
    assert inflated > 2 * MiB and g.path.stat().st_size < inflated / 3
    assert open_focus(g.path).read_all().num_rows == 20_000  # the default limit reads it
    with pytest.raises(FocusValidationError) as err:  # at open (pyarrow reads ahead) or later
        open_focus(g.path, max_decompressed_bytes=2 * MiB).read_all()
    text = str(err.value)
    assert "decompresses to more than 2 MiB, the limit for one file" in text
    assert "HEADROOM_FOCUS_MAX_DECOMPRESSED_MB" in text


def test_gzip_bomb_limit_smaller_than_header_fails_at_open(tmp_path):
    g = write_focus_file(tmp_path / "f.csv.gz", version="1.2", rows=50, seed=4)
    with pytest.raises(FocusValidationError, match="decompresses to more than 100 bytes"):
        open_focus(g.path, max_decompressed_bytes=100)


def test_gzip_bomb_parquet_declared_size_over_limit(tmp_path):
    g = write_focus_file(tmp_path / "f.parquet", version="1.2", rows=5000, seed=4)
    meta = pq.ParquetFile(g.path).metadata
    inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    with pytest.raises(FocusValidationError, match="decompresses to more than"):
        open_focus(g.path, max_decompressed_bytes=inflated - 1)
    assert open_focus(g.path, max_decompressed_bytes=inflated).read_all().num_rows == 5000


def test_gzip_bomb_supplementary_dataset_reader_is_capped(tmp_path):
    bomb = write_bomb(tmp_path / "commitments.csv.gz", inflated_mib=64, byte=b"\n")
    with pytest.raises(NotFocusError, match="decompresses to more than 1 MiB"):
        read_dataset(bomb, max_decompressed_bytes=MiB)


@pytest.mark.django_db
def test_gzip_bomb_ingest_run_names_the_setting(tmp_path, settings):
    from planner.billing.models import IngestRun
    from planner.billing.services import execute_focus_run

    settings.FOCUS_MAX_DECOMPRESSED_BYTES = 2 * MiB
    g = write_focus_file(tmp_path / "big.csv.gz", version="1.2", rows=20_000, seed=4)
    account = make_account(account_id="bomb", name="bomb")
    run = IngestRun.objects.create(
        account=account, source=RunSource.FOCUS_FILE, source_uri=str(g.path)
    )
    run = execute_focus_run(run.pk)
    assert run.status == "failed"
    assert any("more than 2 MiB" in e for e in run.errors), run.errors
