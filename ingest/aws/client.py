"""Every AWS network call Headroom makes, in one place (boto3, SDK retries off, timeouts on).

Credentials come only from boto3's default chain (instance role, environment, SSO, shared
config) or, when ``profile`` is given, that named profile. Endpoints honour boto3's own
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables (or ``endpoint_url``), so
S3-compatible stores and test servers need no code change. Each call goes through
:func:`ingest.retry.call_with_retry` (throttling and 5xx retried with jittered backoff, auth
errors raised at once as :class:`ingest.retry.AuthError`); a missing S3 object raises
:class:`ingest.errors.ObjectNotFoundError` at once. This includes the S3 object reads behind
``open_focus("s3://...")`` (:mod:`ingest.sources`).
"""

from __future__ import annotations

from typing import Any

from ..errors import ObjectNotFoundError
from ..retry import RetryPolicy, call_with_retry, error_code

#: botocore's codes for "no such object" (HEAD answers a bare 404, GET names the key).
MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


class AwsClient:
    """Thin boto3 wrapper. ``region`` defaults to us-east-1 (Cost Explorer's home region)."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        policy: RetryPolicy | None = None,
        session: Any = None,
        endpoint_url: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.policy = policy or RetryPolicy()
        self.region = region or "us-east-1"
        self.endpoint_url = endpoint_url or None
        self._session = session or boto3.Session(profile_name=profile, region_name=self.region)
        self._config = Config(
            connect_timeout=self.policy.timeout_s,
            read_timeout=self.policy.timeout_s,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service, region_name=key[1], endpoint_url=self.endpoint_url, config=self._config
            )
        return self._clients[key]

    # -- identity -----------------------------------------------------------------
    def caller_identity(self) -> dict[str, Any]:
        return call_with_retry(
            self.client("sts").get_caller_identity,
            what="STS get_caller_identity",
            policy=self.policy,
        )

    # -- S3 -------------------------------------------------------------------------
    def list_objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        """Every object under ``prefix``: dicts with Key, ETag, Size, LastModified."""
        s3 = self.client("s3")
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = call_with_retry(
                s3.list_objects_v2,
                what=f"S3 list s3://{bucket}/{prefix}",
                policy=self.policy,
                **kwargs,
            )
            out.extend(page.get("Contents", []))
            if not page.get("IsTruncated"):
                return out
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def get_bytes(self, bucket: str, key: str) -> bytes:
        s3 = self.client("s3")
        resp = call_with_retry(
            s3.get_object,
            what=f"S3 get s3://{bucket}/{key}",
            policy=self.policy,
            Bucket=bucket,
            Key=key,
        )
        return bytes(resp["Body"].read())

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        """The object's metadata (``ContentLength``, ``ETag``, ...)."""
        return self._object_call("head_object", "head", bucket, key)

    def get_object_range(self, bucket: str, key: str, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (inclusive) of the object; the body is read inside the retried
        call, so a connection dropped mid-range is retried too."""

        def fetch(**kwargs: Any) -> bytes:
            return bytes(self.client("s3").get_object(**kwargs)["Body"].read())

        return self._object_call(fetch, "get", bucket, key, Range=f"bytes={start}-{end}")

    def open_object(self, bucket: str, key: str) -> Any:
        """The object's streaming body (read sequentially, never downloaded whole)."""
        return self._object_call("get_object", "get", bucket, key)["Body"]

    def _object_call(self, method: Any, verb: str, bucket: str, key: str, **extra: Any) -> Any:
        fn = getattr(self.client("s3"), method) if isinstance(method, str) else method
        try:
            return call_with_retry(
                fn,
                what=f"S3 {verb} s3://{bucket}/{key}",
                policy=self.policy,
                Bucket=bucket,
                Key=key,
                **extra,
            )
        except Exception as exc:
            if error_code(exc) in MISSING_OBJECT_CODES:
                raise ObjectNotFoundError(
                    f"s3://{bucket}/{key}: no such S3 object (check the bucket and key, and "
                    "that the export has been delivered)"
                ) from exc
            raise

    def storage_options(self) -> dict[str, Any]:
        """For :func:`ingest.focus.open_focus` / :func:`ingest.sources.open_source` on s3:// URIs:
        the reads then go through this client (its timeouts, its retry policy)."""
        return {"aws_client": self}

    # -- Cost Explorer --------------------------------------------------------------
    def cost_and_usage_page(self, **request: Any) -> dict[str, Any]:
        ce = self.client("ce", "us-east-1")
        return call_with_retry(
            ce.get_cost_and_usage,
            what="Cost Explorer get_cost_and_usage",
            policy=self.policy,
            **request,
        )

    # -- EC2 spot prices ------------------------------------------------------------
    def spot_price_history_page(self, region: str, **request: Any) -> dict[str, Any]:
        ec2 = self.client("ec2", region)
        return call_with_retry(
            ec2.describe_spot_price_history,
            what=f"EC2 describe_spot_price_history ({region})",
            policy=self.policy,
            **request,
        )
