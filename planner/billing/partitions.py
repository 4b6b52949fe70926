"""Monthly declarative partitions of the daily rollups on PostgreSQL (``billing_costrollup``,
partitioned by RANGE on ``date``), and the retention that drops whole months
(``ROLLUP_RETENTION_MONTHS``). The mechanics are shared with the usage samples
(:mod:`planner.partitioning`); this module names the rollup table.

Queries that filter on ``date`` (every dashboard and API range) read only the months they
cover; replacing a billing period touches one or two partitions. SQLite keeps a plain table:
every function here is a no-op there, retention deletes rows instead.
"""

from __future__ import annotations

import datetime as dt

from planner.partitioning import MonthlyPartitions, add_months, month_start

__all__ = ["add_months", "month_start"]

ROLLUPS = MonthlyPartitions(table="billing_costrollup", column="date", model="billing.CostRollup")
TABLE = ROLLUPS.table
DEFAULT_PARTITION = ROLLUPS.default_partition


def partition_name(month: dt.date) -> str:
    return ROLLUPS.partition_name(month)


def is_partitioned(cursor) -> bool:
    return ROLLUPS.is_partitioned(cursor)


def partition_to_rollups(connection) -> None:
    """Migration step (billing 0007): the rollup table becomes partitioned by month."""
    ROLLUPS.convert(connection)


def ensure_partitions(connection, first: dt.date, last: dt.date) -> list[str]:
    return ROLLUPS.ensure(connection, first, last)


def drop_before(connection, cutoff: dt.date) -> int:
    return ROLLUPS.drop_before(connection, cutoff)


def maintain(connection, retention_months: int, ahead_months: int = 24) -> dict:
    return ROLLUPS.maintain(connection, retention_months, ahead_months)
