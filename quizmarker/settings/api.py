"""REST framework (API v1), its OpenAPI schema, and outgoing email."""

from __future__ import annotations

from quizmarker.env import env_bool, env_int, env_prefixed, env_str
from quizmarker.settings.base import BASE_DIR

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
