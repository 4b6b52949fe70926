"""Typed readers for settings that come from the environment (after healthchecks' hc/settings.py).

Every Headroom setting is read through one of these helpers so that a typo in an
environment variable fails loudly at start-up with the variable's name, rather than
surfacing later as a confusing type error.
"""

from __future__ import annotations

import json
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off"
    )


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def envfloat(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None


def envlist(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blanks are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def envjson(name: str, default: object) -> object:
    """A JSON value; malformed JSON fails at start-up naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from None


def promql_overrides(name: str) -> dict[str, dict[str, str]]:
    """``{service slug or "*": {metric: PromQL}}`` from JSON; any other shape fails at start-up."""
    value = envjson(name, {})
    ok = isinstance(value, dict) and all(
        isinstance(v, dict) and all(isinstance(q, str) for q in v.values()) for v in value.values()
    )
    if not ok:
        raise ImproperlyConfigured(
            f'{name} must be a JSON object like {{"<service slug or *>": {{"<metric>": "<PromQL>"}}}}'
        )
    return value  # type: ignore[return-value]


def named_secret(name: str) -> str | None:
    """The value of the environment variable an account's credential reference names. Read at
    use, not start-up: references are data (one per account), the values deployment secrets."""
    return os.environ.get(name) or None


def secrets_with_prefix(prefix: str) -> dict[str, str]:
    """``{name: value}`` of every environment variable whose name starts with ``prefix``."""
    return {k: v for k, v in os.environ.items() if k.startswith(prefix)}
