"""Leave-one-category-out cross-validation of the anomaly detector on NAB.

The five development categories in ``../shared/data/anomaly`` take turns as the held-out
category: the detector's settings are chosen on the other four (a small grid: which base
detectors form the ensemble, the flood rule, ``min_z``, the suppression), then the held-out
category's series are run through the real command-line path
(``costmodels.anomaly.__main__.run``) with those settings and scored with the NAB standard
profile by ``../shared/tools/nab_score.py``.  The CV score pools the held-out raw scores of
all folds (NAB's normalisation: 0 = flag nothing, 100 = perfect).  artificialNoAnomaly has
no windows, so its held-out figure is its false-alarm cost (raw, 0 is best); it still
counts in the pooled score.

Selection rule (fixed before looking at the held-out category): maximise the *worst*
training category's NAB score, plus the (non-positive) raw score on artificialNoAnomaly
when it is a training category.  Maximin favours settings that hold on every kind of
series over ones that excel on the largest category (the tweets have most windows).  The
pooled-objective CV is reported too.

Tuning is fast because the expensive part (baseline, streams, likelihood) is computed once
per series and the decision rule is re-applied per grid point, with ``nab_score``'s own
``sweep_points`` for the per-row NAB weights (checked against ``nab_score.score_file``).

Usage: ``python bench/nab_cv.py`` (about two minutes); the last line is one JSON object.
"""

from __future__ import annotations

import importlib.util
import itertools
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
from costmodels.anomaly.detector import MIN_POINTS, first_alerts, infer_period  # noqa: E402
from costmodels.anomaly.ensemble import (  # noqa: E402
    effective_statistic,
    ensemble_statistic,
    raw_streams,
    residual_z,
)
from costmodels.anomaly.estimator import UNIT_WITHOUT_PERIOD, OnlineAnomalyDetector  # noqa: E402

SHARED = REPO.parent / "shared"
DATA = SHARED / "data" / "anomaly"
SCORER = SHARED / "tools" / "nab_score.py"
CATEGORIES = (
    "artificialNoAnomaly",
    "artificialWithAnomaly",
    "realAdExchange",
    "realTraffic",
    "realTweets",
)

# The grid: every candidate is one detector configuration, applied unchanged to every series.
DETECTOR_SETS = [("residual",), ("residual", "shift"), ("up", "down"), ("residual", "entropy")]
FLOOD_RULES = [
    {"record_ratio": None, "time_bonferroni": False},
    {"record_ratio": None, "time_bonferroni": True},
    *[
        {"record_ratio": r, "record_periods": p, "record_fraction": f, "time_bonferroni": False}
        for r, p, f in [(0.7, 3.5, 0.3), (0.5, 3.5, 0.3), (0.7, 2, 0.1), (1.0, 2, 0.1),
                        (0.7, 1, 0.0), (1.0, 1, 0.0)]
    ],
]  # fmt: skip
MIN_Z = [float(v) for v in np.arange(3.0, 8.01, 0.25)]
SUPPRESS_PERIODS = [0.125, 0.25, 0.5, 1.0]


def load_scorer():
    spec = importlib.util.spec_from_file_location("nab_score", SCORER)
    nab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nab)
    return nab


class FastFileScore:
    """NAB raw score of one file for a set of detection rows (same rules as nab_score)."""

    def __init__(self, nab, rel: str, windows, cost):
        ts = nab.read_data_timestamps(str(DATA), rel)
        names, sweep = nab.sweep_points(ts, windows, cost)
        self.n = len(ts)
        self.sweep = np.asarray(sweep, dtype=float)
        self.probation = np.array([nm == "probationary" for nm in names])
        self.window = np.array([-1 if nm in (None, "probationary") else nm for nm in names])
        self.scored = sorted(set(self.window[self.window >= 0].tolist()))
        self.null = -cost["fnWeight"] * len(self.scored)
        self.perfect = cost["tpWeight"] * len(windows)
        self.fn = cost["fnWeight"]

    def raw(self, detections: np.ndarray) -> float:
        rows = np.flatnonzero(detections)
        rows = rows[~self.probation[rows]]
        w = self.window[rows]
        total = float(self.sweep[rows[w < 0]].sum())
        for k in self.scored:
            hit = rows[w == k]
            total += float(self.sweep[hit].max()) if len(hit) else -self.fn
        return total


def candidates() -> list[dict]:
    out = []
    for dets, (k, rule), mz, sp in itertools.product(
        DETECTOR_SETS, enumerate(FLOOD_RULES), MIN_Z, SUPPRESS_PERIODS
    ):
        out.append({"detectors": dets, **rule, "min_z": mz, "suppress_periods": sp, "rule": k})
    return out


def grid_scores(files: list[Path], scorers: dict[str, FastFileScore]) -> dict:
    """raw[(candidate index, rel)] for every candidate and file."""
    defaults = OnlineAnomalyDetector()
    cands = candidates()
    raw = {}
    for path in files:
        rel = f"{path.parent.name}/{path.name}"
        frame = pd.read_csv(path)
        x = frame["value"].to_numpy(dtype=float)
        period = infer_period(pd.DatetimeIndex(pd.to_datetime(frame["timestamp"])))
        unit = period or UNIT_WITHOUT_PERIOD
        z, _, _ = residual_z(
            x, period, defaults.level_window, defaults.seasonal_cycles, defaults.scale_window
        )
        all_streams = raw_streams(x, z, tuple(sorted({d for s in DETECTOR_SETS for d in s})))
        stats = {
            dets: ensemble_statistic(
                {d: all_streams[d] for d in dets},
                defaults.short_window,
                defaults.long_window,
                max(unit, MIN_POINTS),
            )[0]
            for dets in DETECTOR_SETS
        }
        effective = {}
        for i, c in enumerate(cands):
            key = (c["detectors"], json.dumps(FLOOD_RULES[c["rule"]]))
            if key not in effective:
                effective[key] = effective_statistic(
                    stats[c["detectors"]],
                    unit,
                    record_ratio=c["record_ratio"],
                    record_periods=c.get("record_periods", 0.0),
                    record_fraction=c.get("record_fraction", 0.0),
                    time_bonferroni=c["time_bonferroni"],
                )
            flags = first_alerts(
                effective[key] >= c["min_z"], max(1, int(c["suppress_periods"] * unit))
            )
            raw[i, rel] = scorers[rel].raw(flags)
    return raw


def normalised(raw: dict, i: int, rels: list[str], scorers) -> float:
    r = sum(raw[i, f] for f in rels)
    null = sum(scorers[f].null for f in rels)
    perfect = sum(scorers[f].perfect for f in rels)
    return 100.0 * (r - null) / (perfect - null) if perfect != null else r


def select(raw: dict, n_cands: int, train_cats: list[str], by_cat: dict, scorers, how: str):
    def objective(i: int) -> float:
        scored = [c for c in train_cats if c != "artificialNoAnomaly"]
        if how == "pooled":
            return normalised(raw, i, [f for c in train_cats for f in by_cat[c]], scorers)
        worst = min(normalised(raw, i, by_cat[c], scorers) for c in scored)
        clean = sum(raw[i, f] for f in by_cat.get("artificialNoAnomaly", []))
        return worst + (clean if "artificialNoAnomaly" in train_cats else 0.0)

    return max(range(n_cands), key=objective)


def params_of(c: dict) -> dict:
    out = {k: v for k, v in c.items() if k != "rule"}
    out["detectors"] = tuple(out["detectors"])
    return out


def cross_validate(nab, files, raw, scorers, by_cat, how: str, tmp: Path) -> dict:
    """Per fold: choose on four categories, run the CLI on the fifth, score with nab_score."""
    cands = candidates()
    folds = {}
    pred_dir = tmp / f"cv_{how}"
    for held in CATEGORIES:
        train = [c for c in CATEGORIES if c != held]
        best = select(raw, len(cands), train, by_cat, scorers, how)
        params = params_of(cands[best])
        for path in files:
            if path.parent.name == held:
                target = pred_dir / held / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                run(str(path), str(target), params)
        folds[held] = {"params": {k: v for k, v in params.items()}}
    scored = nab.score_corpus(str(pred_dir), nab_dir=str(DATA), categories=CATEGORIES)
    for held in CATEGORIES:
        cat = scored["by_category"][held]
        folds[held]["nab_standard"] = (
            None if cat["perfect"] == cat["null"] else round(cat["nab_score"], 2)
        )
        folds[held]["raw"] = round(cat["raw"], 3)
    return {"cv_nab_standard": round(scored["nab_score"], 2), "folds": folds}


def main() -> int:
    if not DATA.exists() or not SCORER.exists():
        print(json.dumps({"bench": "nab_cv", "skipped": f"{DATA} or {SCORER} missing"}))
        return 0
    nab = load_scorer()
    cost = nab.load_profiles(str(DATA))["standard"]
    windows = nab.load_windows(str(DATA / "labels" / "combined_windows.json"), CATEGORIES)
    files = sorted(p for c in CATEGORIES for p in (DATA / "data" / c).glob("*.csv"))
    rels = [f"{p.parent.name}/{p.name}" for p in files]
    scorers = {r: FastFileScore(nab, r, windows[r], cost) for r in rels}
    by_cat = {c: [r for r in rels if r.startswith(c + "/")] for c in CATEGORIES}
    start = time.perf_counter()
    raw = grid_scores(files, scorers)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        result = cross_validate(nab, files, raw, scorers, by_cat, "maximin", tmp)
        pooled = cross_validate(nab, files, raw, scorers, by_cat, "pooled", tmp)
        # the shipped defaults: the same selection rule on all five categories
        cands = candidates()
        chosen = params_of(
            cands[select(raw, len(cands), list(CATEGORIES), by_cat, scorers, "maximin")]
        )
    seconds = time.perf_counter() - start
    defaults = OnlineAnomalyDetector().get_params()
    for held, fold in result["folds"].items():
        print(
            f"held out {held:24s} NAB {fold['nab_standard']!s:>7} raw {fold['raw']:7.3f} "
            f"chosen {fold['params']}"
        )
    print(
        json.dumps(
            {
                "bench": "nab_cv",
                "seconds": round(seconds, 2),
                "candidates": len(cands),
                "cv_nab_standard": result["cv_nab_standard"],
                "cv_by_held_out_category": {
                    c: f["nab_standard"] for c, f in result["folds"].items()
                },
                "cv_raw_by_held_out_category": {c: f["raw"] for c, f in result["folds"].items()},
                "cv_nab_standard_pooled_objective": pooled["cv_nab_standard"],
                "chosen_on_all_categories": chosen,
                "defaults_match_choice": all(defaults[k] == v for k, v in chosen.items()),
            },
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
