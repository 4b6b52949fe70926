"""Brute force (issue 13, item 7): the login form locks a username out after repeated wrong
passwords (django-axes, with a cool-off), and the API throttles each client."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.urls import reverse
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from tests.planner.api.conftest import token_client

PASSWORD = "pw-t-analyst-123!"  # tests/conftest.py's _user


def _login(client, password):
    return client.post(reverse("login"), {"username": "t-analyst", "password": password})


def test_lockout_after_repeated_wrong_passwords_then_cool_off(client, analyst, settings):
    start = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert _login(client, "wrong-guess").status_code == 200  # the form, with an error
        locked = _login(client, "wrong-guess")
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
        right = _login(client, PASSWORD)
        assert right.status_code == 429  # the right password does not get in while locked
        assert "_auth_user_id" not in client.session
    cooloff = dt.timedelta(hours=settings.AXES_COOLOFF_TIME)
    with time_machine.travel(start + cooloff + dt.timedelta(minutes=1), tick=False):
        after = _login(client, PASSWORD)
        assert after.status_code == 302 and client.session["_auth_user_id"] == str(analyst.pk)


def test_lockout_of_one_username_does_not_lock_out_another(client, analyst, viewer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "wrong-guess")
    other = client.post(reverse("login"), {"username": "t-viewer", "password": "pw-t-viewer-123!"})
    assert other.status_code == 302


def test_lockout_api_is_throttled_per_user(analyst, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    api = token_client(analyst)
    codes = [api.get("/api/v1/services/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    cache.clear()


def test_lockout_settings_declare_throttles():
    from django.conf import settings

    rf = settings.REST_FRAMEWORK
    assert {"anon", "user"} <= set(rf["DEFAULT_THROTTLE_RATES"])
    assert "axes.middleware.AxesMiddleware" in settings.MIDDLEWARE
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
