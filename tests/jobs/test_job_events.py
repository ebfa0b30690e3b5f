"""The job engine announces finished jobs as an event sent once its transaction commits (jobs.events), so other apps
(webhooks, say) follow it without the engine calling them, and nothing is announced for a change rolled back."""

from __future__ import annotations

import pytest
from django.db import transaction

from jobs.cancel_retry import cancel_job
from jobs.events import job_finished
from jobs.models import BackgroundJob
from jobs.running import JobContext, fail


@pytest.fixture
def heard():
    """Every job_finished the engine sends during the test, as (sender, arguments)."""
    calls = []

    def receiver(sender, **arguments):
        arguments.pop("signal")
        calls.append((sender, arguments))

    job_finished.connect(receiver, dispatch_uid="test-heard")
    yield calls
    job_finished.disconnect(dispatch_uid="test-heard")


def test_a_failed_job_is_announced_once_after_its_transaction_commits(
    db, make_job, heard, django_capture_on_commit_callbacks
):
    job = make_job(status="processing", celery_task_id="task-1")
    with django_capture_on_commit_callbacks(execute=False) as pending:
        assert fail(job, "task-1", "The sheet could not be read.", "UNREADABLE") is True
        assert heard == [], "nothing is announced before the commit"
    for callback in pending:
        callback()

    assert heard == [
        (
            BackgroundJob,
            {"job_id": job.pk, "organization_id": job.organization_id, "job_type": "extraction", "status": "failed"},
        )
    ]


def test_a_completed_job_is_announced_once(db, make_job, heard, django_capture_on_commit_callbacks):
    job = make_job(job_type="grading", status="processing", celery_task_id="task-1")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        JobContext(job=job, task_id="task-1").complete({"submission_ids": []})

    assert heard == [
        (
            BackgroundJob,
            {"job_id": job.pk, "organization_id": job.organization_id, "job_type": "grading", "status": "completed"},
        )
    ]


def test_nothing_is_announced_when_the_transaction_rolls_back(db, make_job, heard, django_capture_on_commit_callbacks):
    job = make_job(status="processing", celery_task_id="task-1")
    with (
        django_capture_on_commit_callbacks(execute=True) as pending,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        JobContext(job=job, task_id="task-1").complete({})
        raise RuntimeError("the job's records could not be written")

    assert pending == [] and heard == []
    job.refresh_from_db()
    assert job.status == "processing"


def test_a_cancelled_job_is_not_announced(db, make_job, heard, personas, django_capture_on_commit_callbacks):
    job = make_job(status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        assert cancel_job(job, by=personas.alice) is True

    assert heard == []
