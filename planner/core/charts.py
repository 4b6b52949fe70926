"""Plotly figures as JSON for the templates (plotly.js served locally, never from a CDN)."""

from __future__ import annotations

import plotly.graph_objects as go

LAYOUT = dict(
    margin=dict(l=50, r=20, t=30, b=40),
    paper_bgcolor="rgba(0,0,0,0)",
    plot_bgcolor="rgba(0,0,0,0)",
    font=dict(family="system-ui, -apple-system, Segoe UI, sans-serif", size=12),
    legend=dict(orientation="h", y=-0.2),
    hovermode="x unified",
)


def stacked_daily(series: dict[str, dict], title: str = "", yaxis: str = "USD / day") -> str:
    dates = sorted({d for s in series.values() for d in s})
    fig = go.Figure()
    for label, values in sorted(series.items(), key=lambda kv: -sum(kv[1].values())):
        fig.add_trace(go.Bar(name=label, x=dates, y=[values.get(d, 0.0) for d in dates]))
    fig.update_layout(barmode="relative", title=title, yaxis_title=yaxis, **LAYOUT)
    return fig.to_json()


def donut(pairs, title: str = "") -> str:
    fig = go.Figure(
        go.Pie(
            labels=[p[0] for p in pairs],
            values=[float(p[1]) for p in pairs],
            hole=0.55,
            sort=False,
            textinfo="label+percent",
        )
    )
    fig.update_layout(title=title, showlegend=False, **LAYOUT)
    return fig.to_json()


def daily_lines(series: dict[str, dict], yaxis: str = "") -> str:
    """One line per key over the union of dates (gaps left open)."""
    dates = sorted({d for s in series.values() for d in s})
    fig = go.Figure()
    for label, values in sorted(series.items()):
        fig.add_trace(go.Scatter(name=label, x=dates, y=[values.get(d) for d in dates], mode="lines+markers",
                                 marker=dict(size=4)))  # fmt: skip
    layout = {**LAYOUT, "legend": dict(orientation="v", x=1.02, y=1, font=dict(size=10))}
    fig.update_layout(yaxis_title=yaxis, yaxis_type="log", **layout)
    return fig.to_json()
