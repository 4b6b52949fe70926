"""API views for the fleet, costs and ingest runs. Thin: permission, one service call, serialise.

Every view is `login_not_required` for Django's middleware (see urls.py) and is guarded by DRF's
authentication + `HasRole`, so scripts with a token get a JSON 401/403, never a login redirect.
"""

from __future__ import annotations

from django.db.models import ProtectedError, Sum
from django.db.models.functions import Coalesce
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, pagination, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from planner.api import serializers as s
from planner.api.csv import csv_response
from planner.api.filters import CostRollupFilter
from planner.api.permissions import HasRole
from planner.billing import services as ingest_services
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun
from planner.billing.tasks import enqueue_focus_ingest
from planner.billing.uploads import save_upload
from planner.core.dashboard import ZERO
from planner.core.models import CloudAccount, Deployment, Service
from planner.core.roles import ADMIN, ANALYST


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class Pages(pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class RoleViewSetMixin:
    permission_classes = [HasRole]
    pagination_class = Pages
    write_role = ADMIN

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as exc:
            names = sorted({str(o) for o in exc.protected_objects})[:5]
            raise Conflict(
                f"{instance} is still used by: {', '.join(names)}. Remove those first."
            ) from None


class CloudAccountViewSet(RoleViewSetMixin, viewsets.ModelViewSet):
    """Billing accounts Headroom reads (admins change them)."""

    queryset = CloudAccount.objects.all()
    serializer_class = s.CloudAccountSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["provider", "source", "enabled"]


class ServiceViewSet(RoleViewSetMixin, viewsets.ModelViewSet):
    """Multimodal inference services (analysts and admins change them)."""

    queryset = Service.objects.all()
    serializer_class = s.ServiceSerializer
    write_role = ANALYST
    lookup_field = "slug"
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["modality", "team"]


class DeploymentViewSet(RoleViewSetMixin, viewsets.ModelViewSet):
    """A service on a GPU type in a region (analysts and admins change them)."""

    queryset = Deployment.objects.select_related("service")
    serializer_class = s.DeploymentSerializer
    write_role = ANALYST
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["service__slug", "provider", "region", "gpu_model", "account"]


class CostRollupViewSet(RoleViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Daily cost rollups, filterable by date range and every dimension, paginated."""

    queryset = CostRollup.objects.select_related("service").order_by("date", "id")
    serializer_class = s.CostRollupSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CostRollupFilter
    GROUPS = {
        "service": "service__slug",
        "provider": "provider",
        "account": "account_id",
        "date": "date",
        "region": "region",
        "sku": "sku",
        "pricing_category": "pricing_category",
        "charge_category": "charge_category",
        "service_name": "service_name",
        "billing_period": "billing_period_start",
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=sorted(GROUPS), default="service")
        ],
        responses=s.CostSummaryRowSerializer(many=True),
    )
    @action(detail=False, pagination_class=None)
    def summary(self, request):
        """Totals per value of one dimension over the filtered rollups (largest effective cost first)."""
        group = request.query_params.get("group_by", "service")
        if group not in self.GROUPS:
            raise ValidationError(
                {
                    "group_by": f"unknown dimension {group!r}; use one of {', '.join(sorted(self.GROUPS))}"
                }
            )
        field = self.GROUPS[group]
        qs = self.filter_queryset(self.get_queryset()).order_by()
        rows = (
            qs.values(field)
            .annotate(
                billed=Coalesce(Sum("billed_cost"), ZERO),
                effective=Coalesce(Sum("effective_cost"), ZERO),
                listed=Coalesce(Sum("list_cost"), ZERO),
                items=Coalesce(Sum("line_items"), 0),
            )
            .order_by("-effective", field)
        )
        data = [
            {
                "key": None if r[field] is None else str(r[field]),
                "billed_cost": r["billed"],
                "effective_cost": r["effective"],
                "list_cost": r["listed"],
                "line_items": r["items"],
            }
            for r in rows
        ]
        return Response(s.CostSummaryRowSerializer(data, many=True).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, url_path="export", pagination_class=None)
    def export(self, request):
        """The filtered rollups as CSV (formula-escaped text cells)."""
        fields = s.CostRollupSerializer.Meta.fields
        qs = self.filter_queryset(self.get_queryset())
        rows = (
            [
                r.pk,
                r.date,
                r.account_id,
                r.billing_period_start,
                r.provider,
                r.service_name,
                r.region,
                r.resource_id,
                r.sku,
                r.pricing_category,
                r.charge_category,
                r.service_tag,
                r.service.slug if r.service_id else "",
                r.currency,
                r.billed_cost,
                r.effective_cost,
                r.list_cost,
                r.consumed_quantity,
                r.line_items,
            ]
            for r in qs.iterator(chunk_size=2000)
        )
        return csv_response("headroom-costs.csv", fields, rows)


class BillingPeriodLoadViewSet(RoleViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Which billing periods are loaded per account, with their totals."""

    queryset = BillingPeriodLoad.objects.all().order_by("account_id", "-billing_period_start")
    serializer_class = s.BillingPeriodLoadSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["account", "billing_period_start"]


class IngestRunViewSet(RoleViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Ingest runs: list, status, and trigger (analysts)."""

    queryset = IngestRun.objects.select_related("created_by").order_by("-created_at", "-id")
    serializer_class = s.IngestRunSerializer
    write_role = ANALYST
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["account", "status", "source"]

    @extend_schema(
        request={
            "multipart/form-data": s.IngestTriggerSerializer,
            "application/json": s.IngestTriggerSerializer,
        },
        responses={202: s.IngestRunSerializer},
    )
    def create(self, request, *args, **kwargs):
        trigger = s.IngestTriggerSerializer(data=request.data)
        trigger.is_valid(raise_exception=True)
        account = trigger.validated_data["account"]
        upload = trigger.validated_data.get("file")
        # An upload gets a random name (never the client's), locally or in the object store.
        uri = save_upload(upload) if upload is not None else account.source_uri
        try:
            run = ingest_services.create_run(account, "focus_file", uri, user=request.user)
        except ingest_services.RunAlreadyActive as exc:
            raise Conflict(str(exc)) from None
        enqueue_focus_ingest(run.pk, trigger.validated_data["allow_mixed_currency"])
        run.refresh_from_db()
        return Response(s.IngestRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
