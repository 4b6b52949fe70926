from django.urls import path

from planner.billing import views

urlpatterns = [
    path("", views.runs, name="ingest-runs"),
    path("upload/", views.upload, name="ingest-upload"),
    path("runs/<int:pk>/", views.run_detail, name="ingest-run"),
    path("runs/<int:pk>/status/", views.run_status, name="ingest-run-status"),
]
