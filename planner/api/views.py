"""API views for the fleet, costs and ingest runs. Thin: permission, one service call, serialise.

Every view is `login_not_required` for Django's middleware (see urls.py) and is guarded by DRF's
authentication + `HasRole`, so scripts with a token get a JSON 401/403, never a login redirect.
"""

from __future__ import annotations

from django.core.paginator import Page
from django.db.models import ProtectedError, QuerySet, Sum
from django.db.models.functions import Coalesce
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, pagination, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from planner.api import serializers as s
from planner.api.csv import csv_response
from planner.api.filters import CostRollupFilter, FilterBackend
from planner.api.permissions import HasRole
from planner.billing import services as ingest_services
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun, RunSource
from planner.billing.reports import CostView
from planner.billing.tasks import enqueue_focus_ingest
from planner.billing.uploads import store_upload
from planner.core.dashboard import cached_value
from planner.core.models import CloudAccount, Deployment, Service
from planner.core.roles import ADMIN, ANALYST

CACHE_SECONDS = 300  # as the dashboard's figures; a new load changes the key before that


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class Pages(pagination.PageNumberPagination):
    """Page-number pages. The first page is read with one row more than it shows: when that
    row is not there, the list is complete and its count is its length, so a short list (most
    of the fleet's) costs one query instead of a COUNT and a page query."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        page_size = self.get_page_size(request)
        first = request.query_params.get(self.page_query_param, "1") == "1"
        if not (page_size and first and isinstance(queryset, QuerySet)):
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        head = list(queryset[: page_size + 1])
        whole = head if len(head) <= page_size else queryset  # else: counted as before
        self.page = Page(head[:page_size], 1, self.django_paginator_class(whole, page_size))
        if self.page.paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True
        return list(self.page)


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
    filter_backends = [FilterBackend]
    filterset_fields = ["provider", "source", "enabled"]


class ServiceViewSet(RoleViewSetMixin, viewsets.ModelViewSet):
    """Multimodal inference services (analysts and admins change them)."""

    queryset = Service.objects.all()
    serializer_class = s.ServiceSerializer
    write_role = ANALYST
    lookup_field = "slug"
    filter_backends = [FilterBackend]
    filterset_fields = ["modality", "team"]


class DeploymentViewSet(RoleViewSetMixin, viewsets.ModelViewSet):
    """A service on a GPU type in a region (analysts and admins change them)."""

    queryset = Deployment.objects.select_related("service")
    serializer_class = s.DeploymentSerializer
    write_role = ANALYST
    filter_backends = [FilterBackend]
    filterset_fields = ["service__slug", "provider", "region", "gpu_model", "account"]


def cached_read(request, name: str, compute) -> Response:
    """A read of cost data, cached per query and data version (planner/core/dashboard.py
    ``cache_key``: a new load changes the key, so nothing stale is served after an ingest).
    Every role reads the same cost data, so the key holds no user; it holds the host, which
    the pagination links name."""
    prefix = f"api:{name}:{request.get_host()}"
    return Response(cached_value(prefix, request.query_params, compute, CACHE_SECONDS))


class CostRollupViewSet(RoleViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Daily cost rollups, filterable by date range and every dimension, paginated. Lists and
    summaries are cached per query and data version (:func:`cached_read`)."""

    queryset = CostRollup.objects.select_related("service").order_by("date", "id")
    serializer_class = s.CostRollupSerializer
    filter_backends = [FilterBackend]
    filterset_class = CostRollupFilter
    GROUPS = {
        "service": "service__slug",
        "provider": "provider",
        "account": "account_id",
        "date": "date",
        "region": "region",
        "sku": "sku",
        "instance_type": "instance_type",
        "pricing_category": "pricing_category",
        "charge_category": "charge_category",
        "service_name": "service_name",
        "billing_period": "billing_period_start",
    }

    def list(self, request, *args, **kwargs):
        page = super().list
        return cached_read(request, "costs", lambda: page(request, *args, **kwargs).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=sorted(GROUPS), default="service")
        ],
        responses=s.CostSummaryRowSerializer(many=True),
    )
    @action(detail=False, pagination_class=None)
    def summary(self, request):
        """Totals per value of one dimension over the filtered rollups (largest effective cost
        first). Costs by service include shared-node cost (planner/billing/reports.py);
        line_items counts billing records by their own tag."""
        return cached_read(request, "costs-summary", lambda: self._summary(request))

    def _summary(self, request) -> list:
        group = request.query_params.get("group_by", "service")
        if group not in self.GROUPS:
            raise ValidationError(
                {
                    "group_by": f"unknown dimension {group!r}; use one of {', '.join(sorted(self.GROUPS))}"
                }
            )
        field = self.GROUPS[group]
        raw = self.filter_queryset(self.get_queryset()).order_by()
        params = request.query_params.copy()
        service = params.pop("service", [""])[-1]
        scope = self.filterset_class(params, queryset=self.get_queryset(), request=request)
        view = CostView(scope.qs.order_by(), service)  # validated above, as raw
        items = dict(raw.values_list(field).annotate(n=Coalesce(Sum("line_items"), 0)))
        rows = view.by(field, fields=("billed_cost", "effective_cost", "list_cost"))
        rows.sort(key=lambda r: (-r["effective_cost"], str(r[field])))
        data = [
            {
                "key": None if r[field] is None else str(r[field]),
                "billed_cost": r["billed_cost"],
                "effective_cost": r["effective_cost"],
                "list_cost": r["list_cost"],
                "line_items": items.get(r[field], 0),
            }
            for r in rows
        ]
        return s.CostSummaryRowSerializer(data, many=True).data

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, url_path="export", pagination_class=None)
    def export(self, request):
        """The filtered rollups as CSV (formula-escaped text cells)."""
        fields = s.CostRollupSerializer.Meta.fields  # the CSV has the JSON rows' columns
        qs = self.filter_queryset(self.get_queryset())

        def value(r, name):
            if name == "service":
                return r.service.slug if r.service_id else ""
            return getattr(r, CostRollup._meta.get_field(name).attname)

        rows = ([value(r, f) for f in fields] for r in qs.iterator(chunk_size=2000))
        return csv_response("headroom-costs.csv", fields, rows)


class BillingPeriodLoadViewSet(RoleViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Which billing periods are loaded per account, with their totals."""

    queryset = BillingPeriodLoad.objects.all().order_by("account_id", "-billing_period_start")
    serializer_class = s.BillingPeriodLoadSerializer
    filter_backends = [FilterBackend]
    filterset_fields = ["account", "billing_period_start"]


class IngestRunViewSet(RoleViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Ingest runs: list, status, and trigger (analysts)."""

    queryset = IngestRun.objects.select_related("created_by").order_by("-created_at", "-id")
    serializer_class = s.IngestRunSerializer
    write_role = ANALYST
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filter_backends = [FilterBackend]
    filterset_fields = ["account", "status", "source"]

    @extend_schema(
        request={
            "multipart/form-data": s.IngestTriggerSerializer,
            "application/json": s.IngestTriggerSerializer,
        },
        responses={202: s.IngestRunSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = request.data
        refused = getattr(request._request, "upload_refused", None)  # LimitedUploadHandler
        if refused:
            raise ValidationError({"file": [refused]})
        trigger = s.IngestTriggerSerializer(data=data)
        trigger.is_valid(raise_exception=True)
        account = trigger.validated_data["account"]
        upload = trigger.validated_data.get("file")
        uri = str(store_upload(upload, upload.name)) if upload is not None else account.source_uri
        try:
            run = ingest_services.create_run(account, RunSource.FOCUS_FILE, uri, user=request.user)
        except ingest_services.RunAlreadyActive as exc:
            raise Conflict(str(exc)) from None
        enqueue_focus_ingest(run.pk, trigger.validated_data["allow_mixed_currency"])
        run.refresh_from_db()
        return Response(s.IngestRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
