from django.urls import path

from planner.alerts import notification_views, views

urlpatterns = [
    path("anomalies/", views.anomalies, name="anomalies"),
    path("anomalies/alerts/", views.subscriptions, name="anomaly-subscriptions"),
    path("anomalies/<int:pk>/", views.anomaly_detail, name="anomaly-detail"),
    path("anomalies/<int:pk>/status/", views.anomaly_set_status, name="anomaly-status"),
    path("budgets/", views.budgets, name="budgets"),
    path("budgets/new/", views.budget_create, name="budget-create"),
    path("budgets/<int:pk>/", views.budget_detail, name="budget-detail"),
    path("budgets/<int:pk>/edit/", views.budget_edit, name="budget-edit"),
    path("notifications/", notification_views.notifications, name="notifications"),
    path(
        "notifications/<int:pk>/",
        notification_views.notification_detail,
        name="notification-detail",
    ),
]
