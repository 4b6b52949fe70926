from django.urls import path

from planner.billing import account_views, views

urlpatterns = [
    path("", views.runs, name="ingest-runs"),
    path("upload/", views.upload, name="ingest-upload"),
    path("runs/<int:pk>/", views.run_detail, name="ingest-run"),
    path("runs/<int:pk>/status/", views.run_status, name="ingest-run-status"),
    path("accounts/", account_views.accounts, name="accounts"),
    path("accounts/<int:pk>/test/", account_views.account_test, name="account-test"),
    path("accounts/<int:pk>/run/", account_views.account_run, name="account-run"),
]
