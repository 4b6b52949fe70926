"""Shared fixtures. Tests run against the real database (PostgreSQL in CI via DATABASE_URL),
the real ORM, templates and loader; only network boundaries are ever faked."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# Keep every test's files out of the developer's var/ and away from any other test process:
# pytest-django has configured settings before this file is imported, so set them directly,
# and in the environment for the subprocesses (Celery workers, gunicorn) tests start.
_TMP_VAR = Path(tempfile.mkdtemp(prefix="headroom-test-var-"))
os.environ["HEADROOM_VAR_DIR"] = str(_TMP_VAR)
os.environ["LINE_ITEM_STORE"] = str(_TMP_VAR / "lineitems")
os.environ["HEADROOM_UPLOAD_DIR"] = str(_TMP_VAR / "uploads")
# Tests ingest files they write under pytest's tmp_path: the import directory (the only place
# local FOCUS sources may be read from) is the temporary directory. The import-dir tests set
# their own.
os.environ["HEADROOM_IMPORT_DIR"] = tempfile.gettempdir()


def _isolate_settings() -> None:
    from django.conf import settings

    settings.VAR_DIR = _TMP_VAR
    settings.LINE_ITEM_STORE = os.environ["LINE_ITEM_STORE"]
    settings.UPLOAD_DIR = Path(os.environ["HEADROOM_UPLOAD_DIR"])
    # settings derived UPLOAD_STORE from the developer's var/ before this ran: uploads must
    # land in the test's own directory too (tests write nothing into the work tree)
    settings.UPLOAD_STORE = str(settings.UPLOAD_DIR)
    settings.IMPORT_DIR = Path(os.environ["HEADROOM_IMPORT_DIR"])


_isolate_settings()

# Files tests keep for people to look at (browser screenshots): under the session's temporary
# directory, removed at the end, unless HEADROOM_TEST_ARTIFACTS names a directory to keep them in.
# Nothing a test writes lands in the work tree (`make screenshot` refreshes the README's image).
ARTIFACTS = Path(os.environ.get("HEADROOM_TEST_ARTIFACTS") or _TMP_VAR / "artifacts")


def _isolate_hypothesis() -> None:
    """Hypothesis keeps its example database and caches in the session's temporary directory,
    not in ./.hypothesis of the work tree."""
    from hypothesis import settings as hypothesis_settings
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis.database import DirectoryBasedExampleDatabase

    set_hypothesis_home_dir(_TMP_VAR / "hypothesis-home")

    database = DirectoryBasedExampleDatabase(str(_TMP_VAR / "hypothesis"))
    hypothesis_settings.register_profile("headroom-tests", database=database)
    hypothesis_settings.load_profile("headroom-tests")


_isolate_hypothesis()

DEMO_END = dt.date(2026, 10, 1)  # fixed so that demo-based tests are deterministic
DEMO_DAYS = 45


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP_VAR, ignore_errors=True)


def requires_services() -> bool:
    """In CI (HEADROOM_REQUIRE_SERVICES=1) a missing service fails the test instead of skipping."""
    return os.environ.get("HEADROOM_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str):
    if requires_services():
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_page_caches():
    """Each test starts with empty page caches. A page's figures are cached under the data
    version, which on PostgreSQL reads the rollups' and samples' identity sequences, and a
    test's rollback does not rewind a sequence: without this a test could be served figures an
    earlier, rolled-back test computed from its own rows under the very same version."""
    from django.core.cache import caches

    for alias in ("pages", "template_fragments"):
        caches[alias].clear()


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Unit tests run tasks in-process; system tests start a real worker and turn this off."""
    from planner.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = previous
    # Celery ≥ 5.5 takes a producer from the pool even for eager tasks: a test that closed the
    # pool (e.g. to simulate a broker outage) must not break every test after it.
    from kombu import pools

    registered = list(pools._all_pools())
    pool = getattr(app, "_pool", None)
    if pool is not None:
        registered.append(pool)
    if any(getattr(p, "_closed", False) for p in registered):
        reset_broker_pools()


def reset_broker_pools() -> None:
    """Forget every broker connection and producer pool, so the next send connects afresh with
    the current settings: kombu keeps a process-wide registry of pools keyed by broker URL, and a
    closed pool left there refuses every later acquire."""
    from kombu import pools

    from planner.celery import app

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None  # built on the old connection pool


@pytest.fixture
def unreachable_broker(monkeypatch):
    """Celery pointed at a port nothing listens on, with fresh connection pools (pools already
    opened to the real broker would otherwise still deliver), and real (non-eager) sends."""
    from planner.celery import app

    reset_broker_pools()
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")  # Celery reads this first
    app.conf.task_always_eager = False  # restored by _eager_celery
    yield
    reset_broker_pools()  # drop the pools bound to the dead URL before the env is restored


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test database starts with the demo fleet (45 days to 2026-10-01, seed 7), so that
    what a test sees never depends on which other tests ran first. Tests that need their own
    data filter by their own accounts/services. (Transactional tests flush the database at their
    end; pytest-django runs them after the others.)"""
    with django_db_blocker.unblock():
        _DEMO["anomalies"] = seed_test_fleet()


_DEMO: dict = {}


def seed_test_fleet():
    """The demo fleet every test database starts with; returns its injected anomalies."""
    from planner.core.seeding import seed_demo

    return seed_demo(days=DEMO_DAYS, seed=7, end=DEMO_END, usage_step_min=15, log=lambda *_: None)


@pytest.fixture
def demo_fleet(db):
    """The injected anomalies of the demo fleet that every test database starts with (re-seeded
    when a transactional test flushed it)."""
    from planner.core.seeding import demo_is_loaded

    if not demo_is_loaded():
        seed_test_fleet()
    return _DEMO["anomalies"]


@pytest.fixture
def viewer(db):
    from tests.factories import make_user

    return make_user("viewer", "t-viewer")


@pytest.fixture
def analyst(db):
    from tests.factories import make_user

    return make_user("analyst", "t-analyst")


@pytest.fixture
def admin_user(db):
    from tests.factories import make_user

    return make_user("admin", "t-admin")


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def analyst_client(client, analyst):
    client.force_login(analyst)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client
