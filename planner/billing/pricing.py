"""The one price catalog: the seed catalog (costmodels/data) with every refreshed price applied.

Refreshes (EC2 spot price history, the GCP Cloud Billing catalog) are fetched by the task
``refresh_price_catalog`` (billing/connector_tasks.py) and merged here into
``VAR_DIR/prices/price_updates.csv``; :func:`catalog` is what every reader (what-if engine,
recommendations, plans) uses, rebuilt only when that file changes.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.utils import timezone

from costmodels.catalog import PriceCatalog


def catalog() -> PriceCatalog:
    """The price catalog with the latest refreshed prices applied (cached per file version)."""
    path = price_updates_path()
    return _catalog_at(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=2)
def _catalog_at(path: str, stamp: int) -> PriceCatalog:
    return refreshed_price_catalog(Path(path))


def price_updates_path() -> Path:
    return Path(settings.VAR_DIR) / "prices" / "price_updates.csv"


def save_price_updates(rows: list[dict], source: str, path: Path | None = None) -> int:
    """Merge refreshed prices into the CSV (one row per provider × type × region × source)."""
    path = path or price_updates_path()
    if not rows:
        return 0
    new = pd.DataFrame(rows).assign(source=source, fetched_at=timezone.now().isoformat())
    if path.exists():
        old = pd.read_csv(path)
        key = ["provider", "instance_type", "region", "source"]
        old = old.merge(new[key], on=key, how="left", indicator=True)
        old = old[old["_merge"] == "left_only"].drop(columns="_merge")
        new = pd.concat([old, new], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    new.to_csv(tmp, index=False)
    tmp.replace(path)  # readers never see a half-written file
    return len(rows)


def _refresh_log_path() -> Path:
    return Path(settings.VAR_DIR) / "prices" / "last_refresh.json"


def _refresh_log() -> dict[str, str]:
    path = _refresh_log_path()
    return json.loads(path.read_text()) if path.exists() else {}


def _note_refresh(source: str) -> None:
    log_ = {**_refresh_log(), source: timezone.now().isoformat()}
    path = _refresh_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(log_, indent=1, sort_keys=True))
    tmp.replace(path)


def refreshed_price_catalog(path: Path | None = None):
    """The seed :class:`costmodels.catalog.PriceCatalog` with every saved refresh applied."""
    catalog = PriceCatalog.load_default()
    path = path or price_updates_path()
    if path.exists():
        df = pd.read_csv(path)
        for source, group in df.groupby("source"):
            catalog.update_prices(
                group.drop(columns=["source", "fetched_at"], errors="ignore"), source=str(source)
            )
    return catalog
