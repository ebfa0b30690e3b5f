"""The browser test needs Debian's Chromium. On a developer's machine without it the test is skipped; in CI
(CI=true) a missing browser fails the run instead, so a green CI always includes the browser test."""

from __future__ import annotations

import os

import pytest

from tests.helpers import CHROMIUM

MISSING = (
    "Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); the browser test never "
    "downloads a browser"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_runtest_setup(item):
    """Before any fixture starts (a worker, a live server): fail at once in CI, skip elsewhere."""
    if CHROMIUM.exists():
        return
    if in_ci():
        pytest.fail(f"CI=true: {MISSING}.", pytrace=False)
    pytest.skip(MISSING)
