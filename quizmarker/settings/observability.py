"""Health, metrics (Prometheus), Flower and logging."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from quizmarker.env import env_choice, env_float, env_list, env_str
from quizmarker.settings.base import TESTING

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

# --- Ops --------------------------------------------------------------------------------------
FLOWER_URL = env_str("FLOWER_URL", "http://localhost:5555")

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
