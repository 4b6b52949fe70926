from django.urls import path

from planner.whatif import views

urlpatterns = [
    path("recommendations/", views.recommendations, name="recommendations"),
    path("recommendations/refresh/", views.recommendations_refresh, name="recommendations-refresh"),
    path(
        "recommendations/<int:pk>/decide/",
        views.recommendation_decide,
        name="recommendation-decide",
    ),
    path("whatif/", views.whatif, name="whatif"),
    path("whatif/run/", views.whatif_run, name="whatif-run"),
    path("whatif/compare/", views.scenario_compare, name="scenario-compare"),
    path("whatif/<int:pk>/", views.scenario_detail, name="scenario-detail"),
    path("whatif/<int:pk>/progress/", views.scenario_progress, name="scenario-progress"),
    path("whatif/<int:pk>/save/", views.scenario_save, name="scenario-save"),
    path("whatif/<int:pk>/promote/", views.scenario_promote, name="scenario-promote"),
]
