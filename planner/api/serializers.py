"""Serializers for the fleet, costs and ingest runs. Units are in field names or help texts;
money is a decimal string in the record's currency (USD unless stated)."""

from __future__ import annotations

from rest_framework import serializers

from planner.billing.errors import UploadRefused
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun
from planner.billing.uploads import check_upload
from planner.core.credentials import credential_ref_problem
from planner.core.import_paths import focus_source_problem
from planner.core.models import CloudAccount, Deployment, IngestSource, Service


class CloudAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = CloudAccount
        fields = [
            "id",
            "provider",
            "account_id",
            "name",
            "source",
            "source_uri",
            "credential_ref",
            "ingest_interval_hours",
            "enabled",
            "last_ingest_at",
            "created_at",
        ]
        read_only_fields = ["last_ingest_at", "created_at"]

    def validate_credential_ref(self, value: str) -> str:
        """'default-chain' or the NAME of a declared HEADROOM_CRED_* variable, never a secret."""
        problem = credential_ref_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        """A FOCUS-file account's local source must lie below HEADROOM_IMPORT_DIR."""
        source = attrs.get("source", getattr(self.instance, "source", IngestSource.FOCUS_FILE))
        uri = attrs.get("source_uri", getattr(self.instance, "source_uri", ""))
        problem = focus_source_problem(uri) if source == IngestSource.FOCUS_FILE else None
        if problem:
            raise serializers.ValidationError({"source_uri": problem})
        return attrs


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = [
            "id",
            "slug",
            "name",
            "modality",
            "unit_of_work",
            "units_per_request",
            "latency_slo_p95_ms",
            "team",
            "tag_value",
            "description",
        ]

    def validate_units_per_request(self, value: float) -> float:
        if not value > 0 or value != value or value == float("inf"):
            raise serializers.ValidationError("units_per_request must be a positive finite number.")
        return value


class DeploymentSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())

    class Meta:
        model = Deployment
        fields = [
            "id",
            "service",
            "account",
            "name",
            "provider",
            "region",
            "instance_type",
            "gpu_model",
            "gpu_count",
            "mig_profile",
            "min_replicas",
            "max_replicas",
            "throughput_rps_per_replica",
            "cluster",
            "namespace",
            "autoscaler",
        ]

    def validate_throughput_rps_per_replica(self, value: float) -> float:
        if not value > 0 or value == float("inf"):
            raise serializers.ValidationError(
                "throughput_rps_per_replica must be a positive finite number."
            )
        return value

    def validate(self, attrs):
        lo = attrs.get("min_replicas", getattr(self.instance, "min_replicas", 1))
        hi = attrs.get("max_replicas", getattr(self.instance, "max_replicas", 10))
        if lo > hi:
            raise serializers.ValidationError(
                {"max_replicas": f"max_replicas ({hi}) is below min_replicas ({lo})."}
            )
        return attrs


class CostRollupSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="Headroom service slug; null = unallocated",
    )

    class Meta:
        model = CostRollup
        fields = [
            "id",
            "date",
            "account",
            "billing_period_start",
            "provider",
            "service_name",
            "region",
            "resource_id",
            "sku",
            "instance_type",
            "pricing_category",
            "charge_category",
            "service_tag",
            "service",
            "currency",
            "billed_cost",
            "effective_cost",
            "list_cost",
            "consumed_quantity",
            "line_items",
        ]


class CostSummaryRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        allow_null=True, help_text="Value of the group_by dimension ('' = none)"
    )
    billed_cost = serializers.DecimalField(max_digits=24, decimal_places=6)
    effective_cost = serializers.DecimalField(max_digits=24, decimal_places=6)
    list_cost = serializers.DecimalField(max_digits=24, decimal_places=6)
    line_items = serializers.IntegerField()


class BillingPeriodLoadSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillingPeriodLoad
        fields = [
            "id",
            "account",
            "billing_period_start",
            "version",
            "run",
            "rows",
            "billed_cost",
            "effective_cost",
            "list_cost",
            "currency",
            "loaded_at",
        ]


class IngestRunSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = IngestRun
        fields = [
            "id",
            "account",
            "source",
            "period_start",
            "status",
            "progress",
            "progress_message",
            "rows_read",
            "rows_stored",
            "periods",
            "totals",
            "warnings",
            "errors",
            "attempts",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_s",
        ]
        read_only_fields = fields


class IngestTriggerSerializer(serializers.Serializer):
    """Start an ingest: upload a FOCUS file, or omit `file` to read the account's configured
    FOCUS source (a path on the server or s3:// URI set by an admin)."""

    account = serializers.PrimaryKeyRelatedField(queryset=CloudAccount.objects.all())
    file = serializers.FileField(
        required=False, help_text="FOCUS 1.0–1.2 .csv, .csv.gz or .parquet"
    )
    allow_mixed_currency = serializers.BooleanField(default=False)

    def validate_file(self, f):
        try:
            check_upload(f)
        except UploadRefused as exc:
            raise serializers.ValidationError(str(exc)) from None
        return f

    def validate(self, attrs):
        account = attrs["account"]
        if "file" not in attrs and not (
            account.source == IngestSource.FOCUS_FILE and account.source_uri
        ):
            raise serializers.ValidationError(
                {
                    "file": f"Account {account.pk} has no FOCUS source configured; upload a file instead."
                }
            )
        return attrs
