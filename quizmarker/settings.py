"""QuizMarker settings: one module, driven by environment variables (see .env.example)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from quizmarker.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_prefixed,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file beside manage.py is read when present; real environment variables win.
load_dotenv(BASE_DIR / ".env", override=False)

DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("QUIZMARKER_TESTING", "pytest" in sys.modules)

_INSECURE_DEV_KEY = "django-insecure-quizmarker-local-development-only"
SECRET_KEY = env_str("SECRET_KEY", _INSECURE_DEV_KEY if (DEBUG or TESTING) else object())
if not (DEBUG or TESTING) and (SECRET_KEY == _INSECURE_DEV_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters when DEBUG is off.")

# --- Hosts and tenancy -----------------------------------------------------------------------
# Organizations live at <slug>.<BASE_DOMAIN>; the bare domain serves the landing page, sign-up and the admin.
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost").strip().lower()
# Extra host names that serve the public site (e.g. 127.0.0.1 for health checks from a load balancer).
_EXTRA_PUBLIC_HOSTS = env_list("PUBLIC_HOSTS", [])  # (docker/: `web`, the name Prometheus scrapes it by)
PUBLIC_HOSTS = sorted({BASE_DOMAIN, "localhost", "127.0.0.1", "[::1]", *_EXTRA_PUBLIC_HOSTS})
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1", "[::1]", *_EXTRA_PUBLIC_HOSTS])
# The port shown in links we build (emails, hand-off between hosts); empty for 80/443.
SITE_PORT = env_str("SITE_PORT", "8000" if DEBUG else "")
SITE_SCHEME = env_choice("SITE_SCHEME", "http" if DEBUG or TESTING else "https", {"http", "https"})

SHARED_APPS = [
    "django_tenants",
    "organizations",
    "jobs",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "django_celery_results",
    "django_celery_beat",
    "anymail",
    "drf_spectacular",
    "csp",
    "integrations",
]
# Everything about students (answers, names, grades) lives only in the organization's schema.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "grading",
    "markschemes",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "organizations.Organization"
TENANT_DOMAIN_MODEL = "organizations.Domain"
PUBLIC_SCHEMA_URLCONF = "quizmarker.urls_public"
ROOT_URLCONF = "quizmarker.urls_tenant"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# Set the search_path only when the schema changes, not before every query.
TENANT_LIMIT_SET_CALLS = True
# Seconds a process keeps a host's organization before reading it again (saving one clears it at once in the
# process that saved it). Off in tests, whose transactions roll back under a cache.
TENANT_CACHE_SECONDS = env_float("TENANT_CACHE_SECONDS", 0.0 if TESTING else 5.0, minimum=0)
# GET /health/ready (quizmarker/health.py): monitoring's token (empty: super admins only), and how long a report is
# kept per process.
HEALTH_TOKEN = env_str("HEALTH_TOKEN", "")
HEALTH_CACHE_SECONDS = env_float("HEALTH_CACHE_SECONDS", 0.0 if TESTING else 5.0, minimum=0)
# GET /metrics (quizmarker/metrics.py, Prometheus): readable with `Authorization: Bearer <METRICS_TOKEN>` or from an
# address in METRICS_ALLOWED_IPS (addresses or networks, comma-separated; `make run` allows 127.0.0.1). Nobody else.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", [])
try:
    METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(item, strict=False) for item in METRICS_ALLOWED_IPS]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS must list IP addresses or networks: {exc}") from exc
# Organizations given their own `organization` label in job metrics (slugs); the rest are counted as "other".
METRICS_ORGANIZATIONS = frozenset(env_list("METRICS_ORGANIZATIONS", []))
# docker/: each container counts in its own folder under this shared volume (PROMETHEUS_MULTIPROC_DIR=<root>/<host>,
# set by docker/entrypoint.sh); /metrics adds up every folder. Empty: this stack's PROMETHEUS_MULTIPROC_DIR alone.
METRICS_MULTIPROC_ROOT = env_str("PROMETHEUS_MULTIPROC_ROOT", "")

AUTH_USER_MODEL = "organizations.User"

MIDDLEWARE = [
    "quizmarker.metrics.request_metrics_middleware",
    "quizmarker.middleware.OrganizationRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "quizmarker.middleware.StaffTwoFactorMiddleware",
    "quizmarker.middleware.OrganizationAccessMiddleware",
]

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
                "quizmarker.context_processors.site",
            ],
        },
    },
]

WSGI_APPLICATION = "quizmarker.wsgi.application"
ASGI_APPLICATION = "quizmarker.asgi.application"

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/quizmarker")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        engine="django_tenants.postgresql_backend",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
# A bounded pool of connections per process (Django's psycopg pool), instead of one connection per thread kept for
# DATABASE_CONN_MAX_AGE: a burst of request threads waits for a free connection (up to DATABASE_POOL_TIMEOUT
# seconds) rather than opening more than PostgreSQL allows. Size it to the threads that use the database at once:
# the Procfile and compose set DATABASE_POOL_MAX_SIZE per process (see the README's connection budget). Connections
# are replaced after DATABASE_POOL_MAX_LIFETIME seconds, since each keeps ~0.2 MB of catalog cache per organization
# schema it has touched. Session-level pooling keeps django-tenants' `SET search_path` correct: a connection taken
# from the pool always gets its organization's search_path set again (the wrapper forgets it on close).
DATABASE_POOL = env_bool("DATABASE_POOL", not TESTING)
if DATABASE_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django refuses both at once
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1, minimum=0),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10, minimum=1),
        "max_lifetime": env_float("DATABASE_POOL_MAX_LIFETIME", 600.0, minimum=30),
        "max_idle": env_float("DATABASE_POOL_MAX_IDLE", 120.0, minimum=10),
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 30.0, minimum=1),
    }
# Each test run gets its own database (named after its Redis prefix), so several runs can share one server.
_TEST_SUFFIX = env_str("REDIS_KEY_PREFIX", "quizmarker")
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_TEST_SUFFIX}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, cache, limiter ------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every Redis key we write starts with this, so several deployments (or test runs) can share one Redis.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "quizmarker")

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        # Keys carry the schema name, so throttles and rate limits never mix organizations.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
        },
    }
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# kombu's Redis transport with a workaround for an upstream bug that killed workers when Redis went away while they
# ran a job (quizmarker/broker.py says which, and how to tell when it can go).
CELERY_BROKER_TRANSPORT = "quizmarker.broker:Transport"
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES_SECONDS", 7 * 24 * 3600, minimum=60)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# The longest task (grading) may run 1800 s, and a retry may wait up to JOB_RETRY_BACKOFF_MAX; Redis hands an
# unacknowledged message to another worker after the visibility timeout, so it must exceed both or a task runs twice.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 2 * 3600, minimum=1900)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:",
    "socket_connect_timeout": 3,
    "socket_timeout": 5,
    # One list per priority step and queue, the lowest number served first (kombu's default steps, stated because
    # jobs.fairness publishes a busy organization's jobs at the lower ones and counts what waits in each list).
    "priority_steps": [0, 3, 6, 9],
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
# Acknowledge a message only after the task finished, so a worker that dies mid-task leaves the message to be
# delivered again instead of losing the job.
CELERY_TASK_ACKS_LATE = True
# ...and when the worker process is killed (SIGKILL, OOM), reject the message back to the queue at once rather than
# acknowledging it as failed.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each worker process reserves one message at a time: long jobs are not hoarded by a busy process while others idle,
# and a crash strands at most one message.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Replace a worker process after a number of tasks, bounding memory growth from image work.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 200, minimum=1)
# Publishing must not hang a web request when Redis is down: fail fast, the sweeper publishes later.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # workers keep reconnecting through a broker outage
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_SEND_TASK_EVENTS = True  # Flower shows tasks live
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ("high", "default", "low")
CELERY_TASK_ROUTES = {
    "jobs.tasks.run_extraction": {"queue": "default"},
    "jobs.tasks.run_grading": {"queue": "default"},
    "jobs.tasks.run_email": {"queue": "low"},
    "jobs.tasks.run_scheme_import": {"queue": "default"},  # the AI worker: it may call the provider
    "jobs.tasks.*": {"queue": "high"},  # housekeeping: sweeper, reaper, cleanup
    "organizations.tasks.*": {"queue": "low"},
    "integrations.tasks.*": {"queue": "low"},  # webhook deliveries
    "quizmarker.celery.*": {"queue": "high"},
}
CELERY_TASK_TENANT_CACHE_SECONDS = 30

# --- Jobs -------------------------------------------------------------------------------------
# Two-step retention: a finished job's files and input/result go after JOB_EXPIRY_HOURS; its row, its log and its
# session stay JOB_HISTORY_DAYS (for history, statistics and session logs). The usage ledger is never removed.
JOB_EXPIRY_HOURS = env_int("JOB_EXPIRY_HOURS", 24, minimum=1)
JOB_HISTORY_DAYS = env_int("JOB_HISTORY_DAYS", 90, minimum=1)
if JOB_HISTORY_DAYS * 24 < JOB_EXPIRY_HOURS:
    raise ImproperlyConfigured("JOB_HISTORY_DAYS must cover at least JOB_EXPIRY_HOURS: files go before the job's row.")
JOB_MAX_RETRIES = env_int("JOB_MAX_RETRIES", 3, minimum=0)
JOB_RETRY_BACKOFF_BASE = env_float("JOB_RETRY_BACKOFF_BASE", 5.0, minimum=0)
JOB_RETRY_BACKOFF_MAX = env_float("JOB_RETRY_BACKOFF_MAX", 300.0, minimum=0)
# (soft, hard) time limits in seconds per job type; the soft limit lets the job record a clear failure.
JOB_TIME_LIMITS = {
    "extraction": (
        env_int("JOB_EXTRACTION_SOFT_LIMIT", 840, minimum=1),
        env_int("JOB_EXTRACTION_LIMIT", 900, minimum=2),
    ),
    "grading": (env_int("JOB_GRADING_SOFT_LIMIT", 1740, minimum=1), env_int("JOB_GRADING_LIMIT", 1800, minimum=2)),
    "email": (env_int("JOB_EMAIL_SOFT_LIMIT", 100, minimum=1), env_int("JOB_EMAIL_LIMIT", 120, minimum=2)),
    "scheme_import": (
        env_int("JOB_SCHEME_IMPORT_SOFT_LIMIT", 840, minimum=1),
        env_int("JOB_SCHEME_IMPORT_LIMIT", 900, minimum=2),
    ),
}
# A queued job whose message was never published (broker down) is published again after this many seconds.
JOB_SWEEP_AFTER_SECONDS = env_int("JOB_SWEEP_AFTER_SECONDS", 30, minimum=1)
# A running job's heartbeat is stamped this often; the reaper re-queues a job silent for JOB_SILENT_AFTER_SECONDS.
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 20.0, minimum=0.1)
JOB_SILENT_AFTER_SECONDS = env_int("JOB_SILENT_AFTER_SECONDS", 90, minimum=1)
if JOB_SILENT_AFTER_SECONDS < 3 * JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "JOB_SILENT_AFTER_SECONDS must be at least 3 times JOB_HEARTBEAT_SECONDS, or the reaper would re-queue jobs "
        "that are still running."
    )

# --- Alerts (jobs/alerts.py: checked every minute by beat; super admins emailed on open and on resolve) ----------
ALERT_WINDOW_MINUTES = env_int("ALERT_WINDOW_MINUTES", 60, minimum=1)  # the window of the two rates below
ALERT_MIN_SAMPLES = env_int("ALERT_MIN_SAMPLES", 10, minimum=1)  # a rate counts once this many jobs/calls are in it
ALERT_FAILURE_RATE = env_float("ALERT_FAILURE_RATE", 0.2, minimum=0)  # failed ÷ (completed + failed) jobs
ALERT_PROVIDER_ERROR_RATE = env_float("ALERT_PROVIDER_ERROR_RATE", 0.2, minimum=0)  # failed ÷ all AI calls
ALERT_QUEUE_AGE_SECONDS = env_int("ALERT_QUEUE_AGE_SECONDS", 600, minimum=1)  # the oldest queued job's wait
ALERT_BUDGET_FRACTION = env_float("ALERT_BUDGET_FRACTION", 0.9, minimum=0)  # of an organization's monthly AI budget

# --- Plans and usage --------------------------------------------------------------------------
PLAN_QUIZ_LIMITS = {
    "free": env_int("PLAN_FREE_QUIZ_LIMIT", 50, minimum=0),
    "pro": env_int("PLAN_PRO_QUIZ_LIMIT", 1000, minimum=0),
    "enterprise": None,  # unlimited
}

# --- AI providers -----------------------------------------------------------------------------
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "") or None
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4.1-mini")
OPENAI_TIMEOUT = env_float("OPENAI_TIMEOUT", 90.0, minimum=1)
OPENAI_MAX_RETRIES = env_int("OPENAI_MAX_RETRIES", 2, minimum=0)
QUIZMARKER_AI_PROVIDER = env_choice(
    "QUIZMARKER_AI_PROVIDER", "openai" if OPENAI_API_KEY else "local", {"openai", "local"}
)
# Inside one job: how many pages are extracted, and how many scripts graded, at the same time.
EXTRACTION_PAGE_CONCURRENCY = env_int("EXTRACTION_PAGE_CONCURRENCY", 4, minimum=1)
GRADING_SCRIPT_CONCURRENCY = env_int("GRADING_SCRIPT_CONCURRENCY", 4, minimum=1)
# Marks for a question whose sheet does not show any.
DEFAULT_QUESTION_MARKS = env_int("DEFAULT_QUESTION_MARKS", 2, minimum=1)
# Shared limiter across all workers, per provider.
AI_MAX_CONCURRENT_CALLS = env_int("AI_MAX_CONCURRENT_CALLS", 16, minimum=1)
AI_MAX_CALLS_PER_MINUTE = env_int("AI_MAX_CALLS_PER_MINUTE", 500, minimum=1)
# Seconds an AI call waits for the limiter's Redis to answer before its job retries later (never a call without it).
AI_LIMITER_REDIS_WAIT_SECONDS = env_float("AI_LIMITER_REDIS_WAIT_SECONDS", 30.0, minimum=0)
# Minimum seconds between two AI calls from one worker process (0: no pacing). Only for providers that need it.
AI_MIN_SECONDS_BETWEEN_CALLS = env_float("AI_MIN_SECONDS_BETWEEN_CALLS", 0.0, minimum=0)
# US dollars per million tokens: (prompt, cached prompt, completion).
AI_PRICES_PER_MILLION = {
    "gpt-4.1-mini": (0.40, 0.10, 1.60),
    "gpt-4.1": (2.00, 0.50, 8.00),
    "gpt-4.1-nano": (0.10, 0.025, 0.40),
    "gpt-4o-mini": (0.15, 0.075, 0.60),
    "local": (0.0, 0.0, 0.0),
}

# --- Files ------------------------------------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".data" / "media")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".data" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where uploads, page images and subjects' reference PDFs are kept. "filesystem": MEDIA_ROOT, which the web and every
# worker must share (one host, or a shared volume). "s3": an S3-compatible bucket (django-storages), for workers on
# several hosts; credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the host's role), as boto3 reads
# them. Anything else is the dotted path of a Storage class. QuizMarker reaches files only through the Storage API.
FILE_STORAGE = env_str("FILE_STORAGE", "filesystem")
_FILE_STORAGE_CLASSES = {
    "filesystem": "django.core.files.storage.FileSystemStorage",
    "s3": "storages.backends.s3.S3Storage",
}
_FILE_STORAGE_OPTIONS = {}
if FILE_STORAGE == "s3":
    _FILE_STORAGE_OPTIONS = {
        "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
        "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,  # e.g. a MinIO or Ceph gateway
        "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
        "location": env_str("AWS_S3_PREFIX", ""),  # a folder inside the bucket
        "default_acl": None,  # private objects; pages are served through our views, never by bucket URL
        "file_overwrite": False,
    }
STORAGES = {
    "default": {"BACKEND": _FILE_STORAGE_CLASSES.get(FILE_STORAGE, FILE_STORAGE), "OPTIONS": _FILE_STORAGE_OPTIONS},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In development and tests static files are served from the app folders, with no collectstatic step.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
REFERENCE_PDF_DIR = Path(env_str("REFERENCE_PDF_DIR", str(BASE_DIR / "reference_pdfs")))
UPLOAD_MAX_FILE_BYTES = env_int("UPLOAD_MAX_FILE_BYTES", 16 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_FILES = env_int("UPLOAD_MAX_FILES", 20, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES + 1  # one more so we can answer "too many files" ourselves
# A whole upload request: every file at its largest, plus room for the form fields. The upload handler refuses a file
# as soon as it passes UPLOAD_MAX_FILE_BYTES and a request as soon as it passes this, writing nothing more to disk.
UPLOAD_MAX_REQUEST_BYTES = env_int(
    "UPLOAD_MAX_REQUEST_BYTES", UPLOAD_MAX_FILES * UPLOAD_MAX_FILE_BYTES + 1024 * 1024, minimum=1024
)
FILE_UPLOAD_HANDLERS = [
    "grading.upload_limits.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Uploaded files are opened (checked, PDFs rendered) in child processes with these limits (grading/sandbox.py).
FILE_SANDBOX_PROCESSES = env_int("FILE_SANDBOX_PROCESSES", 2, minimum=1)
FILE_SANDBOX_MEMORY_MB = env_int("FILE_SANDBOX_MEMORY_MB", 768, minimum=128)
FILE_SANDBOX_CPU_SECONDS = env_int("FILE_SANDBOX_CPU_SECONDS", 20, minimum=1)

# --- Accounts (django-allauth) ----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "organizations.forms.SignupForm"
ACCOUNT_ADAPTER = "organizations.adapters.AccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = env_choice("ACCOUNT_EMAIL_VERIFICATION", "optional", {"none", "optional", "mandatory"})
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {
    # allauth's defaults, kept explicit: login failures are rate limited per IP and per account.
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
# Two-factor sign-in (allauth.mfa): staff and super admins must enrol an authenticator app (TOTP) before anything
# else (quizmarker.middleware.StaffTwoFactorMiddleware), and get recovery codes with it. Operators' accounts may
# not have a confirmed address, so enrolment does not wait for one.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "QuizMarker"
MFA_ALLOW_UNVERIFIED_EMAIL = True
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Email (django-anymail) -------------------------------------------------------------------
# Console by default; any provider by environment, e.g. EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend with
# ANYMAIL_MAILGUN_API_KEY=... (every ANYMAIL_* variable is passed to anymail without its prefix).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
ANYMAIL = env_prefixed("ANYMAIL_")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "QuizMarker <no-reply@quizmarker.local>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / ".data" / "mail"))  # for the file-based backend
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Tokens hashed at rest, each working in one organization (integrations/tokens.py); DRF's own authtoken
        # app, which kept keys in clear, is retired and its keys moved there (integrations migration 0003).
        "integrations.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["quizmarker.api.IsOrganizationMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "quizmarker.api.exception_handler",
    # drf-spectacular's AutoSchema, plus the contract's envelope and error responses (integrations/schema.py).
    "DEFAULT_SCHEMA_CLASS": "integrations.schema.EnvelopeAutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "upload": env_str("THROTTLE_UPLOAD", "20/hour"),
        "grade": env_str("THROTTLE_GRADE", "15/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# OpenAPI schema of API v1 (served at /api/v1/schema on organization hosts; committed as docs/openapi.yaml).
SPECTACULAR_SETTINGS = {
    "TITLE": "QuizMarker API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVERS": [
        {
            "url": "https://{organization}.{domain}",
            "description": "Your organization's host",
            "variables": {"organization": {"default": "demo"}, "domain": {"default": "quizmarker.example"}},
        },
        {"url": "http://demo.localhost:8000", "description": "make run (development)"},
    ],
    "AUTHENTICATION_WHITELIST": [
        "integrations.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "SubmissionStatusEnum": "grading.models.SubmissionStatus",
        "DeliveryStatusEnum": "integrations.models.DeliveryStatus",
        "SessionStatusEnum": ["empty", "in_progress", "needs_attention", "cancelled", "completed"],
        "AcceptedStatusEnum": ["queued"],
    },
    "PREPROCESSING_HOOKS": ["integrations.schema.only_api_v1"],
    # The description, tags and error components are added by integrations.schema.finish_schema.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "integrations.schema.finish_schema"],
}

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not (DEBUG or TESTING))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not (DEBUG or TESTING))
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not (DEBUG or TESTING))
# Prometheus scrapes /metrics over the private network by plain HTTP (docker/prometheus.yml), with its token.
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if (DEBUG or TESTING) else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=300)
# Content-Security-Policy (django-csp): scripts only from our own static files — no inline script, no eval — so
# injected markup cannot run. Inline *styles* stay allowed (progress bars set their width in a style attribute).
# Images may also be data: (allauth's TOTP QR code) and blob: (the upload page's previews of chosen files).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Webhooks ---------------------------------------------------------------------------------
# Receivers on loopback addresses (127.0.0.0/8, ::1). For the test suite's own receivers; refused outside tests and
# development, since a webhook must never reach the server's own services.
WEBHOOKS_ALLOW_LOOPBACK = env_bool("WEBHOOKS_ALLOW_LOOPBACK", TESTING)
if WEBHOOKS_ALLOW_LOOPBACK and not (TESTING or DEBUG):
    raise ImproperlyConfigured("WEBHOOKS_ALLOW_LOOPBACK is for tests and development only; unset it in production.")

# --- Ops --------------------------------------------------------------------------------------
FLOWER_URL = env_str("FLOWER_URL", "http://localhost:5555")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"debug", "info", "warning", "error"}).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "quizmarker.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
    },
}
