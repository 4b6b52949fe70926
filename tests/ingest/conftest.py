"""Fixtures for the pure-Python FOCUS ingest tests (no Django, no database)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from focus_helpers import write_rows

from fixtures_gen.focus_files import write_focus_file

REPO = Path(__file__).resolve().parents[2]
FOCUS_DATA = REPO.parent / "shared" / "data" / "focus"
FOCUS_SAMPLE = FOCUS_DATA / "focus_sample.csv"


@pytest.fixture(scope="session")
def sample_path() -> Path:
    if not FOCUS_SAMPLE.exists():
        pytest.skip(f"real FOCUS sample not present at {FOCUS_SAMPLE}")
    return FOCUS_SAMPLE


@pytest.fixture(scope="session")
def base_rows(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    """A valid 40-row FOCUS 1.2 CSV (header first) to corrupt cell by cell."""
    path = tmp_path_factory.mktemp("base") / "base.csv"
    write_focus_file(path, version="1.2", rows=40, seed=3, fmt="csv")
    with open(path, newline="", encoding="utf-8") as f:
        return [row for row in csv.reader(f)]


@pytest.fixture
def corrupt(tmp_path: Path, base_rows: list[list[str]]) -> Callable[..., Path]:
    """``corrupt({(row, column): value, ...})`` -> path of the base file with those cells
    replaced (``row`` is the 1-based data row, header excluded)."""

    def make(cells: dict[tuple[int, str], str], name: str = "bad.csv") -> Path:
        rows = [list(r) for r in base_rows]
        header = rows[0]
        for (row, column), value in cells.items():
            rows[row][header.index(column)] = value
        return write_rows(tmp_path / name, rows)

    return make
