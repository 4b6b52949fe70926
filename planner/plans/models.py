"""Plans: approved, versioned sets of per-service decisions, and cluster tokens.

A ``Plan`` moves draft -> approved (analyst) -> applied (admin) -> superseded
(when a later plan is applied). Each ``PlanDecision`` row holds one service's
settings as columns and converts to/from the frozen
:class:`planner.plans.exports.decision.PlanDecision` the renderers use.
``ClusterToken`` authenticates KEDA's metrics-api scaler; only a SHA-256 of
the token is stored and the token is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from planner.core.models import Deployment, Provider, Service
from planner.plans.exports import decision as dc

TOKEN_PREFIX = "hdrm_"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    APPLIED = "applied", "Applied"
    SUPERSEDED = "superseded", "Superseded"


class Plan(models.Model):
    """A versioned set of decisions with its approval trail and expected outcome."""

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    notes = models.TextField(blank=True)
    source_scenario_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="What-if scenario this plan was promoted from, if any"
    )
    expected_monthly_cost_usd = models.FloatField(default=0.0)
    slo_attainment = models.FloatField(
        default=1.0, help_text="Fraction of requests within the latency SLO (worst service)"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Plan v{self.version}: {self.name}"

    @classmethod
    def current_applied(cls) -> Plan | None:
        return cls.objects.filter(status=PlanStatus.APPLIED).order_by("-applied_at").first()

    def as_decisions(self) -> list[dc.PlanDecision]:
        return [row.to_dataclass() for row in self.decisions.select_related("service")]


class PlanDecision(models.Model):
    """One service's settings in a plan (see the dataclass for units and meaning)."""

    class MetricSource(models.TextChoices):
        PROMETHEUS = "prometheus", "Prometheus query"
        RABBITMQ = "rabbitmq", "RabbitMQ queue length"
        REDIS = "redis", "Redis list length"
        AWS_SQS = "aws-sqs", "AWS SQS queue length"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="decisions")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="plan_decisions")
    deployment = models.ForeignKey(Deployment, null=True, blank=True, on_delete=models.SET_NULL)
    cluster = models.CharField(max_length=63)
    namespace = models.CharField(max_length=63)
    deployment_name = models.CharField(max_length=63)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    instance_types = models.JSONField(default=list)
    mig_profile = models.CharField(max_length=32, blank=True)
    gpus_per_replica = models.PositiveIntegerField(default=1)
    min_replicas = models.PositiveIntegerField()
    max_replicas = models.PositiveIntegerField()
    warm_pool_replicas = models.PositiveIntegerField(default=0)
    metric_source = models.CharField(max_length=16, choices=MetricSource.choices)
    prometheus_server = models.CharField(max_length=300, blank=True)
    prometheus_query = models.TextField(blank=True)
    metric_name = models.CharField(max_length=100, default="headroom_load")
    threshold = models.FloatField(null=True, blank=True, help_text="Query value per replica")
    activation_threshold = models.FloatField(null=True, blank=True)
    queue_name = models.CharField(max_length=200, blank=True)
    queue_target_length = models.PositiveIntegerField(null=True, blank=True)
    queue_address = models.CharField(max_length=200, blank=True)
    queue_connection_env = models.CharField(max_length=100, blank=True)
    queue_url = models.CharField(max_length=300, blank=True)
    queue_region = models.CharField(max_length=32, blank=True)
    trigger_auth_ref = models.CharField(max_length=100, blank=True)
    polling_interval_seconds = models.PositiveIntegerField(default=30)
    cooldown_seconds = models.PositiveIntegerField(default=300)
    scale_up_stabilization_seconds = models.PositiveIntegerField(default=0)
    scale_up_policies = models.JSONField(default=list)
    scale_up_select_policy = models.CharField(max_length=8, default="Max")
    scale_down_stabilization_seconds = models.PositiveIntegerField(default=300)
    scale_down_policies = models.JSONField(default=list)
    scale_down_select_policy = models.CharField(max_length=8, default="Max")
    spot_share = models.FloatField(default=0.0)
    capacity_types = models.JSONField(default=list)
    fallback_replicas = models.PositiveIntegerField(null=True, blank=True)
    fallback_failure_threshold = models.PositiveIntegerField(default=3)
    schedules = models.JSONField(default=list, blank=True)
    commitments = models.JSONField(default=list, blank=True)
    consolidation_policy = models.CharField(max_length=32, default="WhenEmpty")
    consolidate_after = models.CharField(max_length=16, default="10m")
    disruption_budget_nodes = models.CharField(max_length=8, default="10%")
    expected_monthly_cost_usd = models.FloatField(default=0.0)
    slo_attainment = models.FloatField(default=1.0)
    aws_target = models.JSONField(null=True, blank=True, help_text="AwsScalingTarget fields")

    class Meta:
        ordering = ["service__slug"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "service"], name="uniq_plan_service")
        ]

    def __str__(self) -> str:
        return f"{self.service.slug} in plan v{self.plan.version}"

    def to_dataclass(self) -> dc.PlanDecision:
        if self.metric_source == self.MetricSource.PROMETHEUS:
            metric: dc.PrometheusMetric | dc.QueueMetric = dc.PrometheusMetric(
                self.prometheus_server,
                self.prometheus_query,
                float(self.threshold or 0.0),
                self.activation_threshold,
                self.metric_name,
            )
        else:
            metric = dc.QueueMetric(
                self.metric_source,  # type: ignore[arg-type]
                self.queue_name,
                int(self.queue_target_length or 0),
                self.queue_address,
                self.queue_connection_env,
                self.queue_url,
                self.queue_region,
                self.trigger_auth_ref,
            )

        def rules(window: int, policies: list[dict[str, Any]], select: str) -> dc.ScalingRules:
            return dc.ScalingRules(
                window,
                tuple(dc.ScalingPolicy(**p) for p in policies),
                select,  # type: ignore[arg-type]
            )

        return dc.PlanDecision(
            service_slug=self.service.slug,
            namespace=self.namespace,
            cluster=self.cluster,
            deployment_name=self.deployment_name,
            provider=self.provider,  # type: ignore[arg-type]
            instance_types=tuple(self.instance_types),
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            metric=metric,
            gpus_per_replica=self.gpus_per_replica,
            mig_profile=self.mig_profile,
            polling_interval_seconds=self.polling_interval_seconds,
            cooldown_seconds=self.cooldown_seconds,
            scale_up=rules(
                self.scale_up_stabilization_seconds,
                self.scale_up_policies,
                self.scale_up_select_policy,
            ),
            scale_down=rules(
                self.scale_down_stabilization_seconds,
                self.scale_down_policies,
                self.scale_down_select_policy,
            ),
            warm_pool_replicas=self.warm_pool_replicas,
            spot_share=self.spot_share,
            capacity_types=tuple(self.capacity_types),
            fallback_replicas=self.fallback_replicas,
            fallback_failure_threshold=self.fallback_failure_threshold,
            schedules=tuple(dc.ScheduleWindow(**s) for s in self.schedules),
            commitments=tuple(dc.CommitmentPurchase(**c) for c in self.commitments),
            expected_monthly_cost_usd=self.expected_monthly_cost_usd,
            slo_attainment=self.slo_attainment,
            consolidation_policy=self.consolidation_policy,  # type: ignore[arg-type]
            consolidate_after=self.consolidate_after,
            disruption_budget_nodes=self.disruption_budget_nodes,
            aws_target=dc.AwsScalingTarget(**self.aws_target) if self.aws_target else None,
        )

    @classmethod
    def fields_from_dataclass(cls, d: dc.PlanDecision) -> dict[str, Any]:
        """Column values for a decision dataclass (service/plan set by the caller)."""
        s = d.as_settings()
        m = s["metric"]
        out: dict[str, Any] = {
            k: s[k]
            for k in (
                "cluster",
                "namespace",
                "deployment_name",
                "provider",
                "instance_types",
                "mig_profile",
                "gpus_per_replica",
                "min_replicas",
                "max_replicas",
                "warm_pool_replicas",
                "polling_interval_seconds",
                "cooldown_seconds",
                "spot_share",
                "capacity_types",
                "fallback_replicas",
                "fallback_failure_threshold",
                "schedules",
                "commitments",
                "consolidation_policy",
                "consolidate_after",
                "disruption_budget_nodes",
                "expected_monthly_cost_usd",
                "slo_attainment",
                "aws_target",
            )
        }
        for direction in ("scale_up", "scale_down"):
            out[f"{direction}_stabilization_seconds"] = s[direction]["stabilization_window_seconds"]
            out[f"{direction}_policies"] = s[direction]["policies"]
            out[f"{direction}_select_policy"] = s[direction]["select_policy"]
        if m["source"] == "prometheus":
            out.update(
                metric_source="prometheus",
                prometheus_server=m["server_address"],
                prometheus_query=m["query"],
                threshold=m["threshold"],
                activation_threshold=m["activation_threshold"],
                metric_name=m["metric_name"],
            )
        else:
            out.update(
                metric_source=m["kind"],
                queue_name=m["queue_name"],
                queue_target_length=m["target_length_per_replica"],
                queue_address=m["address"],
                queue_connection_env=m["connection_env"],
                queue_url=m["queue_url"],
                queue_region=m["aws_region"],
                trigger_auth_ref=m["auth_ref"],
            )
        return out


class PlanEvent(models.Model):
    """Audit trail of a plan: approvals, applies, rollbacks and drift checks, with details."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        APPROVED = "approved", "Approved"
        APPLIED = "applied", "Applied"
        AWS_APPLY = "aws_apply", "Applied to AWS"
        ROLLBACK = "rollback", "Rolled back"
        DRIFT_CHECK = "drift_check", "Drift check"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClusterToken(models.Model):
    """Bearer token one cluster's KEDA uses to read live targets (hash stored, never the token)."""

    cluster = models.CharField(max_length=63)
    name = models.CharField(max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12, help_text="First characters, to recognise it")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cluster", "-created_at"]

    def __str__(self) -> str:
        return f"{self.cluster} ({self.token_prefix}…)"

    @classmethod
    def issue(cls, cluster: str, user=None, name: str = "") -> tuple[ClusterToken, str]:
        """Create a token; return the row and the raw token (shown once, not stored)."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(
            cluster=cluster,
            name=name,
            token_hash=_hash(raw),
            token_prefix=raw[:12],
            created_by=user,
        )
        return row, raw

    @classmethod
    def authenticate(cls, raw: str) -> ClusterToken | None:
        """The active token matching ``raw`` (constant-time compare), else None."""
        if not raw or not raw.startswith(TOKEN_PREFIX):
            return None
        digest = _hash(raw)
        row = cls.objects.filter(token_hash=digest, revoked_at__isnull=True).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        cls.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        return row
