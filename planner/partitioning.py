"""Monthly declarative partitions on PostgreSQL (PARTITION BY RANGE on a date or timestamp
column), and the retention that drops whole months. Used by the daily cost rollups
(``planner/billing/partitions.py``) and the usage samples (``planner/usage/partitions.py``).

Queries that filter on the partition column read only the months they cover; dropping a month
past the retention is a metadata operation instead of a long DELETE. Rows for a month with no
partition yet land in the DEFAULT partition, never fail. SQLite (one host, development) keeps
a plain table: the migration step is a no-op there and retention deletes rows instead.

Month bounds of a ``timestamp with time zone`` column are UTC midnights.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.apps import apps

log = logging.getLogger(__name__)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class MonthlyPartitions:
    """One table partitioned by month on `column` (a DateField, or a DateTimeField when
    `timestamp`). `model` is the Django label ("billing.CostRollup") used where rows are
    deleted through the ORM (SQLite, the default partition of an unpartitioned table)."""

    table: str
    column: str
    model: str
    timestamp: bool = False

    @property
    def default_partition(self) -> str:
        return f"{self.table}_pdefault"

    def partition_name(self, month: dt.date) -> str:
        return f"{self.table}_p{month:%Y_%m}"

    def bound(self, month: dt.date):
        """The value of the partition column where `month` starts (UTC midnight for times)."""
        if self.timestamp:
            return dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
        return month

    def _literal(self, month: dt.date) -> str:
        return f"{month.isoformat()} 00:00:00+00" if self.timestamp else month.isoformat()

    def is_partitioned(self, cursor) -> bool:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [self.table]
        )
        return cursor.fetchone() is not None

    def convert(self, connection) -> None:
        """Migration step: rebuild the table as a partitioned one with the same columns,
        defaults, checks, foreign keys, unique constraints and index names (so later migrations
        apply unchanged), copy the rows, and create a partition per month from the oldest row
        (or three years back) to two years ahead. The primary key becomes (id, column), as
        PostgreSQL requires; ids stay unique through the identity sequence. No-op on SQLite."""
        if connection.vendor != "postgresql":
            return
        table, old = self.table, f"{self.table}_unpartitioned"
        with connection.cursor() as cur:
            if self.is_partitioned(cur):
                return
            cur.execute(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY conname",
                [table],
            )
            constraints = cur.fetchall()
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
                "NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u') "
                "AND conrelid = %s::regclass)",
                [table, table],
            )
            indexes = cur.fetchall()
            cur.execute(f"SELECT min({self.column}) FROM {table}")
            oldest = cur.fetchone()[0]
            # rows written earlier in this transaction leave deferred FK checks pending, and
            # PostgreSQL refuses to ALTER a table with pending trigger events: run them now
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
            cur.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")
            for name, _, _ in constraints:
                cur.execute(f'ALTER TABLE {old} DROP CONSTRAINT "{name}"')
            for name, _ in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            cur.execute(
                f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                f"INCLUDING IDENTITY) PARTITION BY RANGE ({self.column})"
            )
            cur.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, {self.column})"
            )
            for name, _, definition in constraints:
                cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            cur.execute(f"CREATE TABLE {self.default_partition} PARTITION OF {table} DEFAULT")
            today = month_start(dt.date.today())
            if isinstance(oldest, dt.datetime):
                oldest = oldest.astimezone(dt.UTC).date()
            first = month_start(oldest) if oldest else add_months(today, -36)
            self.ensure(connection, first, add_months(today, 24))
            for _name, definition in indexes:  # read before the rename: they name the table
                cur.execute(definition)
            cur.execute(f"INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM {old}")
            cur.execute(f"DROP TABLE {old}")
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )

    def ensure(self, connection, first: dt.date, last: dt.date) -> list[str]:
        """Create the monthly partitions from `first` to `last` (inclusive months) that are
        missing. A month that already has rows in the DEFAULT partition is skipped (PostgreSQL
        would refuse) and logged; its rows stay readable there."""
        created: list[str] = []
        if connection.vendor != "postgresql":
            return created
        with connection.cursor() as cur:
            if not self.is_partitioned(cur):
                return created
            month = month_start(first)
            while month <= last:
                name, end = self.partition_name(month), add_months(month, 1)
                cur.execute("SELECT to_regclass(%s)", [name])
                if cur.fetchone()[0] is None:
                    cur.execute(
                        f"SELECT 1 FROM {self.default_partition} WHERE {self.column} >= %s "
                        f"AND {self.column} < %s LIMIT 1",
                        [self.bound(month), self.bound(end)],
                    )
                    if cur.fetchone():
                        log.warning("%s of %s are in the default partition", self.table, month)
                    else:
                        cur.execute(
                            f"CREATE TABLE {name} PARTITION OF {self.table} FOR VALUES "
                            f"FROM ('{self._literal(month)}') TO ('{self._literal(end)}')"
                        )
                        created.append(name)
                month = end
        return created

    def _delete_rows_before(self, cutoff: dt.date) -> int:
        manager = apps.get_model(self.model).objects
        return manager.filter(**{f"{self.column}__lt": self.bound(cutoff)}).delete()[0]

    def drop_before(self, connection, cutoff: dt.date) -> int:
        """Retention: remove rows before `cutoff` (a month start). Whole partitions are detached
        and dropped; rows in the default partition (or on SQLite) are deleted. Returns the
        number of partitions dropped (PostgreSQL) or rows deleted (elsewhere)."""
        cutoff = month_start(cutoff)
        if connection.vendor != "postgresql":
            return self._delete_rows_before(cutoff)
        dropped = 0
        with connection.cursor() as cur:
            if not self.is_partitioned(cur):
                return self._delete_rows_before(cutoff)
            cur.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass",
                [self.table],
            )
            children = [name for (name,) in cur.fetchall()]
            # Django's foreign keys are deferred: check them now, or a partition written in
            # this transaction cannot be dropped ("pending trigger events").
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name in children:
                if name == self.default_partition:
                    continue
                month = dt.datetime.strptime(name[-7:], "%Y_%m").date()
                if add_months(month, 1) <= cutoff:
                    cur.execute(f"ALTER TABLE {self.table} DETACH PARTITION {name}")
                    cur.execute(f"DROP TABLE {name}")
                    dropped += 1
            cur.execute(
                f"DELETE FROM {self.default_partition} WHERE {self.column} < %s",
                [self.bound(cutoff)],
            )
        return dropped

    def maintain(self, connection, retention_months: int, ahead_months: int = 24) -> dict:
        """Beat: partitions for the coming months; with a retention, drop the months before."""
        today = month_start(dt.date.today())
        created = self.ensure(connection, today, add_months(today, ahead_months))
        dropped = (
            self.drop_before(connection, add_months(today, -retention_months))
            if retention_months > 0
            else 0
        )
        return {"created": len(created), "dropped": dropped}
