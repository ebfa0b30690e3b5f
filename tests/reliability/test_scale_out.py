"""Scale-out: two AI workers under different names, as on two hosts (`-n <run>-ai1@hostA`, `-n <run>-ai2@hostB`),
share one PostgreSQL and one Redis (broker and limiter). The provider's concurrency cap (AI_MAX_CONCURRENT_CALLS,
held in Redis by grading/limiter.py) holds across both: with 2 + 2 of one organization's jobs running (3 threads a
worker, one kept for other organizations) and a cap of 3, the provider never sees a 4th call at once. ai1 is
SIGKILLed mid-batch (a lost host: nobody hands its messages back), the reaper re-queues its jobs once their
heartbeats stop, and ai2 finishes every job exactly once: one submission per script, graded once, one accounted
provider call per job, and one more attempt only for each job ai1 was running.

Fast (make test): 12 scripts, ai1 killed after 2 are graded. Long (make reliability): 40 scripts, killed after 15.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from grading.api import GradeThrottle, UploadThrottle
from grading.models import QuestionResult, Submission
from jobs import housekeeping
from jobs.fairness import reserve
from jobs.housekeeping import reap_stuck_jobs, sweep_queued_jobs
from jobs.models import BackgroundJob, JobStatus
from organizations.models import ProviderCall
from tests.helpers import sheet, upload, wait_until
from tests.reliability.support import FULL, full_only, record_figures, worker_on_private_redis
from tests.reliability.test_broker_outage_batch import graded

pytestmark = [pytest.mark.worker]

CAP = 3  # AI_MAX_CONCURRENT_CALLS, for both workers together
THREADS = 3  # job threads per worker; one organization may hold all but the reserve (jobs.fairness)
ONE_ORGANIZATION = THREADS - reserve(THREADS)  # 2 a worker: 4 in all, one more than the cap


def node(worker) -> str:
    """The worker's node name, as jobs record it (``<name>@<host>``)."""
    return f"{worker.name}@{worker.host}"


@pytest.fixture
def two_hosts(celery_worker, tmp_path, live_db, monkeypatch, openai_server):
    """A Redis of the test's own (so the session worker takes none of these jobs) and two threads AI workers on it,
    consuming the `default` queue as the Procfile's ai-worker does, under the names of two hosts."""
    monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"upload": "100000/hour"})
    monkeypatch.setattr(GradeThrottle, "THROTTLE_RATES", {"grade": "100000/hour"})
    # Slow enough that the batch is still going when the test holds the provider after the first scripts: at 0.3 s
    # it finished in a few seconds, and by the hold fewer than 4 scripts were left to keep the threads busy.
    openai_server.configure(latency=1.0)
    # A call held at the provider must not time out on its client while the test waits (a loaded host can take
    # seconds): its retry would be a 4th request at the provider while the first is still held there.
    env = {"AI_MAX_CONCURRENT_CALLS": str(CAP), "JOB_HEARTBEAT_SECONDS": "0.5", "OPENAI_TIMEOUT": "60"}
    options = {"concurrency": THREADS, "pool": "threads", "queues": "default"}
    with worker_on_private_redis(celery_worker, tmp_path, "ai1", env=env, host="hostA", **options) as (_, ai1):
        ai2 = type(ai1)(ai1.env, name=f"{celery_worker.name}-ai2", host="hostB", **options)  # the same Redis
        try:
            ai2.start()
            yield ai1, ai2
        finally:
            ai2.kill()


def scale_out(workers, client, openai_server, monkeypatch, scripts: int, kill_after: int) -> dict:
    ai1, ai2 = workers
    names = node(ai1), node(ai2)
    upload_ids = [
        upload(client, sheet("s05_std05_dkg_p1.png"), standard_id=5, grade="true")["job_id"] for _ in range(scripts)
    ]
    wait_until(
        lambda: sum(graded(job_id) for job_id in upload_ids) >= kill_after,
        timeout=120,
        interval=0.2,
        what=f"{kill_after} scripts graded before the kill",
    )

    # Mid-batch: the provider holds its answers, so the calls pile up to what the limiter lets through.
    openai_server.hold()
    running = BackgroundJob.objects.filter(status=JobStatus.PROCESSING, worker__in=names)
    try:
        busy = 2 * ONE_ORGANIZATION
        wait_until(lambda: running.count() == busy and openai_server.stats()["in_flight"] == CAP, timeout=60)
    except AssertionError:
        jobs = BackgroundJob.objects.filter(pk__in=upload_ids).values_list("status", "worker", "current_step")
        raise AssertionError(
            f"not every job thread busy with {CAP} calls at the provider: {list(running.values_list('worker'))} "
            f"running, {openai_server.stats()['in_flight']} in flight; uploads {list(jobs)}"
        ) from None
    time.sleep(1.0)  # a 4th call that the limiter let through would be at the provider by now
    held = openai_server.stats()["in_flight"]  # (busy: the jobs running when the calls were counted)
    on_ai1 = set(running.filter(worker=names[0]).values_list("pk", flat=True))

    ai1.kill()  # SIGKILL to the whole worker: a lost host
    openai_server.release()

    # The reaper (beat runs it every 5 minutes) re-queues a job whose heartbeat stopped; here it runs every 0.5 s,
    # with 3 s of silence meaning "gone" (ai2 stamps its jobs every 0.5 s). A message ai1 had taken but not started
    # (one it was about to hand back, its organization holding all its threads but the reserve) is gone with it too,
    # its job still queued: the sweeper publishes such a job again after REPUBLISH_AFTER (30 minutes; here 10 s).
    # It runs here only while ai2 runs nothing, so that it never publishes again a job ai2 is just starting (that
    # race ran one job twice, its first run discarded but its provider call accounted).
    def all_done() -> bool:
        with override_settings(JOB_SILENT_AFTER_SECONDS=3):
            reap_stuck_jobs()
        if not running.exists():
            sweep_queued_jobs()
        return all(graded(job_id) for job_id in upload_ids)

    monkeypatch.setattr(housekeeping, "REPUBLISH_AFTER", timedelta(seconds=10))

    wait_until(all_done, timeout=300, interval=0.5, what="ai2 to finish every script")

    uploads = list(BackgroundJob.objects.filter(pk__in=upload_ids))
    grading_ids = [job.result["grading_job_id"] for job in uploads if job.status == JobStatus.COMPLETED]
    jobs = uploads + list(BackgroundJob.objects.filter(pk__in=grading_ids))
    with schema_context("alpha"):
        per_script = Counter(
            str(upload_job_id)
            for upload_job_id in Submission.objects.filter(upload_job_id__in=upload_ids).values_list(
                "upload_job_id", flat=True
            )
        )
        graded_per_script = Counter(
            str(upload_job_id)
            for upload_job_id in Submission.objects.filter(
                upload_job_id__in=upload_ids, graded_at__isnull=False
            ).values_list("upload_job_id", flat=True)
        )
        numbers = list(
            QuestionResult.objects.filter(submission__upload_job_id__in=upload_ids).values_list(
                "submission_id", "number"
            )
        )
    completed_events = Counter(
        str(job.pk) for job in jobs for _ in range(job.events.filter(message="Completed.").count())
    )
    stats = openai_server.stats()
    return {
        "scripts": scripts,
        "workers": f"{names[0]}, {names[1]} (threads x {THREADS} each)",
        "provider concurrency cap (AI_MAX_CONCURRENT_CALLS)": CAP,
        "calls held at the provider with 4 jobs running": f"{held} (jobs running: {busy})",
        "max concurrent calls the provider saw": stats["max_concurrent"],
        "jobs ai1 was running when SIGKILLed": len(on_ai1),
        "jobs (reading + grading)": len(jobs),
        "jobs completed": sum(job.status == JobStatus.COMPLETED for job in jobs),
        "jobs completed more than once": sum(n > 1 for n in completed_events.values()),
        "completed by ai1 / ai2": " / ".join(str(sum(job.worker == name for job in jobs)) for name in names),
        "attempts (all jobs)": sum(job.retry_count + 1 for job in jobs),
        "published again by the sweeper (message lost with ai1)": sum(
            job.events.filter(message__startswith="Handed to a worker again").exists() for job in jobs
        ),
        "re-queued by the reaper": sum(
            job.events.filter(message__startswith=f"Re-queued because its worker ({names[0]})").exists() for job in jobs
        ),
        "scripts with one submission": sum(per_script[str(job_id)] == 1 for job_id in upload_ids),
        "scripts graded once": sum(graded_per_script[str(job_id)] == 1 for job_id in upload_ids),
        "duplicate question results": len(numbers) - len(set(numbers)),
        "provider calls accounted (succeeded)": ProviderCall.objects.filter(
            job_id__in=[job.pk for job in jobs], succeeded=True
        ).count(),
        "_on_ai1": on_ai1,
        "_twice": [
            (str(job.pk), job.job_type, list(job.events.values_list("message", flat=True)))
            for job in jobs
            if ProviderCall.objects.filter(job_id=job.pk, succeeded=True).count() > 1
        ],
        "_busy": busy,
        "_held": held,
    }


def check(figures: dict) -> None:
    scripts, jobs, on_ai1 = figures["scripts"], figures["jobs (reading + grading)"], figures.pop("_on_ai1")
    assert figures.pop("_held") == CAP and figures.pop("_busy") == 2 * ONE_ORGANIZATION, figures
    assert figures["max concurrent calls the provider saw"] == CAP, figures
    assert on_ai1, "ai1 was running a job when it was killed"
    assert jobs == 2 * scripts and figures["jobs completed"] == jobs, figures
    assert figures["jobs completed more than once"] == 0 and figures["duplicate question results"] == 0, figures
    assert figures["scripts with one submission"] == figures["scripts graded once"] == scripts, figures
    # A job ai1 had only just taken when it died may not have started its attempt (its message is lost with ai1, and
    # the sweeper publishes it again instead of the reaper): each one the reaper re-queued is one more attempt.
    reaped = figures["re-queued by the reaper"]
    assert 1 <= reaped <= len(on_ai1), figures
    assert figures["attempts (all jobs)"] == jobs + reaped, "one more attempt for each job ai1 lost mid-run, no other"
    twice = figures.pop("_twice")
    assert figures["provider calls accounted (succeeded)"] == jobs, f"one accounted call per job: {twice}"


def test_two_ai_workers_share_the_provider_cap_and_one_finishes_the_batch_when_the_other_is_killed(
    two_hosts, api, personas, openai_server, monkeypatch
):
    if FULL:
        pytest.skip("the long variant runs instead")
    figures = scale_out(
        two_hosts, api(personas.alpha, personas.dana), openai_server, monkeypatch, scripts=12, kill_after=2
    )
    record_figures("scale_out", {k: v for k, v in figures.items() if not k.startswith("_")})
    check(figures)


@full_only
def test_forty_scripts_on_two_ai_workers_one_killed_after_fifteen_every_job_once(
    two_hosts, api, personas, openai_server, monkeypatch
):
    figures = scale_out(
        two_hosts, api(personas.alpha, personas.dana), openai_server, monkeypatch, scripts=40, kill_after=15
    )
    record_figures("scale_out", {k: v for k, v in figures.items() if not k.startswith("_")})
    check(figures)
