"""Every AWS network call Headroom makes, in one place (boto3, SDK retries off, timeouts on).

Credentials come only from boto3's default chain (instance role, environment, SSO, shared
config) or, when ``profile`` is given, that named profile. Endpoints honour boto3's own
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables, so S3-compatible stores
and test servers need no code change. Each call goes through
:func:`ingest.retry.call_with_retry` (throttling retried with jittered backoff, auth errors
raised at once as :class:`ingest.retry.AuthError`).
"""

from __future__ import annotations

from typing import Any

from ..retry import RetryPolicy, call_with_retry


class AwsClient:
    """Thin boto3 wrapper. ``region`` defaults to us-east-1 (Cost Explorer's home region)."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        policy: RetryPolicy | None = None,
        session: Any = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.policy = policy or RetryPolicy()
        self.region = region or "us-east-1"
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
                service, region_name=key[1], config=self._config
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

    def storage_options(self) -> dict[str, Any]:
        """For :func:`ingest.focus.open_focus` / :func:`ingest.sources.open_source` on s3:// URIs."""
        return {"client": self.client("s3")}

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
