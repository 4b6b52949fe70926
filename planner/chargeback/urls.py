from django.urls import path

from planner.chargeback import views

urlpatterns = [
    path("chargeback/", views.chargeback, name="chargeback"),
    path("chargeback/teams/", views.add_team, name="chargeback-team"),
    path("chargeback/rules/", views.add_rule, name="chargeback-rule"),
    path("chargeback/pools/", views.add_pool, name="chargeback-pool"),
    path("chargeback/subscriptions/", views.add_subscription, name="chargeback-subscription"),
    path("chargeback/email/", views.email_report, name="chargeback-email"),
    path("export/table/", views.export_table, name="export-table"),
]
