import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from planner import env
from tests.conftest import REPO


def test_envbool_accepts_common_spellings(monkeypatch):
    for raw, expected in [
        ("1", True),
        ("yes", True),
        ("On", True),
        ("0", False),
        ("false", False),
        ("", False),
    ]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env.envbool("X_FLAG") is expected


def test_envbool_rejects_garbage_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env.envbool("X_FLAG")


def test_envint_and_envlist(monkeypatch):
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    assert env.envint("X_INT", 1) == 42
    assert env.envlist("X_LIST") == ["a", "b", "c"]
    assert env.envint("X_MISSING", 7) == 7
    monkeypatch.setenv("X_INT", "4.5")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env.envint("X_INT", 1)


def _manage(*args, **extra_env):
    e = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")}
    e.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=e,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_the_development_secret_key():
    proc = _manage("check", DEBUG="0")
    assert proc.returncode != 0
    assert "SECRET_KEY is the development key" in proc.stderr


def test_check_deploy_is_clean_in_production_settings():
    proc = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x7-" + "Qz9#kLm2$vB8nR4tW6yP1sD3fG5hJ0aE-" * 2,
        ALLOWED_HOSTS="headroom.example.com",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


def test_database_url_is_honoured():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='planner.settings';"
            "from django.conf import settings;print(settings.DATABASES['default']['ENGINE'],"
            "settings.DATABASES['default']['NAME'])",
        ],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": "postgres://u@db.example:5433/headroom"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.split() == ["django.db.backends.postgresql", "headroom"], proc.stderr
