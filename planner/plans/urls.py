from django.urls import path

from planner.plans import views

urlpatterns = [
    path("plans/", views.plan_list, name="plans"),
    path("plans/tokens/", views.tokens, name="plan-tokens"),
    path("plans/tokens/new/", views.token_create, name="plan-token-create"),
    path("plans/tokens/<int:pk>/revoke/", views.token_revoke, name="plan-token-revoke"),
    path("plans/<int:pk>/", views.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/approve/", views.plan_approve, name="plan-approve"),
    path("plans/<int:pk>/mark-applied/", views.plan_mark_applied, name="plan-mark-applied"),
    path("plans/<int:pk>/export.zip", views.plan_export_zip, name="plan-export-zip"),
    path("plans/<int:pk>/files/<path:path>", views.plan_manifest, name="plan-manifest"),
    path("plans/<int:pk>/aws/apply/", views.plan_aws_apply, name="plan-aws-apply"),
    path("plans/<int:pk>/aws/rollback/", views.plan_aws_rollback, name="plan-aws-rollback"),
    path("plans/<int:pk>/aws/drift/", views.plan_aws_drift, name="plan-aws-drift"),
    path("plans/<int:pk>/drift/", views.plan_manifest_drift, name="plan-manifest-drift"),
    path("api/keda/targets/<slug:service_slug>", views.keda_targets, name="keda-targets"),
]
