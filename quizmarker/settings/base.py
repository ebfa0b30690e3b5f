"""Core settings: environment, secret key, hosts and tenancy, apps, middleware, templates, language."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from quizmarker.env import env_bool, env_choice, env_float, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

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

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True
