"""Online anomaly detection for cost and usage series (pure Python, no Django).

Public API: :func:`detect` and :class:`OnlineAnomalyDetector`; command line
``python -m costmodels.anomaly --input IN.csv --output OUT.csv``.
"""

from costmodels.anomaly.estimator import RESULT_COLUMNS, OnlineAnomalyDetector, detect

__all__ = ["RESULT_COLUMNS", "OnlineAnomalyDetector", "detect"]
