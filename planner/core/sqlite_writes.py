"""Write sections that stay correct on SQLite, the `make run` default.

SQLite allows one writer at a time. Two threads of one process (eager Celery inside runserver, or
the test server) that write at once get ``database table is locked`` at once when they share a
cache, and two processes get ``database is locked`` once the busy timeout runs out. PostgreSQL
needs none of this: its row locks and unique constraints already make the callers safe.

`sqlite_serialised` runs a write section so that on SQLite
- threads of one process take turns (a process-wide lock), and
- a lock held by another process or connection is retried briefly with backoff;
and when the database stays locked it raises `DatabaseBusy`, which says what to do, instead of
the driver's raw message. The section must be safe to run again (claims by unique constraint,
conditional updates), which is the rule for every task here anyway.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

from planner.core.errors import DatabaseBusy

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_WRITE_LOCK = threading.RLock()
RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


def _is_lock_error(exc: OperationalError) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text


def sqlite_serialised(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: serialise and retry the wrapped write section on SQLite (see module doc)."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if connection.vendor != "sqlite":
                return func(*args, **kwargs)
            for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
                try:
                    with _WRITE_LOCK:
                        return func(*args, **kwargs)
                except OperationalError as exc:
                    if not _is_lock_error(exc):
                        raise
                    if delay is None:
                        raise DatabaseBusy(
                            f"{what}: the SQLite database stayed locked by another writer after "
                            f"{attempt} tries over {sum(RETRY_DELAYS_S):.1f} s. SQLite allows one "
                            "writer at a time; run concurrent workers on PostgreSQL "
                            "(DATABASE_URL=postgres://…)."
                        ) from exc
                    log.info("%s: SQLite locked (try %d), retrying in %.2f s", what, attempt, delay)
                    time.sleep(delay)
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper

    return decorate
