"""Online anomaly detection for cost and usage series (pure Python, no Django).

Public API: :func:`detect` and :class:`OnlineAnomalyDetector`; command line
``python -m costmodels.anomaly --input IN.csv --output OUT.csv``.
"""

import os

# The models solve many small least-squares problems and rolling windows: a multi-threaded
# BLAS only adds contention (20k points: 25 s -> 8 s wall on a loaded 2-core machine).
# Takes effect when this package is imported before numpy, as the command line does.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


from costmodels.anomaly.estimator import RESULT_COLUMNS, OnlineAnomalyDetector, detect  # noqa: E402

__all__ = ["RESULT_COLUMNS", "OnlineAnomalyDetector", "detect"]
