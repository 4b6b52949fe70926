"""Plotly figures (JSON) for the service and what-if pages. Per-minute series use x0/dx so a
week of minutes does not carry 10,080 timestamps."""

from __future__ import annotations

import plotly.graph_objects as go

from planner.core.charts import LAYOUT

COLOURS = {"baseline": "#64748b", "scenario": "#2563eb"}


def lines(
    x, traces: dict[str, list], yaxis: str, hline: float | None = None, hline_name: str = ""
) -> str:
    fig = go.Figure()
    for name, ys in traces.items():
        fig.add_trace(go.Scatter(name=name, x=x, y=ys, mode="lines"))
    if hline is not None:
        fig.add_hline(y=hline, line_dash="dash", line_color="#c0392b", annotation_text=hline_name)
    fig.update_layout(yaxis_title=yaxis, **LAYOUT)
    return fig.to_json()


def per_minute(
    start: str,
    series: dict[str, list],
    yaxis: str,
    hline: float | None = None,
    hline_name: str = "",
) -> str:
    fig = go.Figure()
    for name, ys in series.items():
        fig.add_trace(go.Scattergl(name=name, x0=start, dx=60_000, y=ys, mode="lines",
                                   line=dict(width=1.2, color=COLOURS.get(name)), connectgaps=False))  # fmt: skip
    if hline is not None:
        fig.add_hline(y=hline, line_dash="dash", line_color="#c0392b", annotation_text=hline_name)
    fig.update_layout(yaxis_title=yaxis, xaxis_type="date", **LAYOUT)
    return fig.to_json()


def grouped_bars(
    categories: list[str], groups: dict[str, dict[str, float]], yaxis: str = "USD / month"
) -> str:
    fig = go.Figure()
    for name, values in groups.items():
        fig.add_trace(go.Bar(name=name, x=categories, y=[values.get(c, 0.0) for c in categories],
                             marker_color=COLOURS.get(name)))  # fmt: skip
    fig.update_layout(barmode="group", yaxis_title=yaxis, **LAYOUT)
    return fig.to_json()
