from django.contrib.auth.decorators import login_not_required
from django.urls import path

from planner.commitments import api, views

urlpatterns = [
    path("commitments/", views.commitments, name="commitments"),
    path("commitments/contracts/", views.upload_contract, name="commitments-upload"),
    path("commitments/alert-rules/", views.add_rule, name="commitments-rule"),
    # DRF authenticates the API itself (401/403 JSON), as under planner/api/urls.py
    path(
        "api/v1/commitments/",
        login_not_required(api.CommitmentInventoryView.as_view()),
        name="api-commitments",
    ),
]
