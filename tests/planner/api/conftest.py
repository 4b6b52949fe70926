"""API test fixtures: DRF clients authenticated with real tokens per role."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def viewer_api(viewer):
    return token_client(viewer)


@pytest.fixture
def analyst_api(analyst):
    return token_client(analyst)


@pytest.fixture
def admin_api(admin_user):
    return token_client(admin_user)
