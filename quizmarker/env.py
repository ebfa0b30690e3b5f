"""Typed environment parsing that fails loudly.

Every setting that comes from the environment goes through one of these helpers, so a
typo such as ``DEBUG=ture`` stops the process at start-up with a sentence naming the
variable, instead of silently meaning ``False``.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_MISSING = object()


def _raw(name: str, default: object) -> str | object:
    """The variable's value; ``NAME_FILE`` (a path to a secret file) is honoured too."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at {file_path!r}, which cannot be read: {exc}") from exc
    value = os.environ.get(name, "")
    return default if value == "" else value  # an empty variable (as copied from .env.example) means "not set"


def env_str(name: str, default: str | object = _MISSING) -> str:
    value = _raw(name, default)
    if value is _MISSING:
        raise ImproperlyConfigured(f"The environment variable {name} is required (see .env.example).")
    return str(value)


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name, _MISSING)
    if value is _MISSING:
        return default
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of true/false, yes/no, on/off, 1/0.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    return _env_number(name, default, int, "a whole number", minimum)


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    return _env_number(name, default, float, "a number", minimum)


def _env_number(name: str, default, parse, kind: str, minimum):
    value = _raw(name, _MISSING)
    if value is _MISSING:
        return default
    try:
        number = parse(str(value).strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not {kind}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name, _MISSING)
    if value is _MISSING:
        return list(default)
    return [item.strip() for item in str(value).split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = env_str(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(sorted(choices))}.")
    return value


def env_prefixed(prefix: str) -> dict[str, str]:
    """All variables starting with ``prefix``, with the prefix removed (for ANYMAIL_*)."""
    return {
        key[len(prefix) :]: value
        for key, value in os.environ.items()
        if key.startswith(prefix) and len(key) > len(prefix)
    }
