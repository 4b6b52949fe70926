"""Every Google Cloud network call Headroom makes: Cloud Billing Catalog and BigQuery.

Credentials: Application Default Credentials (workload identity, metadata server,
``GOOGLE_APPLICATION_CREDENTIALS``) or, when ``credentials_file`` is given, that file.
``credentials`` may also be passed directly (e.g. ``AnonymousCredentials`` for a local
endpoint). The client libraries' own retries are switched off (``retry=None``) so retries
happen once, in :func:`ingest.retry.call_with_retry`; every call carries a timeout.
``catalog_endpoint`` / ``bigquery_endpoint`` override the API endpoints (tests, private
service connect). The catalog uses the REST transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..retry import RetryPolicy, as_connector_error, call_with_retry

COMPUTE_ENGINE_SERVICE = "services/6F81-5844-456A"


class GcpClient:
    def __init__(
        self,
        *,
        project: str | None = None,
        credentials: Any = None,
        credentials_file: str | None = None,
        catalog_endpoint: str | None = None,
        bigquery_endpoint: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.project = project
        self.policy = policy or RetryPolicy()
        self._credentials = credentials
        self._credentials_file = credentials_file
        self.catalog_endpoint = catalog_endpoint
        self.bigquery_endpoint = bigquery_endpoint
        self._catalog: Any = None
        self._bq: Any = None

    def credentials(self) -> Any:
        if self._credentials is None:
            import google.auth

            def load() -> Any:
                if self._credentials_file:
                    creds, project = google.auth.load_credentials_from_file(self._credentials_file)
                else:
                    creds, project = google.auth.default()
                self.project = self.project or project
                return creds

            self._credentials = call_with_retry(load, what="Google credentials", policy=self.policy)
        return self._credentials

    # -- Cloud Billing Catalog ------------------------------------------------------------
    def catalog(self) -> Any:
        if self._catalog is None:
            from google.cloud import billing_v1

            options = {"api_endpoint": self.catalog_endpoint} if self.catalog_endpoint else None
            self._catalog = billing_v1.CloudCatalogClient(
                credentials=self.credentials(), transport="rest", client_options=options
            )
        return self._catalog

    def sku_pages(
        self, service: str = COMPUTE_ENGINE_SERVICE, page_size: int = 5000
    ) -> Iterator[list[dict[str, Any]]]:
        """SKUs of a service, page by page (``nextPageToken`` followed), as plain dicts."""
        from google.cloud import billing_v1

        token = ""
        while True:
            request = billing_v1.ListSkusRequest(
                parent=service, page_size=page_size, page_token=token
            )

            def fetch(request: Any = request) -> Any:
                pager = self.catalog().list_skus(
                    request=request, retry=None, timeout=self.policy.timeout_s
                )
                return next(iter(pager.pages))

            page = call_with_retry(
                fetch, what=f"Cloud Billing list_skus ({service})", policy=self.policy
            )
            yield [billing_v1.Sku.to_dict(s) for s in page.skus]
            token = page.next_page_token
            if not token:
                return

    # -- BigQuery -----------------------------------------------------------------------
    def bigquery(self) -> Any:
        if self._bq is None:
            from google.cloud import bigquery

            options = {"api_endpoint": self.bigquery_endpoint} if self.bigquery_endpoint else None
            self._bq = bigquery.Client(
                project=self.project, credentials=self.credentials(), client_options=options
            )
        return self._bq

    def table_schema(self, table: str) -> list[str]:
        def fetch() -> list[str]:
            return [
                f.name
                for f in self.bigquery()
                .get_table(table, retry=None, timeout=self.policy.timeout_s)
                .schema
            ]

        return call_with_retry(fetch, what=f"BigQuery get_table {table}", policy=self.policy)

    def query_pages(
        self, sql: str, params: list[Any], page_size: int = 50_000
    ) -> Iterator[list[dict[str, Any]]]:
        """Rows of a query, page by page (``pageToken`` followed), as dicts."""
        from google.cloud import bigquery

        def start() -> Any:
            config = bigquery.QueryJobConfig(query_parameters=params)
            job = self.bigquery().query(
                sql, job_config=config, retry=None, job_retry=None, timeout=self.policy.timeout_s
            )
            return job.result(page_size=page_size, retry=None, timeout=self.policy.timeout_s)

        rows = call_with_retry(start, what="BigQuery query", policy=self.policy)
        try:
            # A failed page ends the page iterator, so it is not retried in place: the error is
            # classified and the whole period is retried by the task (loads are atomic).
            for page in rows.pages:
                yield [dict(r.items()) for r in page]
        except Exception as exc:  # noqa: BLE001 - re-raised classified
            err = as_connector_error(exc, "BigQuery getQueryResults")
            if err is exc:
                raise
            raise err from exc
