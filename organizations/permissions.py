"""Who may do what in an organization: the one place that decides it (issue 20, item 1).

Views, the API, services, templates (through ``quizmarker.context_processors.site``) and the job-status poll
(``jobs.visibility.visible_job``) all ask here instead of spelling the rule out again.

- Super admins may do everything in every organization.
- Owners and admins (``MANAGING_ROLES``) manage it: members, settings, webhooks, mark schemes and subjects, and they
  see every job and session in it.
- Members (assessors) mark quizzes and see their own jobs and sessions.
- Only owners change who is an owner.
- Owners and admins may ask for a job to be served first within the organization's share (``priority: high``).
"""

from __future__ import annotations

from organizations.models import Membership, Role

MANAGING_ROLES = (Role.OWNER, Role.ADMIN)


def manages(user, membership: Membership | None) -> bool:
    """Owners and admins of the organization ``membership`` is in, and super admins."""
    return bool(user.is_superuser or (membership is not None and membership.role in MANAGING_ROLES))


def owns(user, membership: Membership | None) -> bool:
    """Owners of the organization, and super admins."""
    return bool(user.is_superuser or (membership is not None and membership.role == Role.OWNER))


def sees_all_work(user, membership: Membership | None) -> bool:
    """Whether the user sees everyone's jobs and sessions in the organization, not only their own."""
    return manages(user, membership)


def may_ask_high_priority(user, membership: Membership | None) -> bool:
    """Whether the user may start work at high priority (it goes before the organization's other work)."""
    return manages(user, membership)


def sees_work_of(user, membership: Membership | None, owner_id) -> bool:
    """Whether the user sees one job or session that the user ``owner_id`` started: super admins and the
    organization's owners and admins see everyone's; other members only their own."""
    if user.is_superuser:
        return True
    return membership is not None and (owner_id == user.pk or sees_all_work(user, membership))


def may_change_role(user, membership: Membership | None, target: Membership) -> bool:
    """Whether ``user`` may change ``target``'s role: never their own; an owner's only if they are an owner."""
    if target.user_id == user.pk:
        return False
    return owns(user, membership) or (manages(user, membership) and target.role != Role.OWNER)


def for_request(request) -> dict[str, bool]:
    """The answers pages need on every request (the context processor's share)."""
    user, membership = getattr(request, "user", None), getattr(request, "membership", None)
    if user is None or not user.is_authenticated:  # a page rendered before authentication ran (an unknown host)
        return {"can_manage": False, "is_owner": False, "may_ask_high_priority": False}
    return {
        "can_manage": manages(user, membership),
        "is_owner": owns(user, membership),
        "may_ask_high_priority": may_ask_high_priority(user, membership),
    }
