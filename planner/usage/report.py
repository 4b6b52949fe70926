"""The service page's, dashboard's and API's view of unit economics: plain dicts (cacheable)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from planner.usage.economics import (
    build_vs_buy,
    fleet_unit_costs_by_service,
    service_unit_costs,
)
from planner.usage.slo import latency_slos, measured_capacity

ESTIMATED = "estimated: requests × units_per_request (no server counter for this unit)"


def unit_cost_rows(service, start: dt.date, end: dt.date) -> list[dict]:
    return _rows(service_unit_costs(service, start, end))


def service_unit_economics(service, start: dt.date, end: dt.date) -> dict:
    """Everything measured about a service's units, latency and capacity over [start, end]."""
    cap = measured_capacity(service, start, end)
    bvb = build_vs_buy(service, start, end)
    return {
        "service": service.slug,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "unit_costs": unit_cost_rows(service, start, end),
        "latency_slos": [dataclasses.asdict(s) for s in latency_slos(service, start, end)],
        "capacity": None
        if cap is None
        else {
            **dataclasses.asdict(cap.fit),
            "configured_rps_per_replica": cap.configured_rps_per_replica,
            "samples_from": cap.samples_from,
            "r2_is_in_sample": True,
        },
        "build_vs_buy": None if bvb is None else dataclasses.asdict(bvb),
    }


def _rows(unit_costs) -> list[dict]:
    rows = []
    for u in unit_costs:
        d = dataclasses.asdict(u)
        d.pop("series")
        rows.append(d)
    return rows


def fleet_unit_costs(services, start: dt.date, end: dt.date) -> list[dict]:
    """The dashboard's table: each service's measured unit costs with the metric behind them."""
    services = list(services)
    by_service = fleet_unit_costs_by_service(services, start, end)
    return [
        {"service": s.name, "slug": s.slug, **row}
        for s in services
        for row in _rows(by_service.get(s.pk, []))
    ]
