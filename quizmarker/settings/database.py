"""PostgreSQL (with its connection pool) and Redis (cache, and the prefix every Redis key carries)."""

from __future__ import annotations

import dj_database_url

from quizmarker.env import env_bool, env_float, env_int, env_str
from quizmarker.settings.base import TESTING

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
