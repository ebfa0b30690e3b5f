"""The job record only moves forward: every change is a conditional UPDATE, so a finished job stays finished, a stale
message changes nothing and progress never goes backwards."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import heartbeats, registry
from jobs.cancel_retry import cancel_job
from jobs.errors import JobCancelled, PermanentJobError, TransientJobError
from jobs.models import BackgroundJob, JobEvent
from jobs.running import JobContext, backoff_seconds, execute, fail, retry_or_fail

HERE = __name__


@pytest.fixture
def completed_job(db, make_job):
    return make_job(status="completed", celery_task_id="current-task", progress=100, result={"quiz_id": 1})


def assert_still_completed(job):
    job.refresh_from_db()
    assert job.status == "completed"
    assert job.result == {"quiz_id": 1}
    assert job.progress == 100
    assert job.error_message == "" and job.error_code == ""
    assert job.retry_count == 0
    assert not JobEvent.objects.filter(job=job).exists()


# --- A finished job stays finished ----------------------------------------------------------------


@pytest.mark.parametrize("task_id", ["current-task", None])
def test_fail_cannot_move_a_completed_job(completed_job, task_id):
    assert fail(completed_job, task_id, "Too late.", "LATE") is False
    assert_still_completed(completed_job)


def test_cancel_cannot_move_a_completed_job(completed_job, personas):
    assert cancel_job(completed_job, by=personas.alice) is False
    assert completed_job.status == "completed"
    assert_still_completed(completed_job)


@pytest.mark.parametrize("retry_count", [0, 3])
def test_retry_or_fail_cannot_move_a_completed_job(completed_job, broker_queue, retry_count):
    BackgroundJob.objects.filter(pk=completed_job.pk).update(retry_count=retry_count)
    completed_job.refresh_from_db()

    outcome = retry_or_fail(completed_job, "current-task", "The provider timed out.", "TEMPORARY_FAILURE", None)

    assert outcome != "retrying"
    completed_job.refresh_from_db()
    assert completed_job.status == "completed" and completed_job.retry_count == retry_count
    assert completed_job.error_code == "" and completed_job.not_before is None
    assert len(broker_queue) == 0


def test_a_stale_message_cannot_move_a_completed_job(completed_job):
    assert execute(str(completed_job.pk), "an-older-task", worker="w1@test") == "stale"
    assert_still_completed(completed_job)


def test_a_repeated_message_cannot_run_a_completed_job_again(completed_job):
    assert execute(str(completed_job.pk), "current-task", worker="w1@test") == "finished"
    assert_still_completed(completed_job)


def test_a_stale_message_cannot_start_a_queued_job(make_job, db):
    job = make_job(celery_task_id="the-current-message")

    assert execute(str(job.pk), "a-superseded-message") == "stale"

    job.refresh_from_db()
    assert job.status == "queued" and job.started_at is None


def test_a_message_for_a_deleted_job_is_dropped(db):
    assert execute("00000000-0000-4000-8000-000000000000", "any") == "missing"


# --- Progress -------------------------------------------------------------------------------------


@pytest.fixture
def running(db, make_job):
    job = make_job(status="processing", celery_task_id="task-1")
    return JobContext(job=job, task_id="task-1")


def test_progress_never_goes_backwards(running):
    running.progress(50, "Reading page 5 of 10")
    running.progress(30, "Reading page 3 of 10")

    running.job.refresh_from_db()
    assert running.job.progress == 50
    assert running.job.current_step == "Reading page 3 of 10"
    assert running.job.heartbeat_at is not None


def test_progress_is_kept_between_0_and_100(running):
    running.progress(250)
    running.job.refresh_from_db()
    assert running.job.progress == 100


def test_progress_raises_job_cancelled_once_the_job_is_cancelled(running, personas):
    running.progress(20)
    assert cancel_job(running.job, by=personas.alice) is True

    with pytest.raises(JobCancelled):
        running.progress(60)
    with pytest.raises(JobCancelled):
        running.checkpoint()
    with pytest.raises(JobCancelled):
        running.complete({"too": "late"})
    running.job.refresh_from_db()
    assert running.job.status == "cancelled"
    assert running.job.progress == 20
    assert running.job.result is None


def test_progress_raises_job_cancelled_once_another_attempt_owns_the_job(running):
    BackgroundJob.objects.filter(pk=running.job.pk).update(celery_task_id="task-2")

    with pytest.raises(JobCancelled):
        running.progress(10)


# --- execute() runs one attempt ---------------------------------------------------------------------


def finish_with_a_result(context: JobContext) -> dict:
    context.progress(40, "Halfway")
    return {"pages": 2}


def cancelled_midway(context: JobContext) -> dict:
    context.progress(40, "Halfway")
    cancel_job(context.job)
    context.progress(60, "Never recorded")
    return {"pages": 2}


def hit_a_rate_limit(context: JobContext) -> dict:
    raise TransientJobError("The AI provider is busy.", retry_after=120)


def refuse_the_input(context: JobContext) -> dict:
    raise PermanentJobError("The file is not a readable PDF.", code="UNSUPPORTED_FILE")


def outlive_the_time_limit(context: JobContext) -> dict:
    context.progress(10, "Reading")
    time.sleep(1.2)  # one slow step, past the 1 s limit, with no signal to interrupt it (the threads pool)
    context.progress(60, "Never recorded")
    return {"pages": 2}


def run_with(monkeypatch, job, handler) -> str:
    monkeypatch.setitem(registry.HANDLERS, job.job_type, f"{HERE}.{handler.__name__}")
    BackgroundJob.objects.filter(pk=job.pk).update(celery_task_id="task-1")
    outcome = execute(str(job.pk), "task-1", worker="w1@test")
    job.refresh_from_db()
    return outcome


def test_execute_runs_the_handler_and_completes_the_job(monkeypatch, make_job, db):
    job = make_job()

    assert run_with(monkeypatch, job, finish_with_a_result) == "completed"

    assert job.status == "completed" and job.progress == 100
    assert job.result == {"pages": 2}
    assert job.worker == "w1@test" and job.started_at and job.completed_at
    assert list(JobEvent.objects.filter(job=job).values_list("message", flat=True)) == ["Started.", "Completed."]


def test_execute_stops_a_job_cancelled_while_running_and_writes_no_result(monkeypatch, make_job, db):
    job = make_job()

    assert run_with(monkeypatch, job, cancelled_midway) == "cancelled"

    assert job.status == "cancelled" and job.progress == 40 and job.result is None


def test_execute_fails_a_job_at_once_on_a_permanent_error(monkeypatch, make_job, db):
    job = make_job()

    assert run_with(monkeypatch, job, refuse_the_input) == "failed"

    assert job.status == "failed" and job.retry_count == 0
    assert (job.error_code, job.error_message) == ("UNSUPPORTED_FILE", "The file is not a readable PDF.")


def test_execute_requeues_a_transient_error_with_a_fresh_message(monkeypatch, make_job, db, broker_queue):
    job = make_job()

    assert run_with(monkeypatch, job, hit_a_rate_limit) == "retrying"

    assert job.status == "queued" and job.retry_count == 1
    assert job.celery_task_id != "task-1" and job.enqueued_at is not None
    assert (job.not_before - job.started_at).total_seconds() >= 120  # Retry-After honoured
    assert broker_queue.task_ids() == [job.celery_task_id]
    assert JobEvent.objects.filter(job=job, level="warning", message__contains="Retrying in").exists()


def test_execute_gives_up_when_no_retries_are_left(monkeypatch, make_job, db, broker_queue):
    job = make_job(retry_count=3, max_retries=3)

    assert run_with(monkeypatch, job, hit_a_rate_limit) == "failed"

    assert job.status == "failed" and job.error_code == "TEMPORARY_FAILURE"
    assert "Gave up after 4 attempts" in job.error_message
    assert len(broker_queue) == 0


def test_execute_stops_a_job_at_its_next_checkpoint_once_past_its_time_limit(monkeypatch, make_job, db, settings):
    settings.JOB_TIME_LIMITS = {**settings.JOB_TIME_LIMITS, "extraction": (1, 60)}
    job = make_job()

    assert run_with(monkeypatch, job, outlive_the_time_limit) == "failed"

    assert job.status == "failed" and job.error_code == "JOB_TIMEOUT" and job.progress == 10
    assert job.error_message == "The job took longer than its 1 second limit and was stopped."
    assert job.result is None


class _CountedSleeps:
    """The time module as jobs.heartbeats sees it, counting the heartbeat thread's sleeps: each sleep that starts means
    the beat before it has finished (its UPDATE is committed). Tests wait for beats instead of sleeping."""

    def __init__(self):
        self.count = 0
        self.changed = threading.Condition()

    def sleep(self, seconds: float) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()
        time.sleep(seconds)

    def beats(self, n: int) -> None:
        """Wait until ``n`` more sleeps have started, so at least ``n - 1`` whole beats have run since the call."""
        with self.changed:
            target = self.count + n
            assert self.changed.wait_for(lambda: self.count >= target, timeout=30), "the heartbeat thread stalled"

    def __getattr__(self, name):
        return getattr(time, name)


def test_one_thread_beats_for_every_job_running_in_the_process_and_stops_when_they_end(
    live_db, make_job, settings, monkeypatch
):
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    sleeps = _CountedSleeps()
    monkeypatch.setattr(heartbeats, "time", sleeps)
    monkeypatch.setattr(heartbeats, "_heartbeats", heartbeats._Heartbeats())  # as in a new worker process
    threads_before = sum(t.name == "qm-heartbeats" for t in threading.enumerate())
    long_ago = timezone.now() - timedelta(minutes=5)
    first, second, other = (
        make_job(status="processing", celery_task_id=f"task-{n}", heartbeat_at=long_ago) for n in range(3)
    )
    try:
        beating = heartbeats._heartbeats.beating
        with beating(first.pk, "task-0"), beating(second.pk, "task-1"):
            sleeps.beats(3)  # a long AI call, no progress reported: two whole beats while both jobs run
            threads = sum(t.name == "qm-heartbeats" for t in threading.enumerate()) - threads_before
        # A beat that began before the jobs ended may still be writing: let it finish before reading.
        sleeps.beats(2)
        stopped_at = {job.pk: job.heartbeat_at for job in BackgroundJob.objects.filter(pk__in=[first.pk, second.pk])}
        sleeps.beats(3)  # two more whole beats with no job running here

        assert threads == 1, "one thread for all the process's jobs"
        assert all(at > long_ago for at in stopped_at.values()), "both jobs beat while they ran"
        for job in BackgroundJob.objects.filter(pk__in=[first.pk, second.pk]):
            assert job.heartbeat_at == stopped_at[job.pk], "no beat once the job has ended here"
        other.refresh_from_db()
        assert other.heartbeat_at == long_ago, "a job running elsewhere is not stamped from here"
    finally:
        BackgroundJob.objects.filter(pk__in=[first.pk, second.pk, other.pk]).delete()


# --- Backoff --------------------------------------------------------------------------------------


@pytest.fixture
def backoff_settings(settings):
    settings.JOB_RETRY_BACKOFF_BASE = 5.0
    settings.JOB_RETRY_BACKOFF_MAX = 300.0
    return settings


@pytest.mark.parametrize("retry_count, low, high", [(0, 2.5, 5), (1, 5, 10), (2, 10, 20), (3, 20, 40), (5, 80, 160)])
def test_backoff_grows_exponentially_within_its_jitter_bounds(backoff_settings, retry_count, low, high):
    delays = [backoff_seconds(retry_count) for _ in range(200)]

    assert all(low <= delay <= high for delay in delays)
    assert len(set(delays)) > 20  # jittered, not one fixed delay


def test_backoff_is_capped_at_the_maximum(backoff_settings):
    delays = [backoff_seconds(12) for _ in range(200)]

    assert all(150 <= delay <= 300 for delay in delays)


def test_backoff_honours_a_larger_retry_after(backoff_settings):
    assert backoff_seconds(0, retry_after=120) == 120
    assert backoff_seconds(12, retry_after=600) == 600


def test_backoff_ignores_a_smaller_retry_after(backoff_settings):
    assert all(20 <= backoff_seconds(3, retry_after=1) <= 40 for _ in range(50))
