"""A failed job's card in a real browser: Retry posts through htmx and the new job's card, drawn by the server, takes
the old card's place without leaving the page (tests/browser/conftest.py checks the page with axe-core too)."""

from __future__ import annotations

import pytest
from django.conf import settings

from jobs.models import BackgroundJob
from tests.browser import test_assessor_flow as flow

pytestmark = [pytest.mark.browser]

site_server = flow.site_server


def test_retry_swaps_the_failed_card_for_the_new_jobs_card(site_server, browser, personas):
    base = f"http://alpha.{settings.BASE_DOMAIN}:{site_server.port}"
    failed = BackgroundJob.objects.create(
        organization=personas.alpha,
        user=personas.bob,
        job_type="extraction",
        status="failed",
        progress=40,
        input={"files": []},
        error_message="The AI service kept failing; try again later.",
    )
    try:
        context = browser.new_context(locale="en-GB")
        page = flow._sign_in(context, base, personas.bob.email)  # the dashboard shows the last two days' failures
        card = page.locator(f'.job-card[data-job="{failed.pk}"]')
        assert card.locator("[data-role=error]").inner_text() == "The AI service kept failing; try again later."
        page.evaluate("window.__sameDocument = true")

        card.get_by_role("button", name="Retry").click()
        card.wait_for(state="detached")  # (waiting through Playwright, whose loop also answers the page's requests)
        new_id = BackgroundJob.objects.get(pk=failed.pk).retried_as
        assert new_id is not None
        new_card = page.locator(f'.job-card[data-job="{new_id}"]')
        new_card.wait_for()
        assert new_card.locator(".job-title").get_attribute("href") == f"/jobs/{new_id}/"
        assert page.evaluate("window.__sameDocument") is True  # no page load: the card was swapped in place
        context.close()
    finally:
        BackgroundJob.objects.filter(
            pk__in=[failed.pk, *BackgroundJob.objects.filter(pk=failed.pk).values_list("retried_as", flat=True)]
        ).delete()
