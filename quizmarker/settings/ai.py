"""AI providers, the shared call limiter, prices, and the plans' quiz limits."""

from __future__ import annotations

from quizmarker.env import env_choice, env_float, env_int, env_str

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
