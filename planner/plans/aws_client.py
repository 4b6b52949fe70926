"""The only module that talks to AWS Application Auto Scaling (network boundary).

A thin wrapper over boto3's ``application-autoscaling`` client: every method
is one API call (or one paginated describe). Credentials come from boto3's
default chain; ``endpoint_url`` points it elsewhere (tests use moto's server). Every call has
``settings.EXTERNAL_CALL_TIMEOUT_S`` as connect and read timeout, like the ingest connectors.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings


class ApplicationAutoScalingClient:
    """One region's Application Auto Scaling API."""

    def __init__(self, region: str, endpoint_url: str | None = None, client: Any = None):
        self.region = region
        timeout = settings.EXTERNAL_CALL_TIMEOUT_S
        self._c = client or boto3.client(
            "application-autoscaling",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard"}
            ),
        )

    @staticmethod
    def _key(namespace: str, resource_id: str, dimension: str) -> dict[str, str]:
        return {
            "ServiceNamespace": namespace,
            "ResourceId": resource_id,
            "ScalableDimension": dimension,
        }

    def describe_scalable_target(
        self, namespace: str, resource_id: str, dimension: str
    ) -> dict[str, Any] | None:
        pages = self._c.get_paginator("describe_scalable_targets").paginate(
            ServiceNamespace=namespace, ResourceIds=[resource_id], ScalableDimension=dimension
        )
        for page in pages:
            for target in page["ScalableTargets"]:
                if target["ResourceId"] == resource_id:
                    return target
        return None

    def describe_scaling_policies(
        self, namespace: str, resource_id: str, dimension: str
    ) -> list[dict[str, Any]]:
        pages = self._c.get_paginator("describe_scaling_policies").paginate(
            **self._key(namespace, resource_id, dimension)
        )
        return [
            p for page in pages for p in page["ScalingPolicies"] if p["ResourceId"] == resource_id
        ]

    def describe_scheduled_actions(
        self, namespace: str, resource_id: str, dimension: str
    ) -> list[dict[str, Any]]:
        pages = self._c.get_paginator("describe_scheduled_actions").paginate(
            **self._key(namespace, resource_id, dimension)
        )
        return [
            a for page in pages for a in page["ScheduledActions"] if a["ResourceId"] == resource_id
        ]

    def register_scalable_target(
        self, namespace: str, resource_id: str, dimension: str, min_capacity: int, max_capacity: int
    ) -> None:
        self._c.register_scalable_target(
            **self._key(namespace, resource_id, dimension),
            MinCapacity=min_capacity,
            MaxCapacity=max_capacity,
        )

    def deregister_scalable_target(self, namespace: str, resource_id: str, dimension: str) -> None:
        self._c.deregister_scalable_target(**self._key(namespace, resource_id, dimension))

    def put_target_tracking_policy(
        self,
        namespace: str,
        resource_id: str,
        dimension: str,
        name: str,
        configuration: dict[str, Any],
    ) -> None:
        self._c.put_scaling_policy(
            PolicyName=name,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=configuration,
            **self._key(namespace, resource_id, dimension),
        )

    def delete_scaling_policy(
        self, namespace: str, resource_id: str, dimension: str, name: str
    ) -> None:
        self._c.delete_scaling_policy(
            PolicyName=name, **self._key(namespace, resource_id, dimension)
        )

    def put_scheduled_action(
        self,
        namespace: str,
        resource_id: str,
        dimension: str,
        name: str,
        schedule: str,
        timezone: str,
        min_capacity: int,
        max_capacity: int,
    ) -> None:
        self._c.put_scheduled_action(
            ScheduledActionName=name,
            Schedule=schedule,
            Timezone=timezone,
            ScalableTargetAction={"MinCapacity": min_capacity, "MaxCapacity": max_capacity},
            **self._key(namespace, resource_id, dimension),
        )

    def delete_scheduled_action(
        self, namespace: str, resource_id: str, dimension: str, name: str
    ) -> None:
        self._c.delete_scheduled_action(
            ScheduledActionName=name, **self._key(namespace, resource_id, dimension)
        )


class Ec2AutoScalingClient:
    """One region's EC2 Auto Scaling API: the calls an EC2 group export makes and reads."""

    ACTIONS = {
        "UpdateAutoScalingGroup": "update_auto_scaling_group",
        "PutScalingPolicy": "put_scaling_policy",
        "PutWarmPool": "put_warm_pool",
    }

    def __init__(self, region: str, endpoint_url: str | None = None, client: Any = None):
        self.region = region
        self._c = client or boto3.client(
            "autoscaling", region_name=region, endpoint_url=endpoint_url
        )

    def apply(self, requests: dict[str, dict[str, Any]]) -> None:
        """Send the export's requests, in API order (group bounds, policy, warm pool)."""
        for action, method in self.ACTIONS.items():
            if action in requests:
                getattr(self._c, method)(**requests[action])

    def describe(self, group: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict | None]:
        """(group, its scaling policies, its warm pool configuration or None)."""
        (found,) = self._c.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
            "AutoScalingGroups"
        ]
        policies = self._c.describe_policies(AutoScalingGroupName=group)["ScalingPolicies"]
        warm = self._c.describe_warm_pool(AutoScalingGroupName=group).get("WarmPoolConfiguration")
        return found, policies, warm or None
