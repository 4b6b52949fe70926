"""Credential references: which environment variables an account may name, and keeping their
values out of every error, log record, response and database row.

An account's ``credential_ref`` is ``default-chain`` or the NAME of an environment variable that
starts with :data:`CREDENTIAL_PREFIX`. The prefix is the deployment's declaration: only variables
the operator deliberately named ``HEADROOM_CRED_…`` can be handed to a cloud SDK, so an admin can
never point an account at ``SECRET_KEY`` or ``DATABASE_URL`` and read it back through an SDK's
error text. The values of those variables are secrets as far as Headroom is concerned (a profile
name, a client id, a key-file path): :func:`scrub` replaces them wherever text leaves the process.
"""

from __future__ import annotations

import logging
import re

from django.core.exceptions import ValidationError

from planner.env import secrets_with_prefix

DEFAULT_CHAIN = "default-chain"
CREDENTIAL_PREFIX = "HEADROOM_CRED_"
_NAME = re.compile(rf"{CREDENTIAL_PREFIX}[A-Z0-9_]+")
MIN_SCRUB_LEN = 4  # shorter values ("1", "on") would mangle ordinary text and reveal little


def credential_ref_problem(ref: str) -> str | None:
    """Why ``ref`` is not an acceptable credential reference, or None when it is."""
    if ref == DEFAULT_CHAIN:
        return None
    if not _NAME.fullmatch(ref or ""):
        return (
            f"Use '{DEFAULT_CHAIN}' or the NAME of an environment variable that starts with "
            f"{CREDENTIAL_PREFIX} (e.g. {CREDENTIAL_PREFIX}AWS_BILLING_PROFILE); other variables "
            "(SECRET_KEY, DATABASE_URL, …) are never handed to a cloud SDK, and never put a "
            "secret here."
        )
    return None


def validate_credential_ref(ref: str) -> None:
    problem = credential_ref_problem(ref)
    if problem:
        raise ValidationError(problem, code="credential_ref")


def credential_secrets() -> dict[str, str]:
    """``{value: name}`` of every declared credential variable in this process's environment."""
    return {
        value: name
        for name, value in secrets_with_prefix(CREDENTIAL_PREFIX).items()
        if len(value) >= MIN_SCRUB_LEN
    }


def scrub(text: str) -> str:
    """``text`` with the value of every declared credential variable replaced by its name."""
    secrets = credential_secrets()
    for value in sorted(secrets, key=len, reverse=True):  # longest first: values may nest
        if value in text:
            text = text.replace(value, f"[value of {secrets[value]}]")
    return text


def _scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """The message and any traceback of ``record`` scrubbed (only when a credential is set)."""
    if not credential_secrets():
        return record
    record.msg = scrub(record.getMessage())
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


def install_log_scrubbing() -> None:
    """Scrub every log record as it is created, whichever logger and handler it goes to (Celery's
    task-failure log, Django's request log and test capture alike). Idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "headroom_scrubs", False):
        return

    def scrubbing_factory(*args, **kwargs) -> logging.LogRecord:
        return _scrub_record(factory(*args, **kwargs))

    scrubbing_factory.headroom_scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbing_factory)
