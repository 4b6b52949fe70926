"""Helpers shared by the FOCUS ingest tests (imported by name; tests/ingest is on sys.path)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    """Write rows (header first) as a CSV file."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def raw_frame(path: Path) -> pd.DataFrame:
    """The file read directly by pandas (an implementation independent of ingest.focus)."""
    name = str(path)
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    return pd.read_csv(path, na_values=["NULL"], keep_default_na=True, low_memory=False)
