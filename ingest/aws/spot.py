"""EC2 spot price history -> price-catalog updates (``costmodels.catalog.PriceCatalog.update_prices``).

For each (instance type, region) the latest price of every availability zone in the
window is taken and the *median over zones* becomes ``spot_usd_per_hour`` (USD per
instance-hour, Linux/UNIX). Pages are followed through ``NextToken``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from typing import Any

from .client import AwsClient

PRODUCT = "Linux/UNIX (Amazon VPC)"
SOURCE = "aws_spot_price_history"


def latest_by_zone(history: Iterable[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(instance type, zone) -> the most recent SpotPrice (USD/hour)."""
    best: dict[tuple[str, str], tuple[Any, float]] = {}
    for h in history:
        key = (h["InstanceType"], h["AvailabilityZone"])
        ts = h.get("Timestamp")
        if key not in best or (ts is not None and ts > best[key][0]):
            best[key] = (ts, float(h["SpotPrice"]))
    return {k: v[1] for k, v in best.items()}


def price_updates(history: Iterable[dict[str, Any]], region: str) -> list[dict[str, Any]]:
    """Rows for ``PriceCatalog.update_prices``: one per instance type, median over zones."""
    by_type: dict[str, list[float]] = {}
    for (itype, _zone), price in latest_by_zone(history).items():
        by_type.setdefault(itype, []).append(price)
    return [
        {
            "provider": "aws",
            "instance_type": t,
            "region": region,
            "spot_usd_per_hour": round(statistics.median(p), 6),
        }
        for t, p in sorted(by_type.items())
    ]


def fetch_spot_prices(
    client: AwsClient,
    region: str,
    instance_types: list[str],
    *,
    hours: int = 24,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Spot price history of ``instance_types`` in ``region`` over the last ``hours``, as update rows."""
    if not instance_types:
        return []
    end = now or dt.datetime.now(dt.UTC)
    request: dict[str, Any] = {
        "InstanceTypes": sorted(set(instance_types)),
        "ProductDescriptions": [PRODUCT],
        "StartTime": end - dt.timedelta(hours=hours),
        "EndTime": end,
        "MaxResults": 1000,
    }
    history: list[dict[str, Any]] = []
    while True:
        page = client.spot_price_history_page(region, **request)
        history.extend(page.get("SpotPriceHistory", []))
        token = page.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    return price_updates(history, region)
