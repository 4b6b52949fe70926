from django.urls import path

from planner.usage import api, views

urlpatterns = [
    path(
        "services/<slug:slug>/serving-targets/",
        views.serving_targets,
        name="service-serving-targets",
    ),
]
api_urlpatterns = [
    path(
        "services/<slug:slug>/unit-economics/",
        api.UnitEconomicsView.as_view(),
        name="api-unit-economics",
    ),
    path(
        "services/<slug:slug>/unit-cost-series/",
        api.UnitCostSeriesView.as_view(),
        name="api-unit-cost-series",
    ),
    path(
        "services/<slug:slug>/serving-targets/",
        api.ServingTargetsView.as_view(),
        name="api-serving-targets",
    ),
    path(
        "deployments/<int:pk>/serving-endpoint/",
        api.ServingEndpointView.as_view(),
        name="api-serving-endpoint",
    ),
]
