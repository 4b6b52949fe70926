"""Fixtures for alert tests: a small fleet (one account, two services) without cost."""

from __future__ import annotations

import pytest


@pytest.fixture
def fleet(db):
    """One AWS account and two services, no cost yet."""
    from planner.core.models import CloudAccount, Service

    account = CloudAccount.objects.create(
        provider="aws", account_id="999900001111", name="Test AWS"
    )
    chat = Service.objects.create(
        slug="t-chat",
        name="T chat",
        modality="llm_chat",
        unit_of_work="1k tokens",
        latency_slo_p95_ms=2000,
    )
    image = Service.objects.create(
        slug="t-image",
        name="T image",
        modality="image_generation",
        unit_of_work="1k images",
        latency_slo_p95_ms=1500,
    )
    return {"account": account, "chat": chat, "image": image}
