"""A high-priority job's AI calls ask the limiter as high priority, within its organization's share."""

import pytest

from grading import limiter
from grading.pipeline import run_bounded
from jobs.models import BackgroundJob, JobType
from jobs.running import JobContext

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("priority", "high"), [("high", True), ("normal", False)])
def test_a_jobs_ai_calls_share_the_slots_as_its_organization_at_its_priority(personas, priority, high):
    job = BackgroundJob(organization=personas.alpha, job_type=JobType.EXTRACTION, priority=priority)
    asked_as = []

    run_bounded(
        JobContext(job=job, task_id="t"),
        [1, 2],
        lambda item: limiter._share.get(),
        2,
        lambda item, result, done: asked_as.append(result),
    )

    assert asked_as == [(personas.alpha.schema_name, high)] * 2
