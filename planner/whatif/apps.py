from django.apps import AppConfig


class WhatifConfig(AppConfig):
    name = "planner.whatif"
    label = "whatif"
    verbose_name = "Recommendations and what-if scenarios"
