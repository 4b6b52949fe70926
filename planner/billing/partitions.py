"""Monthly declarative partitions of the daily rollups on PostgreSQL (``billing_costrollup``,
partitioned by RANGE on ``date``), and the retention that drops whole months.

Queries that filter on ``date`` (every dashboard and API range) read only the months they
cover; replacing a billing period touches one or two partitions; dropping a month past
``ROLLUP_RETENTION_MONTHS`` is a metadata operation instead of a long DELETE. Rows for a month
with no partition yet land in the DEFAULT partition, never fail. SQLite (one host, development)
keeps a plain table: every function here is a no-op there, retention deletes rows instead.
"""

from __future__ import annotations

import datetime as dt
import logging

log = logging.getLogger(__name__)
TABLE = "billing_costrollup"
DEFAULT_PARTITION = f"{TABLE}_pdefault"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_p{month:%Y_%m}"


def is_partitioned(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE])
    return cursor.fetchone() is not None


def partition_to_rollups(connection) -> None:
    """Migration step: rebuild the rollup table as a partitioned one with the same columns,
    defaults, checks, foreign keys and index names (so later migrations apply unchanged), copy
    the rows, and create a partition per month from the oldest row to two years ahead."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        if is_partitioned(cur):
            return
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p' "
            "AND conrelid = %s::regclass)",
            [TABLE, TABLE],
        )
        indexes = cur.fetchall()
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [TABLE],
        )
        foreign = cur.fetchall()
        cur.execute(f"SELECT min(date) FROM {TABLE}")
        oldest = cur.fetchone()[0]
        old = f"{TABLE}_unpartitioned"
        cur.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
        cur.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {TABLE}_pkey TO {old}_pkey")
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        for name, _ in foreign:
            cur.execute(f'ALTER TABLE {old} DROP CONSTRAINT "{name}"')
        cur.execute(
            f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING IDENTITY) PARTITION BY RANGE (date)"
        )
        cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, date)")
        for name, definition in foreign:
            cur.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
        cur.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")
        today = dt.date.today()
        first = month_start(oldest) if oldest else add_months(month_start(today), -36)
        ensure_partitions(connection, first, add_months(month_start(today), 24))
        for _name, definition in indexes:  # read before the rename: they name TABLE
            cur.execute(definition)
        cur.execute(f"INSERT INTO {TABLE} OVERRIDING SYSTEM VALUE SELECT * FROM {old}")
        cur.execute(f"DROP TABLE {old}")
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
            f"coalesce((SELECT max(id) FROM {TABLE}), 0) + 1, false)"
        )


def ensure_partitions(connection, first: dt.date, last: dt.date) -> list[str]:
    """Create the monthly partitions from `first` to `last` (inclusive months) that are missing.
    A month that already has rows in the DEFAULT partition is skipped (PostgreSQL would refuse)
    and logged; its rows stay readable there."""
    created: list[str] = []
    if connection.vendor != "postgresql":
        return created
    with connection.cursor() as cur:
        if not is_partitioned(cur):
            return created
        month = month_start(first)
        while month <= last:
            name, end = partition_name(month), add_months(month, 1)
            cur.execute("SELECT to_regclass(%s)", [name])
            if cur.fetchone()[0] is None:
                cur.execute(
                    f"SELECT 1 FROM {DEFAULT_PARTITION} WHERE date >= %s AND date < %s LIMIT 1",
                    [month, end],
                )
                if cur.fetchone():
                    log.warning("rollups of %s are in the default partition; not split", month)
                else:
                    cur.execute(
                        f"CREATE TABLE {name} PARTITION OF {TABLE} "
                        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
                    )
                    created.append(name)
            month = end
    return created


def drop_before(connection, cutoff: dt.date) -> int:
    """Retention: remove rollups dated before `cutoff` (a month start). Whole partitions are
    detached and dropped; rows in the default partition (or on SQLite) are deleted. Returns the
    number of partitions dropped (PostgreSQL) or rows deleted (elsewhere)."""
    from planner.billing.models import CostRollup

    if connection.vendor != "postgresql":
        return CostRollup.objects.filter(date__lt=cutoff).delete()[0]
    dropped = 0
    with connection.cursor() as cur:
        if not is_partitioned(cur):
            return CostRollup.objects.filter(date__lt=cutoff).delete()[0]
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        # Django's foreign keys are deferred: check them now, or a partition written in this
        # transaction cannot be dropped ("pending trigger events").
        children = [name for (name,) in cur.fetchall()]
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in children:
            if name == DEFAULT_PARTITION:
                continue
            month = dt.datetime.strptime(name[-7:], "%Y_%m").date()
            if add_months(month, 1) <= cutoff:
                cur.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
                cur.execute(f"DROP TABLE {name}")
                dropped += 1
        cur.execute(f"DELETE FROM {DEFAULT_PARTITION} WHERE date < %s", [cutoff])
    return dropped


def maintain(connection, retention_months: int, ahead_months: int = 24) -> dict:
    """Beat: partitions for the coming months; with a retention, drop the months before it."""
    today = month_start(dt.date.today())
    created = ensure_partitions(connection, today, add_months(today, ahead_months))
    dropped = (
        drop_before(connection, add_months(today, -retention_months)) if retention_months > 0 else 0
    )
    return {"created": len(created), "dropped": dropped}
