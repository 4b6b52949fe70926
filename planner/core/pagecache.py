"""The page cache: Redis shared by every web process, with a small in-process tier in front.

Every key this cache holds names immutable content: a page's figures and rendered fragments are
stored under a key that carries the data version (``planner/core/data_version.py``) and the
query, so new data means a new key, never a changed value under an old one. A process may
therefore keep what it read: a cached page view then costs no Redis round trip and no
unpickling of tens of kilobytes of figures (about 1.5 ms of a 6 ms dashboard view measured on
the bench's fleet), and the shared Redis still spares each new process the computation.

The local tier is bounded (``LOCAL_MAX_ENTRIES`` values, least recently used first out) and
keeps a value at most ``LOCAL_TTL`` seconds and never past the timeout it was stored with, so a
value cached for a bounded time (the first-run hint's counts: 60 s) is at most ``LOCAL_TTL``
older than Redis's. Values are shared between the requests of one process: callers treat them
as read-only (``dashboard.cached`` hands out a shallow copy with its ``page_key``).

Only for immutable-by-key content: sessions, throttles and lockouts stay on the ``default``
cache, which is plain Redis.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

_MISSING = object()


class TieredRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self.local_max_entries = int(params.get("LOCAL_MAX_ENTRIES", 256))
        self.local_ttl = float(params.get("LOCAL_TTL", 30))
        self._local: OrderedDict[str, tuple[object, float]] = OrderedDict()
        self._lock = threading.Lock()

    # -- the local tier -------------------------------------------------------------------
    def _recall(self, key: str):
        now = time.monotonic()
        with self._lock:
            hit = self._local.get(key)
            if hit is None:
                return _MISSING
            if hit[1] <= now:
                del self._local[key]
                return _MISSING
            self._local.move_to_end(key)
            return hit[0]

    def _remember(self, key: str, value, timeout) -> None:
        seconds = self.get_backend_timeout(timeout)
        ttl = self.local_ttl if seconds is None else min(self.local_ttl, seconds)
        if ttl <= 0:
            return
        with self._lock:
            self._local[key] = (value, time.monotonic() + ttl)
            self._local.move_to_end(key)
            while len(self._local) > self.local_max_entries:
                self._local.popitem(last=False)

    def _forget(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._local.pop(key, None)

    # -- the cache API --------------------------------------------------------------------
    def get(self, key, default=None, version=None):
        full = self.make_and_validate_key(key, version=version)
        value = self._recall(full)
        if value is not _MISSING:
            return value
        value = self._cache.get(full, _MISSING)
        if value is _MISSING:
            return default
        self._remember(full, value, DEFAULT_TIMEOUT)
        return value

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        added = super().add(key, value, timeout=timeout, version=version)
        if added:
            self._remember(self.make_and_validate_key(key, version=version), value, timeout)
        return added

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        super().set(key, value, timeout=timeout, version=version)
        self._remember(self.make_and_validate_key(key, version=version), value, timeout)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        failed = super().set_many(data, timeout=timeout, version=version)
        for key, value in data.items():
            self._remember(self.make_and_validate_key(key, version=version), value, timeout)
        return failed

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        self._forget(self.make_and_validate_key(key, version=version))
        return super().touch(key, timeout=timeout, version=version)

    def delete(self, key, version=None):
        self._forget(self.make_and_validate_key(key, version=version))
        return super().delete(key, version=version)

    def delete_many(self, keys, version=None):
        self._forget(*(self.make_and_validate_key(k, version=version) for k in keys))
        return super().delete_many(keys, version=version)

    def incr(self, key, delta=1, version=None):
        self._forget(self.make_and_validate_key(key, version=version))
        return super().incr(key, delta=delta, version=version)

    def clear(self):
        with self._lock:
            self._local.clear()
        return super().clear()
