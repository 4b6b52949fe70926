"""Filters for cost rollups: a date range plus every dashboard dimension."""

from __future__ import annotations

import django_filters

from planner.billing.models import CostRollup


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
