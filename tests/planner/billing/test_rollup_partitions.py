"""Monthly rollup partitions on PostgreSQL: loads land in their month's partition, ids stay
unique, retention drops whole months and nothing else; SQLite keeps a plain table and retention
deletes rows there. Checked against row counts made independently of the code under test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from fixtures_gen.focus_files import write_focus_file
from ingest.focus.reader import open_focus
from planner.billing import partitions
from planner.billing.loader import load_batches
from planner.billing.models import CostRollup
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def test_month_arithmetic():
    assert partitions.add_months(dt.date(2026, 11, 1), 3) == dt.date(2027, 2, 1)
    assert partitions.add_months(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert partitions.partition_name(dt.date(2026, 3, 1)) == "billing_costrollup_p2026_03"


@pytest.fixture
def loaded(tmp_path, settings):
    settings.LINE_ITEM_STORE = str(tmp_path / "lineitems")
    account = make_account(account_id="partitions", name="p")
    gen = write_focus_file(tmp_path / "f.csv", rows=3000, seed=2, periods=2)
    load_batches(open_focus(str(gen.path)), account)
    return account, gen


def test_rollups_land_in_their_month_partition(loaded):
    if connection.vendor != "postgresql":
        pytest.skip("declarative partitioning is PostgreSQL's (SQLite keeps a plain table)")
    account, gen = loaded
    with connection.cursor() as cur:
        assert partitions.is_partitioned(cur)
        cur.execute(
            "SELECT tableoid::regclass::text, min(date), max(date), count(*) "
            "FROM billing_costrollup WHERE account_id = %s GROUP BY 1 ORDER BY 1",
            [account.pk],
        )
        rows = cur.fetchall()
    assert len(rows) >= 2
    for name, lo, hi, _ in rows:
        assert name == partitions.partition_name(lo.replace(day=1)) and lo.month == hi.month
    assert sum(r[3] for r in rows) == CostRollup.objects.filter(account=account).count()
    ids = list(CostRollup.objects.values_list("id", flat=True))
    assert len(ids) == len(set(ids))


def test_retention_drops_whole_months_before_the_cutoff(loaded):
    account, gen = loaded
    months = sorted({d.replace(day=1) for d in CostRollup.objects.values_list("date", flat=True)})
    keep_from = months[-1]
    expected_left = CostRollup.objects.filter(date__gte=keep_from).count()
    assert 0 < expected_left < CostRollup.objects.count()
    partitions.drop_before(connection, keep_from)
    assert CostRollup.objects.count() == expected_left
    assert not CostRollup.objects.filter(date__lt=keep_from).exists()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", [partitions.partition_name(months[0])])
            assert cur.fetchone()[0] is None  # the partition itself is gone
        # a later month still has its partition, and a new load into a dropped month still works
        assert partitions.ensure_partitions(connection, months[0], months[0]) == [
            partitions.partition_name(months[0])
        ]
        assert partitions.ensure_partitions(connection, months[0], months[0]) == []  # idempotent
