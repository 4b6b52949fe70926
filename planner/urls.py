from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from planner.core import views as core_views

urlpatterns = [
    path("", core_views.dashboard, name="dashboard"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("ingest/", include("planner.billing.urls")),
    path("", include("planner.usage.urls")),
    path("", include("planner.whatif.urls")),
    path("", include("planner.plans.urls")),
    path("", include("planner.alerts.urls")),
    path("", include("planner.api.urls")),
]
