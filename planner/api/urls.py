"""Routes under /api/v1/. Every API view opts out of Django's LoginRequiredMiddleware because DRF
authenticates it (session or token) and answers 401/403 JSON itself; the Swagger UI page is a
browser page and keeps the login redirect."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import SimpleRouter

from planner.api import views, views_alerts, views_plans, views_whatif
from planner.usage import urls as usage_urls

router = SimpleRouter(trailing_slash=True)
router.register("accounts", views.CloudAccountViewSet, basename="api-account")
router.register("services", views.ServiceViewSet, basename="api-service")
router.register("deployments", views.DeploymentViewSet, basename="api-deployment")
router.register("costs", views.CostRollupViewSet, basename="api-cost")
router.register("period-loads", views.BillingPeriodLoadViewSet, basename="api-period-load")
router.register("ingest-runs", views.IngestRunViewSet, basename="api-ingest-run")
views_whatif.register(router)
views_alerts.register(router)
views_plans.register(router)


class SchemaView(SpectacularAPIView):
    """OpenAPI 3 schema; authenticated users only (it describes the whole API surface)."""

    permission_classes = [IsAuthenticated]
    custom_settings = {
        "COMPONENT_SPLIT_REQUEST": True,
    }


class DocsView(SpectacularSwaggerView):
    """Swagger UI served from drf-spectacular-sidecar's bundled assets (no CDN)."""

    permission_classes = [IsAuthenticated]

    @staticmethod
    def _swagger_ui_resource(filename):
        from django.templatetags.static import static

        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon():
        from django.templatetags.static import static

        return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")


def _token_friendly(patterns):
    """Mark each API view so Django's login middleware lets DRF answer (401/403 JSON)."""
    for p in patterns:
        login_not_required(p.callback)
    return patterns


urlpatterns = [
    path("api/v1/", include(_token_friendly(router.urls))),
    path("api/v1/usage/", include(_token_friendly(usage_urls.api_urlpatterns))),
    path("api/v1/schema/", login_not_required(SchemaView.as_view()), name="api-schema"),
    # a browser page: anonymous visitors are sent to the login page like every other page
    path("api/v1/docs/", login_required(DocsView.as_view(url_name="api-schema")), name="api-docs"),
]
