"""Monthly usage-sample partitions on PostgreSQL (by UTC month of ``ts``): samples land in their
month's partition, the unique (deployment, ts, mig_profile) constraint still holds, retention
drops whole months and nothing else, and converting a table that already has rows keeps every
row, constraint and index. On SQLite the migration leaves a plain table and retention deletes
rows. Expected counts come from the list of timestamps the test writes, not from the code.

The PostgreSQL tests run when the suite does (``DATABASE_URL=postgres://…``: pytest-django
creates a fresh test database for the run and drops it after); elsewhere they skip saying so,
and fail in CI (``HEADROOM_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from planner.core.models import CloudAccount, Deployment, Service
from planner.partitioning import MonthlyPartitions
from planner.usage.models import UsageSample
from planner.usage.partitions import USAGE_SAMPLES
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db
UTC = dt.UTC
# Three UTC months, with samples on both sides of each month boundary.
STAMPS = [
    dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    dt.datetime(2026, 1, 15, 12, 0, tzinfo=UTC),
    dt.datetime(2026, 1, 31, 23, 59, tzinfo=UTC),
    dt.datetime(2026, 2, 1, 0, 0, tzinfo=UTC),
    dt.datetime(2026, 2, 28, 23, 59, tzinfo=UTC),
    dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    dt.datetime(2026, 3, 20, 6, 30, tzinfo=UTC),
]


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail(
            "declarative partitioning is PostgreSQL's: run with "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/headroom (a fresh test database)"
        )


@pytest.fixture
def deployment():
    account = CloudAccount.objects.create(provider="aws", account_id="usage-parts", name="u")
    service = Service.objects.create(
        slug="chat", name="Chat", modality="llm_chat", unit_of_work="1k tokens",
        latency_slo_p95_ms=2000, tag_value="chat",
    )  # fmt: skip
    return Deployment.objects.create(
        service=service, account=account, name="chat-a10g", provider="aws", region="us-east-1",
        instance_type="g5.xlarge", gpu_model="A10G", gpu_count=1, throughput_rps_per_replica=1.0,
    )  # fmt: skip


@pytest.fixture
def samples(deployment):
    UsageSample.objects.bulk_create(
        UsageSample(deployment=deployment, ts=ts, gpu_util_pct=50.0) for ts in STAMPS
    )
    return deployment


def test_month_bounds_are_utc_midnights():
    assert USAGE_SAMPLES.partition_name(dt.date(2026, 3, 1)) == "billing_usagesample_p2026_03"
    assert USAGE_SAMPLES.bound(dt.date(2026, 3, 1)) == dt.datetime(2026, 3, 1, tzinfo=UTC)


def test_retention_keeps_exactly_the_samples_from_the_cutoff_month_on(samples):
    cutoff = dt.date(2026, 2, 1)
    expected = sum(ts >= dt.datetime(2026, 2, 1, tzinfo=UTC) for ts in STAMPS)
    assert expected == 4
    USAGE_SAMPLES.drop_before(connection, cutoff)
    kept = sorted(UsageSample.objects.filter(deployment=samples).values_list("ts", flat=True))
    assert kept == [ts for ts in STAMPS if ts >= dt.datetime(2026, 2, 1, tzinfo=UTC)]


def test_sqlite_keeps_a_plain_table(samples):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite behaviour (the newcomer's `make test`)")
    USAGE_SAMPLES.convert(connection)  # the migration step: nothing to do here
    assert USAGE_SAMPLES.ensure(connection, dt.date(2026, 1, 1), dt.date(2026, 3, 1)) == []
    march = dt.datetime(2026, 3, 1, tzinfo=UTC)
    others = UsageSample.objects.exclude(deployment=samples).filter(ts__lt=march).count()
    assert USAGE_SAMPLES.drop_before(connection, dt.date(2026, 3, 1)) == 5 + others  # rows


def test_samples_land_in_their_utc_month_partition(samples):
    needs_postgresql()
    with connection.cursor() as cur:
        assert USAGE_SAMPLES.is_partitioned(cur)
        cur.execute(
            "SELECT tableoid::regclass::text, count(*) FROM billing_usagesample "
            "WHERE deployment_id = %s GROUP BY 1",
            [samples.pk],
        )
        placed = dict(cur.fetchall())
    expected: dict[str, int] = {}
    for ts in STAMPS:
        name = USAGE_SAMPLES.partition_name(ts.date().replace(day=1))
        expected[name] = expected.get(name, 0) + 1
    assert (
        placed
        == expected
        == {
            "billing_usagesample_p2026_01": 3,
            "billing_usagesample_p2026_02": 2,
            "billing_usagesample_p2026_03": 2,
        }
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        UsageSample.objects.create(deployment=samples, ts=STAMPS[0])  # same key, same month


def test_retention_drops_whole_partitions_and_months_can_come_back(samples):
    needs_postgresql()
    assert USAGE_SAMPLES.drop_before(connection, dt.date(2026, 3, 1)) >= 2  # Jan, Feb (+ older)
    with connection.cursor() as cur:
        for month in (1, 2):
            cur.execute("SELECT to_regclass(%s)", [f"billing_usagesample_p2026_0{month}"])
            assert cur.fetchone()[0] is None
    assert UsageSample.objects.filter(deployment=samples).count() == 2
    jan = dt.date(2026, 1, 1)
    assert USAGE_SAMPLES.ensure(connection, jan, jan) == ["billing_usagesample_p2026_01"]
    assert USAGE_SAMPLES.ensure(connection, jan, jan) == []  # idempotent
    UsageSample.objects.create(deployment=samples, ts=STAMPS[0])
    assert UsageSample.objects.filter(deployment=samples).count() == 3


def test_converting_a_table_with_rows_keeps_rows_constraints_and_indexes(deployment):
    """What migration usage.0003 does to an existing installation's table, on a scratch copy."""
    needs_postgresql()
    scratch = MonthlyPartitions(table="scratch_samples", column="ts", model="", timestamp=True)
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE scratch_samples (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY "
            "KEY, deployment_id bigint NOT NULL REFERENCES core_deployment (id) DEFERRABLE "
            "INITIALLY DEFERRED, ts timestamptz NOT NULL, mig_profile varchar(32) NOT NULL, "
            "step_seconds integer NOT NULL CHECK (step_seconds >= 0), "
            "CONSTRAINT scratch_uniq UNIQUE (deployment_id, ts, mig_profile))"
        )
        cur.execute("CREATE INDEX scratch_ts_idx ON scratch_samples (ts)")
        for ts in STAMPS:
            cur.execute(
                "INSERT INTO scratch_samples (deployment_id, ts, mig_profile, step_seconds) "
                "VALUES (%s, %s, '', 60)",
                [deployment.pk, ts],
            )
        scratch.convert(connection)
        assert scratch.is_partitioned(cur)
        cur.execute("SELECT ts FROM scratch_samples ORDER BY ts")
        assert [r[0] for r in cur.fetchall()] == STAMPS
        cur.execute(
            "SELECT conname, contype FROM pg_constraint WHERE conrelid = "
            "'scratch_samples'::regclass ORDER BY conname"
        )
        kinds = dict(cur.fetchall())
        assert kinds["scratch_uniq"] == "u" and kinds["scratch_samples_pkey"] == "p"
        assert "f" in kinds.values() and "c" in kinds.values()
        cur.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'scratch_ts_idx'")
        assert cur.fetchone()
        cur.execute(
            "INSERT INTO scratch_samples (deployment_id, ts, mig_profile, step_seconds) "
            "VALUES (%s, %s, '', 60) RETURNING id",
            [deployment.pk, dt.datetime(2026, 3, 21, tzinfo=UTC)],
        )
        assert cur.fetchone()[0] == len(STAMPS) + 1  # the identity continues after the copy
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute(
                "INSERT INTO scratch_samples (deployment_id, ts, mig_profile, step_seconds) "
                "VALUES (%s, %s, '', 60)",
                [deployment.pk, STAMPS[0]],
            )
