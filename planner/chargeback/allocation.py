"""Allocation of a period's bill to teams (the rules are described in ``models.py``).

:func:`allocate` is pure (pandas in, dataclass out) so the property tests can drive it with
any records and rules; :func:`allocate_period` feeds it the line items of a date range in the
reporting currency (split-allocated records, FOCUS 1.3+ ``AllocatedTags``, are matched by
the tags of the workload their cost was split to) and the rules stored in the database.

Invariant: ``sum(direct) + sum(shared) + unallocated == total`` (the sum of the records'
effective cost), whatever the rules.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from planner.chargeback.errors import AllocationRuleError

UNALLOCATED = "(unallocated)"
COLUMNS = [
    "tags",
    "ServiceName",
    "ServiceCategory",
    "ChargeCategory",
    "RegionId",
    "SkuId",
    "ConsumedUnit",
    "cost",
    "quantity",
]


@dataclass(frozen=True)
class Rule:
    team: str
    key: str
    value: str


@dataclass(frozen=True)
class Pool:
    name: str
    field: str  # "tag", "untagged" or a FOCUS column
    method: str  # even | usage | spend | fixed
    key: str = ""
    value: str = ""
    usage_unit: str = "Hours"
    teams: tuple[str, ...] = ()  # empty: every team
    percents: tuple[tuple[str, float], ...] = ()  # fixed split: (team, percent)


@dataclass
class Allocation:
    """Amounts in the reporting currency. ``detail`` has one row per (team, source,
    ServiceName): source is ``direct``, a pool's name, or ``unallocated``."""

    teams: list[str]
    total: float
    direct: dict[str, float]
    shared: dict[str, float]
    shared_by_pool: dict[str, dict[str, float]]
    pool_cost: dict[str, float]
    unallocated: float
    detail: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)

    def team_total(self, team: str) -> float:
        return self.direct.get(team, 0.0) + self.shared.get(team, 0.0)

    @property
    def allocated(self) -> float:
        return sum(self.team_total(t) for t in self.teams)


@lru_cache(maxsize=20_000)
def parse_tags(text: str | None) -> dict[str, str]:
    """FOCUS Tags JSON as {key: value as text}; anything unreadable counts as no tags."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _team_of_tags(tags: pd.Series, rules: list[Rule]) -> pd.Series:
    distinct = tags.unique()
    owner = {}
    for text in distinct:
        parsed = parse_tags(text or None)
        owner[text] = next((r.team for r in rules if parsed.get(r.key) == r.value), None)
    return tags.map(owner)


def _pool_mask(frame: pd.DataFrame, pool: Pool) -> pd.Series:
    if pool.field == "untagged":
        return pd.Series(True, index=frame.index)
    if pool.field == "tag":
        hits = {
            t: parse_tags(t or None).get(pool.key) == pool.value for t in frame["tags"].unique()
        }
        return frame["tags"].map(hits).astype(bool)
    return frame[pool.field].astype(object).where(frame[pool.field].notna(), "") == pool.value


def _split(pool: Pool, cost: float, teams: list[str], direct: dict, usage: dict):
    """(share per team, amount left unallocated, note or None)."""
    members = [t for t in (pool.teams or teams) if t in teams]
    if pool.method == "fixed":
        shares = {t: cost * p / 100.0 for t, p in pool.percents if t in teams}
        left = cost - sum(shares.values())
        return shares, left, None
    if not members:
        return {}, cost, f"pool {pool.name}: no team to share with"
    if pool.method == "even":
        weights = {t: 1.0 for t in members}
    elif pool.method == "spend":
        weights = {t: max(direct.get(t, 0.0), 0.0) for t in members}
    elif pool.method == "usage":
        weights = {t: max(usage.get(t, 0.0), 0.0) for t in members}
    else:
        raise AllocationRuleError(f"pool {pool.name}: unknown split method {pool.method!r}")
    basis = sum(weights.values())
    if basis <= 0:
        return {}, cost, f"pool {pool.name}: its teams have no {pool.method} to split by"
    shares = {t: cost * w / basis for t, w in weights.items()}
    return shares, cost - sum(shares.values()), None


def allocate(
    records: pd.DataFrame, rules: list[Rule], pools: list[Pool], teams: list[str]
) -> Allocation:
    """Allocate ``records`` (columns :data:`COLUMNS`; ``cost`` in one currency)."""
    frame = records.reindex(columns=COLUMNS).copy()
    frame["tags"] = frame["tags"].astype(object).where(frame["tags"].notna(), "")
    frame["cost"] = frame["cost"].fillna(0.0).astype(float)
    frame["quantity"] = frame["quantity"].fillna(0.0).astype(float)
    frame["team"] = _team_of_tags(frame["tags"], rules) if len(frame) else pd.Series(dtype=object)
    frame["pool"] = None
    for pool in pools:
        free = frame["team"].isna() & frame["pool"].isna()
        frame.loc[free & _pool_mask(frame, pool), "pool"] = pool.name
    mine = frame[frame["team"].notna()]
    direct = {t: float(mine.loc[mine["team"] == t, "cost"].sum()) for t in teams}
    usage_by_unit = mine.groupby(["team", "ConsumedUnit"])["quantity"].sum()
    shared = {t: 0.0 for t in teams}
    shared_by_pool, pool_cost, notes = {}, {}, []
    unallocated = float(frame.loc[frame["team"].isna() & frame["pool"].isna(), "cost"].sum())
    detail_rows = []
    for pool in pools:
        in_pool = frame[frame["pool"] == pool.name]
        cost = float(in_pool["cost"].sum())
        pool_cost[pool.name] = cost
        usage = {t: float(usage_by_unit.get((t, pool.usage_unit), 0.0)) for t in teams}
        shares, left, note = _split(pool, cost, teams, direct, usage)
        shared_by_pool[pool.name] = shares
        for t, amount in shares.items():
            shared[t] += amount
            detail_rows.append((t, pool.name, pool.name, amount))
        unallocated += left
        if abs(left) > 1e-9:
            detail_rows.append((UNALLOCATED, pool.name, pool.name, left))
        if note:
            notes.append(note)
    for (team, service), cost in (
        mine.groupby(["team", mine["ServiceName"].fillna("")])["cost"].sum().items()
    ):
        detail_rows.append((team, "direct", service, float(cost)))
    rest = frame[frame["team"].isna() & frame["pool"].isna()]
    for service, cost in rest.groupby(rest["ServiceName"].fillna(""))["cost"].sum().items():
        detail_rows.append((UNALLOCATED, "unallocated", service, float(cost)))
    detail = pd.DataFrame(detail_rows, columns=["team", "source", "service_name", "cost"])
    return Allocation(
        teams=list(teams),
        total=float(frame["cost"].sum()),
        direct=direct,
        shared=shared,
        shared_by_pool=shared_by_pool,
        pool_cost=pool_cost,
        unallocated=unallocated,
        detail=detail,
        notes=notes,
    )


# --- from the database ---------------------------------------------------------------------
_RECORDS = """
SELECT coalesce(AllocatedTags, Tags) AS tags, ServiceName, ServiceCategory, ChargeCategory,
  RegionId, SkuId, ConsumedUnit, ChargeDay AS day, BillingCurrency AS currency,
  sum(coalesce(EffectiveCost, 0)) AS cost, sum(coalesce(ConsumedQuantity, 0)) AS quantity
FROM items GROUP BY ALL
"""


def period_records(start: dt.date, end: dt.date, account_ids=None) -> pd.DataFrame:
    """The line items charged from ``start`` to ``end`` (inclusive), grouped by what the rules
    can match, cost in the reporting currency."""
    from planner.billing import lineitems

    frame = lineitems.query(_RECORDS, start, end, account_ids=account_ids)
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame = lineitems.to_reporting(frame, ["cost"])
    keys = [c for c in COLUMNS if c not in ("cost", "quantity")]
    return frame.groupby(keys, dropna=False, as_index=False)[["cost", "quantity"]].sum()


def stored_rules() -> tuple[list[Rule], list[Pool], list[str]]:
    from planner.chargeback.models import SharedCostPool, TagRule, Team

    teams = list(Team.objects.order_by("name").values_list("name", flat=True))
    rules = [
        Rule(r.team.name, r.tag_key, r.tag_value) for r in TagRule.objects.select_related("team")
    ]
    pools = []
    for p in SharedCostPool.objects.prefetch_related("teams", "shares__team"):
        pools.append(
            Pool(
                name=p.name,
                field=p.match_field,
                method=p.method,
                key=p.match_key,
                value=p.match_value,
                usage_unit=p.usage_unit,
                teams=tuple(t.name for t in p.teams.all()),
                percents=tuple((s.team.name, float(s.percent)) for s in p.shares.all()),
            )
        )
    return rules, pools, teams


def allocate_period(start: dt.date, end: dt.date, account_ids=None) -> Allocation:
    rules, pools, teams = stored_rules()
    return allocate(period_records(start, end, account_ids), rules, pools, teams)
