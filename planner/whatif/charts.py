"""Plotly figures (JSON) for the service and what-if pages. Per-minute series use x0/dx so a
week of minutes does not carry 10,080 timestamps."""

from __future__ import annotations

from planner.core.charts import figure_json, hline, series

COLOURS = {"baseline": "#64748b", "scenario": "#2563eb"}


def lines(
    x,
    traces: dict[str, list],
    yaxis: str,
    ref: float | None = None,
    ref_name: str = "",
    dx_ms: int | None = None,
) -> str:
    """Line chart; with ``dx_ms`` the x axis is ``x`` (the first timestamp) plus a fixed step,
    which keeps a month of hourly points small."""
    where = {"x0": x, "dx": dx_ms} if dx_ms else {"x": x}
    data = [
        {"type": "scatter", "mode": "lines", "name": name, **where, "y": series(ys)}
        for name, ys in traces.items()
    ]
    extra = hline(ref, ref_name) if ref is not None else {}
    axis = {"xaxis": {"type": "date"}} if dx_ms else {}
    return figure_json(data, yaxis={"title": {"text": yaxis}}, **axis, **extra)


def per_minute(
    start: str, traces: dict[str, list], yaxis: str, ref: float | None = None, ref_name: str = ""
) -> str:
    data = [
        {
            "type": "scattergl",
            "mode": "lines",
            "name": name,
            "x0": start,
            "dx": 60_000,
            "y": series(ys),
            "line": {"width": 1.2, "color": COLOURS.get(name)},
            "connectgaps": False,
        }
        for name, ys in traces.items()
    ]
    extra = hline(ref, ref_name) if ref is not None else {}
    return figure_json(data, yaxis={"title": {"text": yaxis}}, xaxis={"type": "date"}, **extra)


def grouped_bars(
    categories: list[str], groups: dict[str, dict[str, float]], yaxis: str = "USD / month"
) -> str:
    data = [
        {
            "type": "bar",
            "name": name,
            "x": categories,
            "y": [values.get(c, 0.0) for c in categories],
            "marker": {"color": COLOURS.get(name)},
        }
        for name, values in groups.items()
    ]
    return figure_json(data, barmode="group", yaxis={"title": {"text": yaxis}})
