"""Which jobs and grading sessions a user may see in an organization (the rule: ``organizations.permissions``)."""

from __future__ import annotations

from functools import cache

from jobs.models import BackgroundJob, GradingSession
from organizations import permissions
from organizations.models import Membership


def visible_jobs(user, organization, membership):
    """Jobs a user may see in an organization: their own; all of it for its owners, admins and super admins."""
    jobs = BackgroundJob.objects.filter(organization=organization)
    if permissions.sees_all_work(user, membership):
        return jobs
    return jobs.filter(user=user)


@cache
def _job_with_membership() -> str:
    """The job (by id, in the organization) and the asking user's role in that organization, if any."""
    return (
        f'SELECT j.*, m."role" AS asker_role FROM "{BackgroundJob._meta.db_table}" j '
        f'LEFT JOIN "{Membership._meta.db_table}" m ON m."user_id" = %s AND m."organization_id" = j."organization_id" '
        'WHERE j."id" = %s AND j."organization_id" = %s'
    )


def visible_job(user, organization, job_id) -> BackgroundJob | None:
    """One job if the user may see it (``permissions.sees_work_of`` decides). This is the job-status poll, the busiest
    request we serve, so the job and the user's membership come in one indexed statement, written once here: a
    queryset with the same rule took four times the Python work per request (Exists subqueries to compile)."""
    found = list(BackgroundJob.objects.raw(_job_with_membership(), [user.pk, job_id, organization.pk]))
    if not found:
        return None
    job = found[0]
    membership = Membership(user=user, organization=organization, role=job.asker_role) if job.asker_role else None
    return job if permissions.sees_work_of(user, membership, job.user_id) else None


def visible_sessions(user, organization, membership):
    """Grading sessions a user may see, by the same rule as jobs."""
    sessions = GradingSession.objects.filter(organization=organization)
    if permissions.sees_all_work(user, membership):
        return sessions
    return sessions.filter(user=user)
