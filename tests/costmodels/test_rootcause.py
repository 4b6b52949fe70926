"""Root cause ranking checked against hand calculations."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from costmodels.rootcause import UNALLOCATED, Contributor, rank_contributors

BASELINE = ("2025-01-01", "2025-01-05")  # 5 days
ANOMALY = ("2025-01-06", "2025-01-07")  # 2 days


def _frame() -> pd.DataFrame:
    rows = []
    for day in pd.date_range("2025-01-01", "2025-01-05"):
        rows += [("A", "us", day, 10.0), ("B", "eu", day, 5.0), ("B", None, day, 1.0)]
        if day.day <= 3:  # C runs on the first three baseline days only
            rows.append(("C", "us", day, 2.0))
    rows += [
        ("A", "us", pd.Timestamp("2025-01-06"), 10.0),
        ("A", "us", pd.Timestamp("2025-01-07"), 30.0),
    ]
    for day in ("2025-01-06", "2025-01-07"):
        rows += [("B", "eu", pd.Timestamp(day), 5.0), ("B", None, pd.Timestamp(day), 1.0)]
    return pd.DataFrame(rows, columns=["service", "region", "date", "cost"])


def _by_key(result: list[Contributor]) -> dict[tuple[str, str], Contributor]:
    return {(c.dimension, c.member): c for c in result}


def test_contributions_match_the_hand_calculation():
    # baseline total 86 USD over 5 days -> 17.2/day -> expected 34.4 over the 2 anomaly days;
    # actual 40 + 10 + 2 + 0 = 52 -> total deviation 17.6 USD
    result = rank_contributors(_frame(), ["service", "region"], ANOMALY, BASELINE)
    got = _by_key(result)
    expected = {
        ("service", "A"): (20.0, 40.0),  # 50/5*2 expected
        ("service", "B"): (12.0, 12.0),  # (25 + 5)/5*2
        ("service", "C"): (2.4, 0.0),  # 6/5*2, absent in the anomaly window
        ("region", "us"): (22.4, 40.0),  # (50 + 6)/5*2
        ("region", "eu"): (10.0, 10.0),
        ("region", UNALLOCATED): (2.0, 2.0),  # missing region is reported, not dropped
    }
    assert set(got) == set(expected)
    for key, (exp_usd, act_usd) in expected.items():
        c = got[key]
        assert c.expected_usd == pytest.approx(exp_usd)
        assert c.actual_usd == pytest.approx(act_usd)
        assert c.delta_usd == pytest.approx(act_usd - exp_usd)
        assert c.share_of_deviation == pytest.approx((act_usd - exp_usd) / 17.6)
    for dim in ("service", "region"):
        assert sum(c.share_of_deviation for c in result if c.dimension == dim) == pytest.approx(1.0)


def test_ranking_puts_the_biggest_push_first_and_the_offsets_last():
    result = rank_contributors(_frame(), ["service", "region"], ANOMALY, BASELINE)
    assert [(c.dimension, c.member) for c in result[:2]] == [("service", "A"), ("region", "us")]
    assert (result[-1].dimension, result[-1].member) == ("service", "C")
    top = rank_contributors(_frame(), ["service", "region"], ANOMALY, BASELINE, top_n=1)
    assert len(top) == 1 and top[0].member == "A"


def test_a_cost_drop_ranks_the_biggest_fall_first():
    frame = _frame()
    frame.loc[(frame["service"] == "A") & (frame["date"] >= "2025-01-06"), "cost"] = 0.0
    result = rank_contributors(frame, ["service"], ANOMALY, BASELINE)
    # actual 0 + 12 + 0 = 12 vs expected 34.4 -> deviation -22.4; A fell by 20 of it
    assert result[0].member == "A"
    assert result[0].delta_usd == pytest.approx(-20.0)
    assert result[0].share_of_deviation == pytest.approx(20.0 / 22.4)


def test_contributor_is_a_frozen_dataclass_with_usd_fields():
    result = rank_contributors(_frame(), ["service"], ANOMALY, BASELINE, value_col="cost")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result[0].delta_usd = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dimensions": ["sku"]}, "lacks column"),
        ({"dimensions": []}, "at least one dimension"),
        ({"anomaly_window": ("2025-01-05", "2025-01-06")}, "overlap"),
        ({"anomaly_window": ("2025-02-01", "2025-02-02")}, "anomaly window"),
        ({"baseline_window": ("2025-01-05", "2025-01-01")}, "before it starts"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    args = {
        "dimensions": ["service"],
        "anomaly_window": ANOMALY,
        "baseline_window": BASELINE,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        rank_contributors(_frame(), **args)
