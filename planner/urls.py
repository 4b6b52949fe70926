from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from planner.core import service_views
from planner.core import views as core_views

urlpatterns = [
    path("", core_views.dashboard, name="dashboard"),
    path("healthz", core_views.healthz, name="healthz"),
    path("hints/<slug:hint>/dismiss/", core_views.dismiss_hint, name="dismiss-hint"),
    path("services/", service_views.services, name="services"),
    path("services/<slug:slug>/", service_views.service_detail, name="service-detail"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("ingest/", include("planner.billing.urls")),
    path("", include("planner.usage.urls")),
    path("", include("planner.whatif.urls")),
    path("", include("planner.plans.urls")),
    path("", include("planner.alerts.urls")),
    path("", include("planner.api.urls")),
    path("", include("planner.commitments.urls")),
    path("", include("planner.chargeback.urls")),
]
