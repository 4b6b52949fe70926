"""Plotly figures as JSON for the templates (plotly.js served locally, never from a CDN).

Figures are built as plain dicts in plotly's JSON schema rather than through
``plotly.graph_objects``: the object layer validates every attribute and costs ~100 ms for a
stacked chart, which the dashboard cannot afford. ``tests/planner/whatif/test_charts.py`` loads each
figure back into ``plotly.graph_objects.Figure`` to prove it is valid.
"""

from __future__ import annotations

import datetime as dt
import json
import math

LAYOUT = dict(
    margin=dict(l=50, r=20, t=30, b=40),
    paper_bgcolor="rgba(0,0,0,0)",
    plot_bgcolor="rgba(0,0,0,0)",
    font=dict(family="system-ui, -apple-system, Segoe UI, sans-serif", size=12),
    legend=dict(orientation="h", y=-0.2),
    hovermode="x unified",
)


def _default(v):
    if isinstance(v, dt.datetime):  # UTC throughout; plotly reads "YYYY-MM-DD HH:MM:SS"
        return (
            v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            if v.tzinfo
            else v.strftime("%Y-%m-%d %H:%M:%S")
        )
    if isinstance(v, dt.date):
        return v.isoformat()
    return float(v)  # Decimal, numpy numbers


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def figure_json(data: list[dict], **layout) -> str:
    """Serialise a figure; non-finite floats become null (gaps), dates ISO strings."""
    fig = {"data": data, "layout": {**LAYOUT, **layout}}
    return json.dumps(fig, default=_default, separators=(",", ":"), allow_nan=False)


def series(ys, digits: int = 3) -> list:
    """Floats rounded to ``digits`` decimals (chart precision), non-finite values as gaps."""
    return [_clean(round(float(y), digits)) if y is not None else None for y in ys]


def stacked_daily(
    series_by_label: dict[str, dict], title: str = "", yaxis: str = "USD / day"
) -> str:
    dates = sorted({d for s in series_by_label.values() for d in s})
    data = [
        {"type": "bar", "name": label, "x": dates, "y": [values.get(d, 0.0) for d in dates]}
        for label, values in sorted(
            series_by_label.items(), key=lambda kv: -sum(float(v) for v in kv[1].values())
        )
    ]
    return figure_json(
        data, barmode="relative", title={"text": title}, yaxis={"title": {"text": yaxis}}
    )


def donut(pairs, title: str = "") -> str:
    data = [
        {
            "type": "pie",
            "labels": [p[0] for p in pairs],
            "values": [float(p[1]) for p in pairs],
            "hole": 0.55,
            "sort": False,
            "textinfo": "label+percent",
        }
    ]
    return figure_json(data, title={"text": title}, showlegend=False)


def daily_lines(series_by_label: dict[str, dict], yaxis: str = "") -> str:
    """One line per key over the union of dates (gaps left open), log y axis in USD with one
    tick per decade ($0.001, $0.01, ...) and the legend in rows below the plot, so long
    service/unit names never cover the lines."""
    dates = sorted({d for s in series_by_label.values() for d in s})
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "marker": {"size": 4},
            "name": label,
            "x": dates,
            "y": series(values.get(d) for d in dates),
        }
        for label, values in sorted(series_by_label.items())
    ]
    legend = {
        "orientation": "h",
        "x": 0,
        "xanchor": "left",
        "y": -0.18,
        "yanchor": "top",
        "font": {"size": 11},
    }
    yaxis_layout = {
        "title": {"text": yaxis},
        "type": "log",
        "dtick": 1,
        "tickprefix": "$",
        "tickformat": "~g",
        "exponentformat": "none",
    }
    return figure_json(
        data, yaxis=yaxis_layout, legend=legend, margin={"l": 70, "r": 20, "t": 30, "b": 40}
    )


def hline(y: float, name: str) -> dict:
    """Layout pieces for a dashed horizontal reference line across the plot (e.g. an SLO)."""
    return {
        "shapes": [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": y,
                "y1": y,
                "line": {"dash": "dash", "color": "#c0392b"},
            }
        ],
        "annotations": [
            {
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "yref": "y",
                "y": y,
                "yanchor": "bottom",
                "text": name,
                "showarrow": False,
            }
        ],
    }
