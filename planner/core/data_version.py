"""The data version: a short string that changes whenever billing or usage data changes, part of
every cached page figure's key (``planner/core/dashboard.py``), so a new load shows at once while
repeated views of unchanged data cost one cache read.

It is read on every cached page view, so it must cost next to nothing at any size:

- PostgreSQL: the newest period load and the number of loads (small table, transactional: a
  billing load updates its period pointer in the transaction that replaces its rollups), and the
  last value of the rollups' and usage samples' identity sequences (every load inserts fresh
  rows). Reading a sequence is O(1); ``MAX(id)`` over monthly partitions is not (planning
  alone took 16 ms over 62 partitions per table, three times per dashboard view).
  A sequence advances when the rows are inserted, before their transaction commits, so a page
  read in between could cache the old figures under the new version; writers without a
  period pointer (usage ingest) therefore call :func:`data_changed` on commit, which advances
  the sequence once more.
- SQLite (development, one host, plain tables): the same aggregates with ``MAX(id)``.

Within one GET or HEAD request the version is read once (:class:`DataVersionMiddleware`):
a page that caches three panels asks the database once, not three times.
"""

from __future__ import annotations

from contextvars import ContextVar

from django.db import connection

_memo: ContextVar[list | None] = ContextVar("headroom_data_version", default=None)


def _tables() -> dict[str, str]:
    from planner.billing.models import BillingPeriodLoad, CostRollup
    from planner.usage.models import UsageSample

    models = {"loads": BillingPeriodLoad, "rollups": CostRollup, "samples": UsageSample}
    return {k: connection.ops.quote_name(m._meta.db_table) for k, m in models.items()}


def _sequence(table: str) -> str:
    return f"pg_sequence_last_value(pg_get_serial_sequence('{table}', 'id')::regclass)"


def read_data_version() -> str:
    """The version as the database has it now (no memo)."""
    t = _tables()
    if connection.vendor == "postgresql":
        rollups, samples = _sequence(t["rollups"]), _sequence(t["samples"])
    else:
        rollups = f"(SELECT MAX(id) FROM {t['rollups']})"
        samples = f"(SELECT MAX(id) FROM {t['samples']})"
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT (SELECT MAX(loaded_at) FROM {t['loads']}),"
            f" (SELECT COUNT(*) FROM {t['loads']}), {rollups}, {samples}"
        )
        return "|".join(str(v) for v in cur.fetchone())


def data_version() -> str:
    """The version, read once per GET/HEAD request (every call outside a request reads it)."""
    memo = _memo.get()
    if memo is None:
        return read_data_version()
    if not memo:
        memo.append(read_data_version())
    return memo[0]


def data_changed() -> None:
    """Advance the version now (PostgreSQL: one more step of the usage samples' sequence). For
    writers whose rows' sequence moved before their commit: call it on commit
    (``transaction.on_commit(data_changed)``). Nothing to do on SQLite (``MAX(id)`` is read
    inside transactions)."""
    if connection.vendor != "postgresql":
        return
    table = _tables()["samples"]
    with connection.cursor() as cur:
        cur.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")


class DataVersionMiddleware:
    """Reads the data version at most once per GET/HEAD request. Writes (POST...) read it at
    each use: a view that loads data and then shows figures must see its own change."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        token = _memo.set([])
        try:
            return self.get_response(request)
        finally:
            _memo.reset(token)
