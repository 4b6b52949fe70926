"""Command-line contract of ``python -m costmodels.forecast``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodels.forecast.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def _daily(n: int = 90, seed: int = 0) -> tuple[pd.DatetimeIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-01-01", periods=n, freq="D")
    t = np.arange(n)
    return idx, 500 + 2 * t + 80 * (t % 7 < 5) + rng.normal(0, 10, n)


def _run(tmp_path: Path, frame: pd.DataFrame, horizon: int) -> pd.DataFrame:
    frame.to_csv(tmp_path / "in.csv", index=False)
    code = main(
        [
            "--input",
            str(tmp_path / "in.csv"),
            "--horizon",
            str(horizon),
            "--output",
            str(tmp_path / "out.csv"),
        ]
    )
    assert code == 0
    return pd.read_csv(tmp_path / "out.csv", dtype={"timestamp": str})


def test_cli_subprocess_writes_the_contract_columns(tmp_path):
    idx, y = _daily()
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d"), "value": y}).to_csv(
        tmp_path / "in.csv", index=False
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "costmodels.forecast",
            "--input",
            str(tmp_path / "in.csv"),
            "--horizon",
            "30",
            "--output",
            str(tmp_path / "out.csv"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(tmp_path / "out.csv", dtype={"timestamp": str})
    assert list(out.columns) == ["timestamp", "forecast", "lower", "upper"]
    assert (
        out["timestamp"].tolist()
        == pd.date_range("2025-04-01", periods=30, freq="D").strftime("%Y-%m-%d").tolist()
    )
    assert (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()


@pytest.mark.parametrize(
    ("fmt", "first_out"),
    [
        ("%Y-%m-%d %H:%M:%S", "2025-01-05 04:00:00"),
        ("%Y-%m-%dT%H:%M:%SZ", "2025-01-05T04:00:00Z"),
        ("%Y-%m-%dT%H:%M", "2025-01-05T04:00"),
        ("%Y/%m/%d %H:%M", "2025/01/05 04:00"),
        ("%Y-%m-%d %H:%M:%S.%f", "2025-01-05 04:00:00.000000"),
        ("epoch", "1736049600"),
    ],
)
def test_output_timestamps_follow_the_input_style(tmp_path, fmt, first_out):
    idx = pd.date_range("2025-01-01", periods=100, freq="h")
    y = 10 + np.sin(np.arange(100) / 3)
    stamps = (
        ((idx - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s")).astype(str)
        if fmt == "epoch"
        else idx.strftime(fmt)
    )
    out = _run(tmp_path, pd.DataFrame({"timestamp": stamps, "value": y}), 5)
    assert out["timestamp"].iloc[0] == first_out
    assert len(out) == 5


def test_a_few_missing_steps_are_tolerated(tmp_path):
    idx, y = _daily()
    frame = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d"), "value": y}).drop(
        index=[10, 40, 41]
    )
    out = _run(tmp_path, frame, 3)
    assert out["timestamp"].tolist() == ["2025-04-01", "2025-04-02", "2025-04-03"]


def test_forecast_of_a_weekly_pattern_keeps_it(tmp_path):
    idx, y = _daily(seed=3)
    out = _run(tmp_path, pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d"), "value": y}), 14)
    weekday = pd.to_datetime(out["timestamp"]).dt.day_of_week.to_numpy()
    # the input's 5 working days follow its start (2025-01-01, a Wednesday): weekday index 2..6
    busy = np.isin(weekday, [2, 3, 4, 5, 6])
    assert out["forecast"][busy].mean() - out["forecast"][~busy].mean() == pytest.approx(80, abs=15)


@pytest.mark.parametrize(
    ("content", "horizon", "message"),
    [
        ("timestamp,amount\n2025-01-01,1\n", 3, "missing column(s) value"),
        ("timestamp,value\n2025-01-01,1\n2025-01-02,2\n", 3, "need at least 8"),
        (
            "timestamp,value\n"
            + "".join(f"2025-01-{d:02d},{'n/a' if d == 5 else d}\n" for d in range(1, 15)),
            3,
            "line 6, column 'value'",
        ),
        (
            "timestamp,value\n"
            + "".join(f"2025-01-{d:02d} {d % 5:02d}:17:00,{d}\n" for d in range(1, 15)),
            3,
            "not on the regular",
        ),
        (
            "timestamp,value\n" + "".join(f"2025-{m:02d}-01,{m}\n" for m in range(1, 13)),
            3,
            "not on the regular",
        ),
        (
            "timestamp,value\n"
            + "".join(f"2025-01-{d:02d},{d}\n" for d in [1, 2, 3, 3, 4, 5, 6, 7, 8, 9]),
            3,
            "repeated",
        ),
        (
            "timestamp,value\n" + "".join(f"2025-01-{d:02d},{d}\n" for d in range(1, 15)),
            0,
            "--horizon",
        ),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(tmp_path, capsys, content, horizon, message):
    (tmp_path / "in.csv").write_text(content)
    code = main(
        [
            "--input",
            str(tmp_path / "in.csv"),
            "--horizon",
            str(horizon),
            "--output",
            str(tmp_path / "out.csv"),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_sparse_timestamps_that_cannot_be_regularised_are_rejected(tmp_path, capsys):
    idx, y = _daily()
    frame = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d"), "value": y})
    frame = frame[np.arange(len(frame)) % 5 < 3]  # daily steps, but 40 % of the days absent
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            [
                "--input",
                str(tmp_path / "in.csv"),
                "--horizon",
                "3",
                "--output",
                str(tmp_path / "o.csv"),
            ]
        )
        == 2
    )
    assert "missing" in capsys.readouterr().err
