"""Provider-shaped FOCUS 1.2/1.3 files, and their FOCUS 1.4 conversion, from the open-source
``focus-data-toolkit`` generator (a dev dependency), run as its own command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOLKIT = [sys.executable, "-m", "focus_data_toolkit"]


def _run(*args: str) -> None:
    proc = subprocess.run([*TOOLKIT, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def generate(out: Path, provider: str, version: str, rows: int = 300, seed: int = 7) -> Path:
    """Directory with ``focus_<v>_cost_and_usage_<provider>.csv`` (and, for 1.3, the
    ``focus_1_3_contract_commitment_<provider>.csv`` dataset)."""
    _run(
        *("generate", "--provider", provider, "--focus-version", version),
        *("--rows", str(rows), "--seed", str(seed), "--out", str(out)),
    )
    return out


def convert_to_14(source_dir: Path, provider: str, out: Path) -> Path:
    """The four FOCUS 1.4 datasets converted from a generated 1.3 directory."""
    _run(
        "convert",
        "--cost-and-usage",
        str(source_dir / f"focus_1_3_cost_and_usage_{provider}.csv"),
        "--contract-commitment",
        str(source_dir / f"focus_1_3_contract_commitment_{provider}.csv"),
        "--out",
        str(out),
        "--mode",
        "synthetic",
        "--provider-role",
        "csp",
        "--exit-policy",
        "pipeline",  # exit 0 although synthetic mode assumes values the 1.3 file lacks
    )
    return out
