"""Filters for cost rollups: a date range plus every dashboard dimension."""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend

from planner.billing.models import CostRollup


class FilterBackend(DjangoFilterBackend):
    """django-filter's DRF backend without its per-request set-up work:

    - a view's ``filterset_fields`` FilterSet class is built once per view class and model
      (django-filter builds a new class, with its filters, on every request);
    - a request with no query parameters is not filtered at all, unless a filter is required:
      every filter leaves the queryset as it is for an empty value, so building and validating
      the FilterSet's form would change nothing.
    """

    _classes: dict = {}

    def get_filterset_class(self, view, queryset=None):
        key = (type(view), getattr(queryset, "model", None))
        if key not in self._classes:
            self._classes[key] = super().get_filterset_class(view, queryset)
        return self._classes[key]

    def filter_queryset(self, request, queryset, view):
        if not request.query_params:
            filterset_class = self.get_filterset_class(view, queryset)
            filters = filterset_class.base_filters.values() if filterset_class else ()
            if not any(f.extra.get("required") for f in filters):
                return queryset
        return super().filter_queryset(request, queryset, view)


class CostRollupFilter(django_filters.FilterSet):
    start = django_filters.DateFilter(
        field_name="date", lookup_expr="gte", help_text="First day (inclusive)"
    )
    end = django_filters.DateFilter(
        field_name="date", lookup_expr="lte", help_text="Last day (inclusive)"
    )
    billing_period = django_filters.DateFilter(field_name="billing_period_start")
    service = django_filters.CharFilter(
        method="filter_service", help_text="Service slug, or 'unallocated' for unattributed cost"
    )
    provider = django_filters.CharFilter()
    region = django_filters.CharFilter()
    sku = django_filters.CharFilter()
    instance_type = django_filters.CharFilter()
    service_name = django_filters.CharFilter()
    pricing_category = django_filters.CharFilter()
    charge_category = django_filters.CharFilter()
    currency = django_filters.CharFilter()

    class Meta:
        model = CostRollup
        fields = ["account"]

    def filter_service(self, qs, name, value):
        if value == "unallocated":
            return qs.filter(service__isnull=True)
        return qs.filter(service__slug=value)

    def is_valid(self):
        valid = super().is_valid()
        data = self.form.cleaned_data if valid else {}
        if valid and data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.form.add_error("end", "end is before start")
            return False
        return valid
