"""Browser tests: Debian's Chromium through Playwright's sync API against pytest-django's live server."""

import os

# Playwright's sync API runs an asyncio loop in this thread; Django's async-unsafe guard would
# otherwise refuse the ORM calls the tests make between page actions.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
