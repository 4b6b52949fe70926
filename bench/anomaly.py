"""Benchmark: the online anomaly detector on the labelled NAB development series.

The headline figure is the **leave-one-category-out cross-validated** NAB score
(``bench/nab_cv.py``: settings chosen on four categories, the fifth scored), per held-out
category and pooled.  The in-sample score of the shipped defaults (chosen on all five) is
printed for reference only.

Runs the exact command-line path (``costmodels.anomaly.__main__.run``) over every CSV in
``../shared/data/anomaly/data/<category>/``, scores the 0/1 decisions with the NAB
standard profile (``../shared/tools/nab_score.py``: TP 1.0 early in the window, FP 0.11,
FN 1.0; 0 = flag nothing, 100 = perfect), and does the same for a baseline: a rolling
z-score detector (|x - mean| > 4 sd of the previous 288 points, one alert per 144 steps),
timed in the same run.  Also times one 20,000-point series end to end.

The last printed line is one JSON object.  Usage: ``python bench/anomaly.py``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from costmodels.anomaly.__main__ import run  # noqa: E402
from costmodels.anomaly.detector import first_alerts  # noqa: E402

SHARED = REPO.parent / "shared"
DATA = SHARED / "data" / "anomaly"
SCORER = SHARED / "tools" / "nab_score.py"
NO_ANOMALY = "artificialNoAnomaly"


def rolling_zscore(path: Path, out: Path, window: int = 288, threshold: float = 4.0) -> None:
    """Baseline detector: online z-score against the previous ``window`` points."""
    frame = pd.read_csv(path)
    x = frame["value"].astype(float)
    mean = x.rolling(window, min_periods=30).mean().shift(1)
    sd = x.rolling(window, min_periods=30).std().shift(1)
    z = ((x - mean).abs() / sd.where(sd > 0)).fillna(0.0).to_numpy()
    score = z / (1.0 + z)
    flags = first_alerts(z >= threshold, window // 2)
    pd.DataFrame(
        {"timestamp": frame["timestamp"], "value": x, "anomaly_score": score, "is_anomaly": flags}
    ).to_csv(out, index=False)


def run_all(detector, files: list[Path], out_dir: Path) -> float:
    start = time.perf_counter()
    for path in files:
        target = out_dir / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        detector(path, target)
    return time.perf_counter() - start


def false_alarms_on_clean_series(out_dir: Path) -> int:
    """Alerts after the NAB probation (first 15 %) on the series without anomalies."""
    total = 0
    for path in sorted((out_dir / NO_ANOMALY).glob("*.csv")):
        flags = pd.read_csv(path)["is_anomaly"].to_numpy()
        total += int(flags[int(0.15 * len(flags)) :].sum())
    return total


def time_20k_points(tmp: Path) -> float:
    rng = np.random.default_rng(0)
    n = 20_000
    idx = pd.date_range("2025-01-01", periods=n, freq="5min")
    y = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 2, n)
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d %H:%M:%S"), "value": y}).to_csv(
        tmp / "big.csv", index=False
    )
    start = time.perf_counter()
    run(str(tmp / "big.csv"), str(tmp / "big_out.csv"))
    return time.perf_counter() - start


def nab_cv_result() -> dict:
    """Leave-one-category-out CV (see bench/nab_cv.py), maximin selection."""
    sys.path.insert(0, str(REPO / "bench"))
    import nab_cv

    nab = nab_cv.load_scorer()
    cost = nab.load_profiles(str(DATA))["standard"]
    windows = nab.load_windows(str(DATA / "labels" / "combined_windows.json"), nab_cv.CATEGORIES)
    files = sorted(p for c in nab_cv.CATEGORIES for p in (DATA / "data" / c).glob("*.csv"))
    rels = [f"{p.parent.name}/{p.name}" for p in files]
    scorers = {r: nab_cv.FastFileScore(nab, r, windows[r], cost) for r in rels}
    by_cat = {c: [r for r in rels if r.startswith(c + "/")] for c in nab_cv.CATEGORIES}
    raw = nab_cv.grid_scores(files, scorers)
    with tempfile.TemporaryDirectory() as tmp:
        return nab_cv.cross_validate(nab, files, raw, scorers, by_cat, "maximin", Path(tmp))


def main() -> int:
    if not DATA.exists() or not SCORER.exists():
        print(json.dumps({"bench": "anomaly", "skipped": f"{DATA} or {SCORER} missing"}))
        return 0
    spec = importlib.util.spec_from_file_location("nab_score", SCORER)
    nab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nab)
    files = sorted((DATA / "data").glob("*/*.csv"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ours, base = tmp / "ours", tmp / "baseline"
        seconds = run_all(lambda p, o: run(str(p), str(o)), files, ours)
        baseline_seconds = run_all(rolling_zscore, files, base)
        scored = nab.score_corpus(str(ours), nab_dir=str(DATA))
        scored_base = nab.score_corpus(str(base), nab_dir=str(DATA))
        cv = nab_cv_result()
        result = {
            "bench": "anomaly",
            "cv_nab_standard": cv["cv_nab_standard"],
            "cv_by_held_out_category": {c: f["nab_standard"] for c, f in cv["folds"].items()},
            "cv_raw_by_held_out_category": {c: f["raw"] for c, f in cv["folds"].items()},
            "series": len(files),
            "points": int(sum(len(pd.read_csv(f)) for f in files)),
            "seconds": round(seconds, 3),
            "baseline": "rolling z-score (288 points, |z| >= 4, one alert per 144 steps)",
            "baseline_seconds": round(baseline_seconds, 3),
            "vs_baseline": round(seconds / baseline_seconds, 3),
            "in_sample_nab_standard": round(scored["nab_score"], 2),
            "in_sample_nab_standard_by_category": {
                c: round(v["nab_score"], 2) for c, v in scored["by_category"].items()
            },
            "baseline_nab_standard": round(scored_base["nab_score"], 2),
            "baseline_nab_standard_by_category": {
                c: round(v["nab_score"], 2) for c, v in scored_base["by_category"].items()
            },
            "windows_detected": sum(f["windows_detected"] for f in scored["files"]),
            "windows": sum(f["windows"] for f in scored["files"]),
            "false_positive_rows": sum(f["fp_rows"] for f in scored["files"]),
            "alerts_on_clean_series": false_alarms_on_clean_series(ours),
            "baseline_alerts_on_clean_series": false_alarms_on_clean_series(base),
            "seconds_20k_points_cli": round(time_20k_points(tmp), 3),
        }
    for name, values in (("ours", scored), ("baseline", scored_base)):
        for f in values["files"]:
            print(
                f"{name:8s} {f['file']:60s} raw {f['raw']:7.3f} hit {f['windows_detected']}/"
                f"{f['windows']} fp {f['fp_rows']}"
            )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
