"""Prometheus / DCGM exporter usage connector.

Entry points: :class:`PrometheusClient` (all network calls), :func:`read_usage`,
:class:`UsageQueries` (configurable PromQL per service), :func:`selector_for`.
"""

from .client import PrometheusClient, PrometheusHTTPError
from .usage import DEFAULT_QUERIES, UsageQueries, UsageResult, UsageRow, read_usage, selector_for

__all__ = [
    "DEFAULT_QUERIES",
    "PrometheusClient",
    "PrometheusHTTPError",
    "UsageQueries",
    "UsageResult",
    "UsageRow",
    "read_usage",
    "selector_for",
]
