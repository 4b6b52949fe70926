"""Every Azure network call Headroom makes: Cost Management Query and Blob Storage (exports).

Credentials: a ``TokenCredential`` — by default ``DefaultAzureCredential`` (managed identity,
workload identity, environment, Azure CLI), optionally pinned to one managed identity by
client id. SDK retries are off (``retry_total=0``) so retries happen once, in
:func:`ingest.retry.call_with_retry`, which honours ``Retry-After`` on 429. Every call has a
connect/read timeout. ``arm_endpoint`` overrides the Resource Manager URL (sovereign clouds,
tests); ``connection_verify`` may name a CA bundle.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConnectorError
from ..retry import RetryPolicy, call_with_retry


def default_credential(managed_identity_client_id: str | None = None) -> Any:
    from azure.identity import DefaultAzureCredential

    if managed_identity_client_id:
        return DefaultAzureCredential(managed_identity_client_id=managed_identity_client_id)
    return DefaultAzureCredential()


def split_blob_url(url: str) -> tuple[str, str, str]:
    """``(account_url, container, prefix)`` of ``https://acct.blob.core.windows.net/container/dir``.

    For IP or localhost hosts the first path segment is the account (the Azurite / SDK
    convention): ``https://127.0.0.1:10000/acct/container/dir``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConnectorError(
            f"{url!r}: an Azure export location must be https://<account>.blob.core.windows.net/<container>/<path>"
        )
    segs = [s for s in parts.path.split("/") if s]
    host = parts.hostname or ""
    try:
        ip_style = host == "localhost" or bool(ipaddress.ip_address(host))
    except ValueError:
        ip_style = False
    base = f"{parts.scheme}://{parts.netloc}"
    if ip_style:
        if len(segs) < 2:
            raise ConnectorError(f"{url!r}: expected https://host/<account>/<container>/<path>")
        base, segs = f"{base}/{segs[0]}", segs[1:]
    if not segs:
        raise ConnectorError(f"{url!r}: no container name in the export location")
    return base, segs[0], "/".join(segs[1:])


class AzureClient:
    def __init__(
        self,
        credential: Any,
        *,
        arm_endpoint: str | None = None,
        policy: RetryPolicy | None = None,
        connection_verify: bool | str = True,
    ) -> None:
        self.credential = credential
        self.arm_endpoint = arm_endpoint
        self.policy = policy or RetryPolicy()
        self._sdk_options: dict[str, Any] = {
            "retry_total": 0,
            "connection_timeout": self.policy.timeout_s,
            "read_timeout": self.policy.timeout_s,
            "connection_verify": connection_verify,
        }
        self._cost: Any = None

    # -- Cost Management Query ----------------------------------------------------------
    def cost_client(self) -> Any:
        if self._cost is None:
            from azure.mgmt.costmanagement import CostManagementClient

            kwargs: dict[str, Any] = dict(self._sdk_options)
            if self.arm_endpoint:
                kwargs["base_url"] = self.arm_endpoint
                kwargs["credential_scopes"] = ["https://management.azure.com/.default"]
            self._cost = CostManagementClient(self.credential, **kwargs)
        return self._cost

    def _next_page(self, next_link: str, definition: dict[str, Any]) -> dict[str, Any]:
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        response = self.cost_client().send_request(HttpRequest("POST", next_link, json=definition))
        if response.status_code != 200:
            raise HttpResponseError(response=response)
        return response.json()  # type: ignore[no-any-return]

    def query_pages(self, scope: str, definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Pages of a Query ``usage`` result as dicts (``properties.columns/rows/nextLink``).

        The first page comes from ``query.usage``; later pages by POSTing the same definition to
        ``nextLink`` through the same client pipeline (auth, timeouts).
        """
        client = self.cost_client()
        first = call_with_retry(
            client.query.usage,
            scope,
            definition,
            what=f"Azure Cost Management query ({scope})",
            policy=self.policy,
        )
        page = dict(first) if first is not None else {"properties": {"columns": [], "rows": []}}
        page = _as_plain(page)
        while True:
            yield page
            link = (page.get("properties") or {}).get("nextLink")
            if not link:
                return
            page = call_with_retry(
                self._next_page,
                link,
                definition,
                what="Azure Cost Management query (next page)",
                policy=self.policy,
            )

    # -- Blob storage (exports) ---------------------------------------------------------
    def container(self, account_url: str, container: str) -> Any:
        from azure.storage.blob import ContainerClient

        return ContainerClient(
            account_url, container, credential=self.credential, **self._sdk_options
        )

    def list_blobs(self, account_url: str, container: str, prefix: str) -> list[dict[str, Any]]:
        """Every blob under ``prefix``: dicts with name, etag, size, last_modified."""

        def fetch() -> list[dict[str, Any]]:
            cc = self.container(account_url, container)
            return [
                {"name": b.name, "etag": b.etag, "size": b.size, "last_modified": b.last_modified}
                for b in cc.list_blobs(name_starts_with=prefix or None)
            ]

        return call_with_retry(
            fetch, what=f"Azure Blob list {account_url}/{container}/{prefix}", policy=self.policy
        )

    def download_bytes(self, account_url: str, container: str, name: str) -> bytes:
        def fetch() -> bytes:
            return bytes(self.container(account_url, container).download_blob(name).readall())

        return call_with_retry(
            fetch, what=f"Azure Blob download {container}/{name}", policy=self.policy
        )

    def download_to(self, account_url: str, container: str, name: str, path: str) -> int:
        """Stream a blob to a local file (bounded memory); returns bytes written."""

        def fetch() -> int:
            with open(path, "wb") as f:
                return int(self.container(account_url, container).download_blob(name).readinto(f))

        return call_with_retry(
            fetch, what=f"Azure Blob download {container}/{name}", policy=self.policy
        )


def _as_plain(obj: Any) -> Any:
    """SDK models are MutableMappings; make nested ones plain dicts/lists."""
    if isinstance(obj, dict) or hasattr(obj, "keys"):
        return {k: _as_plain(obj[k]) for k in obj}
    if isinstance(obj, list):
        return [_as_plain(x) for x in obj]
    return obj
