"""REST endpoints of the usage app, under /api/v1/usage/ (viewers read, analysts change)."""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from planner.api.permissions import HasRole
from planner.core.models import Deployment, Service
from planner.core.roles import ANALYST
from planner.usage.models import ServiceServingTargets, ServingEndpoint
from planner.usage.report import service_unit_economics

RANGE_PARAMS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: 30 days ago)"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (default: today)"),
]
FREE_OBJECT = {"type": "object", "additionalProperties": True}


def _range(request, service) -> tuple[dt.date, dt.date]:
    from planner.core.dashboard import parse_range

    try:
        rng = parse_range(request.query_params)
    except ValueError as exc:
        raise ValidationError({"start": str(exc)}) from None
    return rng.start, rng.end


class UnitEconomicsView(APIView):
    """Measured unit costs (with the metric behind each), latency SLOs from the servers'
    histograms, the fitted batch capacity and build vs buy, for ?start=&end=."""

    permission_classes = [HasRole]

    @extend_schema(parameters=RANGE_PARAMS, responses={200: FREE_OBJECT})
    def get(self, request, slug):
        service = get_object_or_404(Service, slug=slug)
        start, end = _range(request, service)
        return Response(service_unit_economics(service, start, end))


class UnitCostSeriesView(APIView):
    """Daily USD per ?unit= (e.g. ``1M output tokens``) with the anomaly detector's verdicts."""

    permission_classes = [HasRole]

    @extend_schema(
        parameters=[
            *RANGE_PARAMS,
            OpenApiParameter(
                "unit", OpenApiTypes.STR, required=True, description="e.g. 1M output tokens"
            ),
        ],
        responses={200: FREE_OBJECT},
    )
    def get(self, request, slug):
        from costmodels.anomaly.estimator import detect
        from planner.usage.economics import unit_cost_series

        service = get_object_or_404(Service, slug=slug)
        start, end = _range(request, service)
        unit = request.query_params.get("unit", "")
        series = unit_cost_series(service, unit, start, end)
        if series.dropna().empty:
            raise ValidationError({"unit": f"no measured unit cost {unit!r} for {slug} in range"})
        flags = detect(series.interpolate(limit_area="inside").dropna())
        points = [
            {
                "date": d.date().isoformat(),
                "usd_per_unit": None if v != v else v,
                "expected": flags["expected"].get(d),
                "is_anomaly": bool(flags["is_anomaly"].get(d, 0)),
            }
            for d, v in series.items()
        ]
        return Response({"service": slug, "unit": unit, "points": points})


class ServingTargetsSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceServingTargets
        fields = [
            "ttft_slo_p95_ms",
            "itl_slo_p95_ms",
            "managed_api_name",
            "managed_usd_per_1m_input",
            "managed_usd_per_1m_output",
            "managed_price_source",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]


class ServingTargetsView(APIView):
    """Chat SLOs and the managed-API price a service is compared against (user-entered)."""

    permission_classes = [HasRole]
    write_role = ANALYST
    serializer_class = ServingTargetsSerializer

    def get(self, request, slug):
        t = ServiceServingTargets.objects.filter(service__slug=slug).first()
        get_object_or_404(Service, slug=slug)
        return Response(ServingTargetsSerializer(t).data if t else {})

    def put(self, request, slug):
        service = get_object_or_404(Service, slug=slug)
        t = ServiceServingTargets.objects.filter(service=service).first()
        ser = ServingTargetsSerializer(t, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        ser.save(service=service)
        return Response(ser.data)


class ServingEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServingEndpoint
        fields = ["stack", "metrics_mapping"]

    def validate(self, attrs):
        from ingest.prometheus.serving import ServingConfigError, stack

        name = attrs.get("stack", getattr(self.instance, "stack", ""))
        mapping = attrs.get("metrics_mapping", getattr(self.instance, "metrics_mapping", {}))
        if name:
            try:
                stack(name, mapping)
            except ServingConfigError as exc:
                raise ValidationError({"metrics_mapping": str(exc)}) from None
        return attrs


class ServingEndpointView(APIView):
    """Which inference server a deployment runs (vllm, triton, tgi, generic + mapping)."""

    permission_classes = [HasRole]
    write_role = ANALYST
    serializer_class = ServingEndpointSerializer

    def get(self, request, pk):
        ep = ServingEndpoint.objects.filter(deployment_id=pk).first()
        get_object_or_404(Deployment, pk=pk)
        return Response(ServingEndpointSerializer(ep).data if ep else {"stack": ""})

    def put(self, request, pk):
        deployment = get_object_or_404(Deployment, pk=pk)
        ep = ServingEndpoint.objects.filter(deployment=deployment).first()
        ser = ServingEndpointSerializer(ep, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        ser.save(deployment=deployment)
        return Response(ser.data)
