"""Azure connectors: Cost Management Query (ActualCost + AmortizedCost) and FOCUS cost exports.

Entry points: :class:`AzureClient` (all network calls), :func:`default_credential`,
:class:`AzureQueryConnector`, :class:`AzureExportConnector`.
"""

from .client import AzureClient, default_credential, split_blob_url
from .exports import AzureExportConnector
from .query import AzureQueryConnector

__all__ = [
    "AzureClient",
    "AzureExportConnector",
    "AzureQueryConnector",
    "default_credential",
    "split_blob_url",
]
