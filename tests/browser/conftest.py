"""Browser tests: Debian's Chromium through Playwright's sync API against pytest-django's live server."""

import shutil

import pytest

from tests.conftest import skip_or_fail

# Debian's Chromium, headless; the closed network refuses its background calls.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_page():
    """A page in Debian's `chromium` (found on PATH) driven by Playwright; never a downloaded browser."""
    exe = shutil.which("chromium")
    if not exe:
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch):
    """Playwright's sync API runs an asyncio loop in the test thread; Django's async-unsafe guard
    would refuse the ORM calls tests make between page actions. Set only while a browser test
    runs, so the variable never leaks into other tests (``check --deploy`` rejects it)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
