"""A job's log: the lines its page, the API's session log and the admin show (``JobEvent`` rows)."""

from __future__ import annotations

from jobs.models import BackgroundJob, JobEvent


def log_event(job: BackgroundJob | str, message: str, level: str = JobEvent.Level.INFO) -> None:
    job_id = job.pk if isinstance(job, BackgroundJob) else job
    session_id = (
        job.session_id
        if isinstance(job, BackgroundJob)
        else (BackgroundJob.objects.filter(pk=job_id).values_list("session_id", flat=True).first())
    )
    JobEvent.objects.create(job_id=job_id, session_id=session_id, level=level, message=message[:500])
