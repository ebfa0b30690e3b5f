"""The browser tests need Debian's Chromium. On a developer's machine without it they are skipped; in CI (CI=true) a
missing browser fails the run instead, so a green CI always includes the browser tests.

Every page they visit is checked with axe-core (bundled in the axe-playwright-python package: nothing is fetched)
against WCAG 2.1 AA. The `browser` fixture's contexts do it by themselves, with no call in the tests: axe runs in each
document once it is parsed, a page's next navigation waits for that check, and closing a page or context waits for
the last one and fails the test on any violation, naming the page and the elements (so does the end of the test)."""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

import pytest

from tests.helpers import CHROMIUM

MISSING = (
    "Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); the browser test never "
    "downloads a browser"
)
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_runtest_setup(item):
    """Before any fixture starts (a worker, a live server): fail at once in CI, skip elsewhere."""
    if CHROMIUM.exists():
        return
    if in_ci():
        pytest.fail(f"CI=true: {MISSING}.", pytrace=False)
    pytest.skip(MISSING)


# Added to every document of a context, before its own scripts: axe-core, run once the document is parsed (the pages
# are drawn by the server), its violations handed to Python, then a flag a close() can wait for.
AUDIT_ON_ARRIVAL = """
;document.addEventListener("DOMContentLoaded", function () {
  if (window.top !== window) return;
  axe.run(document, { runOnly: { type: "tag", values: WCAG_TAGS }, resultTypes: ["violations"] })
    .then(function (results) { return results.violations; },
          function (error) { return [{ id: "axe-error", impact: String(error), help: "axe-core failed", nodes: [] }]; })
    .then(function (violations) { return window.__qmAxeReport(violations); })
    .then(function () { window.__qmAxeDone = true; });
});
""".replace("WCAG_TAGS", json.dumps(WCAG_21_AA))


class Accessibility:
    """Checks each document a context shows with axe-core, and holds a page's next navigation until its current
    document has been checked (so a quick click never skips one). Keeps the violations found until reported."""

    def __init__(self):
        self.violations: list[str] = []
        self.checked: dict = {}  # page -> whether its current document has been checked
        self.held: dict = {}  # page -> navigations waiting for that check

    def watch(self, context) -> None:
        from axe_playwright_python.base import AXE_SCRIPT  # axe-core as the package ships it (requirements/dev.in)

        context.add_init_script(script=AXE_SCRIPT + AUDIT_ON_ARRIVAL)
        context.expose_binding("__qmAxeReport", self._checked)
        context.on("page", self._new_page)
        # Documents only: static files and live event streams go straight through.
        context.route(
            lambda url: not urlsplit(url).path.startswith("/static/") and not url.endswith("/events"), self._navigating
        )

    def _new_page(self, page) -> None:
        page.on("framenavigated", lambda frame: frame.parent_frame is None and self.checked.update({page: False}))

    def _checked(self, source, violations) -> None:
        page = source["page"]
        for violation in violations:
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
            self.violations.append(
                f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']} — {targets}"
            )
        self.checked[page] = True
        for route in self.held.pop(page, []):
            route.fallback()

    def _navigating(self, route, request) -> None:
        if request.is_navigation_request() and request.frame.parent_frame is None:
            page = request.frame.page
            if page.url.startswith("http") and not self.checked.get(page):
                self.held.setdefault(page, []).append(route)  # released by _checked
                return
        route.fallback()

    def wait(self, page) -> None:
        """Until the page's current document has been checked (from the test's own flow, e.g. before a close)."""
        if page.url.startswith("http") and not page.is_closed():
            page.wait_for_function("() => window.__qmAxeDone === true", timeout=60_000)

    def report(self) -> None:
        found, self.violations = self.violations, []
        if found:
            raise AssertionError("WCAG 2.1 AA violations (axe-core):\n" + "\n".join(found))


class _Audited:
    """A Playwright page or context whose close() waits for the check of what it shows and reports what was found;
    everything else is the object's own."""

    def __init__(self, target, accessibility: Accessibility):
        self._target, self._accessibility = target, accessibility

    def __getattr__(self, name):
        return getattr(self._target, name)

    def close(self, **kwargs) -> None:
        for page in getattr(self._target, "pages", [self._target]):
            self._accessibility.wait(page)
        self._target.close(**kwargs)
        self._accessibility.report()


class AuditedContext(_Audited):
    def new_page(self):
        return _Audited(self._target.new_page(), self._accessibility)


class AuditedBrowser:
    def __init__(self, chromium, accessibility: Accessibility):
        self._chromium, self._accessibility = chromium, accessibility

    def new_context(self, **kwargs) -> AuditedContext:
        context = self._chromium.new_context(**kwargs)
        self._accessibility.watch(context)
        return AuditedContext(context, self._accessibility)


@pytest.fixture
def browser(monkeypatch):
    """Debian's Chromium through Playwright; its contexts check every page they show with axe-core."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM checks are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    accessibility = Accessibility()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield AuditedBrowser(chromium, accessibility)
        chromium.close()
        # Database work done while Playwright's loop runs gets its own connection: close it here, in that context.
        connections.close_all()
    accessibility.report()
