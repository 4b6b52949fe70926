"""Google Cloud connectors: Cloud Billing Catalog prices and the BigQuery billing export.

Entry points: :class:`GcpClient` (all network calls), :func:`fetch_gcp_prices`,
:func:`machine_shapes`, :class:`BigQueryBillingConnector`.
"""

from .bigquery import BigQueryBillingConnector
from .catalog import MachineShape, fetch_gcp_prices, machine_shapes
from .client import GcpClient

__all__ = [
    "BigQueryBillingConnector",
    "GcpClient",
    "MachineShape",
    "fetch_gcp_prices",
    "machine_shapes",
]
