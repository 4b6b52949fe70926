"""Command-line contract of ``python -m costmodels.anomaly``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodels.anomaly.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def _write_series(
    path: Path, n: int = 600, seed: int = 0, fmt: str = "%Y-%m-%d %H:%M:%S"
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-03-01", periods=n, freq="5min")
    y = 20 + 5 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 0.5, n)
    y[450] += 30
    frame = pd.DataFrame({"timestamp": idx.strftime(fmt), "value": np.round(y, 4)})
    frame.to_csv(path, index=False)
    return frame


def test_cli_writes_one_row_per_input_row_with_the_contract_columns(tmp_path):
    frame = _write_series(tmp_path / "in.csv")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "costmodels.anomaly",
            "--input",
            str(tmp_path / "in.csv"),
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
    assert list(out.columns) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
    assert out["timestamp"].tolist() == frame["timestamp"].tolist()
    np.testing.assert_allclose(out["value"], frame["value"])
    assert out["anomaly_score"].between(0, 1).all()
    assert set(out["is_anomaly"]) <= {0, 1}
    assert out.loc[450, "is_anomaly"] == 1
    assert ((out["anomaly_score"] >= 0.5).astype(int) == out["is_anomaly"]).all()


def test_appending_rows_to_the_file_does_not_change_earlier_rows(tmp_path):
    frame = _write_series(tmp_path / "full.csv", n=900, seed=4)
    frame.iloc[:500].to_csv(tmp_path / "part.csv", index=False)
    assert main(["--input", str(tmp_path / "full.csv"), "--output", str(tmp_path / "a.csv")]) == 0
    assert main(["--input", str(tmp_path / "part.csv"), "--output", str(tmp_path / "b.csv")]) == 0
    full = pd.read_csv(tmp_path / "a.csv")
    part = pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(part, full.iloc[:500])


def test_unsorted_input_keeps_file_order_and_scores_in_time_order(tmp_path):
    frame = _write_series(tmp_path / "in.csv", n=600)
    shuffled = frame.sample(frac=1.0, random_state=1)
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    main(["--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "a.csv")])
    main(["--input", str(tmp_path / "shuffled.csv"), "--output", str(tmp_path / "b.csv")])
    ordered = pd.read_csv(tmp_path / "a.csv").set_index("timestamp")
    from_shuffled = pd.read_csv(tmp_path / "b.csv")
    assert from_shuffled["timestamp"].tolist() == shuffled["timestamp"].tolist()
    pd.testing.assert_frame_equal(from_shuffled.set_index("timestamp").loc[ordered.index], ordered)


def test_irregular_sensor_timestamps_are_scored_as_a_sequence(tmp_path):
    rng = np.random.default_rng(2)
    steps = rng.choice([4, 5, 6, 11], size=400)
    idx = pd.Timestamp("2025-03-01") + pd.to_timedelta(np.cumsum(steps), unit="min")
    pd.DataFrame(
        {"timestamp": idx.strftime("%Y-%m-%d %H:%M:%S"), "value": rng.normal(60, 4, 400)}
    ).to_csv(tmp_path / "in.csv", index=False)
    assert main(["--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "out.csv")) == 400


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timestamp,cost\n2025-01-01,1\n", "missing column(s) value"),
        ("time,value\n2025-01-01,1\n", "missing column(s) timestamp"),
        (
            "timestamp,value\n" + "".join(f"2025-01-{d:02d},1\n" for d in range(1, 5)),
            "need at least",
        ),
        (
            "timestamp,value\n"
            + "".join(f"2025-01-{d:02d},{'abc' if d == 7 else d}\n" for d in range(1, 20)),
            "line 8, column 'value'",
        ),
        (
            "timestamp,value\n"
            + "".join(
                f"{'yesterday' if d == 3 else f'2025-01-{d:02d}'},{d}\n" for d in range(1, 20)
            ),
            "line 4, column 'timestamp'",
        ),
    ],
)
def test_bad_input_exits_non_zero_with_a_message_saying_where(tmp_path, capsys, content, message):
    (tmp_path / "in.csv").write_text(content)
    code = main(["--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_missing_input_file_is_reported(tmp_path, capsys):
    assert main(["--input", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "o.csv")]) == 2
    assert "file not found" in capsys.readouterr().err
