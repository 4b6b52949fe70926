"""Browser tests: Debian's Chromium through Playwright's sync API against pytest-django's live server."""

import pytest


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch):
    """Playwright's sync API runs an asyncio loop in the test thread; Django's async-unsafe guard
    would refuse the ORM calls tests make between page actions. Set only while a browser test
    runs, so the variable never leaks into other tests (``check --deploy`` rejects it)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
