"""Monthly declarative partitions of the usage samples on PostgreSQL (``billing_usagesample``,
partitioned by RANGE on ``ts``, months in UTC), and the retention that drops whole months
(``USAGE_RETENTION_MONTHS``). Minute samples are the largest table Headroom keeps: a query over
a window reads only its months, and retention is a DROP TABLE instead of a DELETE of millions
of rows. SQLite keeps a plain table (retention deletes rows there). See
:mod:`planner.partitioning`.
"""

from __future__ import annotations

from planner.partitioning import MonthlyPartitions

USAGE_SAMPLES = MonthlyPartitions(
    table="billing_usagesample", column="ts", model="usage.UsageSample", timestamp=True
)
