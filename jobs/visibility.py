"""Which jobs and grading sessions a user may see in an organization (the rule: ``organizations.permissions``)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from jobs.models import BackgroundJob, GradingSession
from organizations import permissions
from organizations.models import Membership


def visible_jobs(user, organization, membership):
    """Jobs a user may see in an organization: their own; all of it for its owners, admins and super admins."""
    jobs = BackgroundJob.objects.filter(organization=organization)
    if permissions.sees_all_work(user, membership):
        return jobs
    return jobs.filter(user=user)


def visible_job(user, organization, job_id) -> BackgroundJob | None:
    """One job if the user may see it, in one query: membership and role are checked inside it."""
    jobs = BackgroundJob.objects.filter(pk=job_id, organization=organization)
    if not user.is_superuser:
        membership = Membership.objects.filter(user=user, organization=OuterRef("organization_id"))
        manager = membership.filter(role__in=permissions.MANAGING_ROLES)
        jobs = jobs.filter(Exists(membership)).filter(Q(user=user) | Exists(manager))
    return jobs.first()


def visible_sessions(user, organization, membership):
    """Grading sessions a user may see, by the same rule as jobs."""
    sessions = GradingSession.objects.filter(organization=organization)
    if permissions.sees_all_work(user, membership):
        return sessions
    return sessions.filter(user=user)
