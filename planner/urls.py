from django.conf import settings
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
]
# Apps that exist register their routes here.
if "planner.whatif" in settings.INSTALLED_APPS:
    urlpatterns.append(path("", include("planner.whatif.urls")))
if "planner.plans" in settings.INSTALLED_APPS:
    urlpatterns.append(path("", include("planner.plans.urls")))
if "planner.alerts" in settings.INSTALLED_APPS:
    urlpatterns.append(path("", include("planner.alerts.urls")))
if "planner.api" in settings.INSTALLED_APPS:
    urlpatterns.append(path("", include("planner.api.urls")))
