"""The page cache (planner/core/pagecache.py) against a real Redis: values are shared between
processes through Redis, a process keeps what it read for at most LOCAL_TTL seconds and never
past the value's own timeout, the local tier is bounded (least recently used out first), and a
delete reaches both tiers. Each instance below stands for one web process."""

from __future__ import annotations

import pytest

from planner.core import pagecache
from tests.conftest import skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/12"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(pagecache.time, "monotonic", c)
    return c


def _cache(**params) -> pagecache.TieredRedisCache:
    return pagecache.TieredRedisCache(
        REDIS_URL, {"LOCAL_MAX_ENTRIES": 3, "LOCAL_TTL": 30, "KEY_PREFIX": "t", **params}
    )


@pytest.fixture
def redis_db():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        skip_or_fail(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    client.flushdb()


def _drop_in_redis(client, cache, key: str) -> None:
    """Remove a key behind the cache's back, as another process's delete or an expiry would."""
    client.delete(cache.make_key(key))


def test_a_value_is_shared_through_redis_and_kept_locally(redis_db, clock):
    web1, web2 = _cache(), _cache()
    web1.set("page", {"spend": 12.5})
    assert web2.get("page") == {"spend": 12.5}  # read from Redis by the other process
    _drop_in_redis(redis_db, web1, "page")
    assert web2.get("page") == {"spend": 12.5}  # now kept in web2's own tier
    assert web1.get("page") == {"spend": 12.5}  # and in web1's (it wrote it)
    assert _cache().get("page") is None  # a new process finds nothing: it was only in Redis


def test_local_copies_expire_after_local_ttl_or_their_timeout(redis_db, clock):
    web = _cache()
    web.set("long", "a", timeout=300)
    web.set("short", "b", timeout=5)
    _drop_in_redis(redis_db, web, "long")
    _drop_in_redis(redis_db, web, "short")
    clock.now += 4.9
    assert (web.get("long"), web.get("short")) == ("a", "b")
    clock.now += 0.2  # 5.1 s: past the short value's own timeout
    assert (web.get("long"), web.get("short")) == ("a", None)
    clock.now += 25.0  # 30.1 s: past LOCAL_TTL
    assert web.get("long") is None


def test_the_local_tier_is_bounded_least_recently_used_out(redis_db, clock):
    web = _cache()
    for k in "abc":
        web.set(k, k.upper())
    assert web.get("a") == "A"  # a is now the most recently used
    web.set("d", "D")  # over 3 entries: b goes
    for k in "abcd":
        _drop_in_redis(redis_db, web, k)
    assert [web.get(k) for k in "abcd"] == ["A", None, "C", "D"]


def test_get_or_set_computes_once_and_delete_reaches_both_tiers(redis_db, clock):
    web1, web2 = _cache(), _cache()
    calls = []

    def compute():
        calls.append(1)
        return [1, 2, 3]

    assert web1.get_or_set("figures", compute) == [1, 2, 3]
    assert web2.get_or_set("figures", compute) == [1, 2, 3]  # web1's value, through Redis
    assert len(calls) == 1
    web1.delete("figures")
    assert web1.get("figures") is None
    assert redis_db.exists(web1.make_key("figures")) == 0
