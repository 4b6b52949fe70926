from importlib.util import find_spec

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
    path("", include("planner.usage.urls")),
]
# Feature apps that are installed register their routes at the root.
for _app in (
    "planner.whatif",
    "planner.plans",
    "planner.alerts",
    "planner.api",
    "planner.commitments",
):
    if _app in settings.INSTALLED_APPS and find_spec(f"{_app}.urls") is not None:
        urlpatterns.append(path("", include(f"{_app}.urls")))
urlpatterns.append(path("", include("planner.chargeback.urls")))
