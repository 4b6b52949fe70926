"""Fixtures for alert tests: a small fleet (one account, two services) without cost."""

from __future__ import annotations

import pytest


@pytest.fixture
def fleet(db):
    """One AWS account and two services, no cost yet."""
    from tests.factories import make_account, make_service

    account = make_account(account_id="999900001111", name="Test AWS")
    chat = make_service(slug="t-chat", name="T chat")
    image = make_service(
        slug="t-image",
        name="T image",
        modality="image_generation",
        unit_of_work="1k images",
        latency_slo_p95_ms=1500,
    )
    return {"account": account, "chat": chat, "image": image}
