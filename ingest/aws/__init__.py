"""AWS connectors: data exports in S3 (CUR 2.0, FOCUS), Cost Explorer, EC2 spot prices.

Entry points: :class:`AwsClient` (all network calls), :class:`AwsExportConnector`,
:class:`CostExplorerConnector`, :func:`fetch_spot_prices`, :func:`cur_to_focus`.
"""

from .client import AwsClient
from .cost_explorer import CostExplorerConnector
from .cur import cur_to_focus
from .exports import AwsExportConnector
from .spot import fetch_spot_prices

__all__ = [
    "AwsClient",
    "AwsExportConnector",
    "CostExplorerConnector",
    "cur_to_focus",
    "fetch_spot_prices",
]
