"""Every Prometheus call Headroom makes (prometheus-api-client), with timeouts and shared retries.

The client's own urllib3 retries are switched off so that retries happen once, in
:func:`ingest.retry.call_with_retry`. A bearer token, if the server needs one, is read from
the environment variable named by ``token_env`` (never stored).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..errors import PrometheusHTTPError
from ..retry import RetryPolicy, call_with_retry


class PrometheusClient:
    def __init__(
        self,
        url: str,
        *,
        policy: RetryPolicy | None = None,
        token: str | None = None,
        verify_tls: bool = True,
    ) -> None:
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        self.url = url.rstrip("/")
        self.policy = policy or RetryPolicy()
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._prom = PrometheusConnect(
            url=self.url,
            headers=headers,
            disable_ssl=not verify_tls,
            retry=Retry(total=0, raise_on_status=False),
            timeout=self.policy.timeout_s,
        )

    def _query_range(
        self, promql: str, start: dt.datetime, end: dt.datetime, step_s: int
    ) -> list[dict[str, Any]]:
        from prometheus_api_client.exceptions import PrometheusApiClientException

        try:
            return self._prom.custom_query_range(
                promql, start_time=start, end_time=end, step=f"{int(step_s)}s"
            )  # type: ignore[no-any-return]
        except PrometheusApiClientException as exc:
            m = re.search(r"HTTP Status Code (\d{3})", str(exc))
            raise PrometheusHTTPError(
                int(m.group(1)) if m else 0, f"Prometheus refused {promql!r}: {exc}"
            ) from exc

    def query_range(
        self, promql: str, start: dt.datetime, end: dt.datetime, step_s: int
    ) -> list[dict[str, Any]]:
        """Matrix result: ``[{"metric": {labels}, "values": [[unix_s, "value"], ...]}, ...]``."""
        return call_with_retry(
            self._query_range,
            promql,
            start,
            end,
            step_s,
            what=f"Prometheus query_range {promql[:80]!r}",
            policy=self.policy,
        )

    def reachable(self) -> bool:
        return bool(
            call_with_retry(
                self._prom.check_prometheus_connection,
                what="Prometheus connection check",
                policy=self.policy,
            )
        )
