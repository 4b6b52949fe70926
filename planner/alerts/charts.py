"""Plotly figures (JSON) for the anomaly and budget pages."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from planner.core.charts import LAYOUT

BAND_FILL = "rgba(37, 99, 235, 0.15)"


def anomaly_band(result: pd.DataFrame, start: dt.date, end: dt.date, title: str = "") -> str:
    """Actual daily cost against the detector's expected value and band; the episode shaded.
    `result` is costmodels.anomaly.detect output (value, expected, lower, upper) by day."""
    x = [ts.date().isoformat() for ts in result.index]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=result["lower"].clip(lower=0).round(2).tolist(),
            name="expected band (low)",
            mode="lines",
            line=dict(width=0),
            showlegend=False,
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=result["upper"].round(2).tolist(),
            name="Expected band",
            mode="lines",
            line=dict(width=0),
            fill="tonexty",
            fillcolor=BAND_FILL,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=result["expected"].round(2).tolist(),
            name="Expected",
            mode="lines",
            line=dict(dash="dash", color="#2563eb"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=result["value"].round(2).tolist(),
            name="Actual",
            mode="lines+markers",
            line=dict(color="#111827"),
        )
    )
    half_day = dt.timedelta(hours=12)
    fig.add_vrect(
        x0=(dt.datetime.combine(start, dt.time()) - half_day).isoformat(),
        x1=(dt.datetime.combine(end, dt.time()) + half_day).isoformat(),
        fillcolor="rgba(220, 38, 38, 0.12)",
        line_width=0,
        annotation_text="anomaly",
        annotation_position="top left",
    )
    fig.update_layout(title=title, yaxis_title="USD / day", **LAYOUT)
    return fig.to_json()


def budget_burn(
    daily: pd.Series,
    amount_usd: float,
    period_start: dt.date,
    period_end: dt.date,
    forecast_usd: float,
) -> str:
    """Cumulative spend in the period, the budget line and a straight line to the forecast."""
    cumulative = daily.cumsum()
    x = [ts.date().isoformat() for ts in cumulative.index]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=cumulative.round(2).tolist(),
            name="Spend so far",
            mode="lines+markers",
            line=dict(color="#111827"),
        )
    )
    if len(cumulative):
        fig.add_trace(
            go.Scatter(
                x=[x[-1], period_end.isoformat()],
                y=[round(float(cumulative.iloc[-1]), 2), round(forecast_usd, 2)],
                name="Forecast",
                mode="lines",
                line=dict(dash="dot", color="#2563eb"),
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[period_start.isoformat(), period_end.isoformat()],
            y=[amount_usd] * 2,
            name="Budget",
            mode="lines",
            line=dict(color="#dc2626"),
        )
    )
    fig.update_layout(yaxis_title="USD, cumulative", **LAYOUT)
    return fig.to_json()
