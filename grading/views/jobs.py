"""Jobs (mine; the organization's for owners and admins) with cancel and retry, and grading sessions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import Throttled

from grading.models import Submission
from grading.views.common import json_error, safe_next, standard_titles, wants_json
from jobs.cancel_retry import cancel_job, retry_job
from jobs.errors import PermanentJobError
from jobs.models import ACTIVE_STATUSES, JobStatus, JobType
from jobs.visibility import visible_jobs, visible_sessions
from organizations import permissions
from quizmarker.api import status_for
from quizmarker.errors import DomainError
from quizmarker.throttles import GradeThrottle, UploadThrottle, throttle, throttled_sentence

RETRY_THROTTLES = {JobType.EXTRACTION: UploadThrottle, JobType.GRADING: GradeThrottle}

SESSION_STATUS_LABELS = {
    "empty": "No jobs yet",
    "in_progress": "In progress",
    "needs_attention": "Needs attention",
    "cancelled": "Cancelled",
    "completed": "Completed",
}


def _jobs(request):
    return visible_jobs(request.user, request.organization, request.membership)


def find_job(request, job_id):
    """The job the pages show at /jobs/<id>/ (and stream at /jobs/<id>/events), or 404."""
    job = _jobs(request).filter(pk=job_id).first()
    if job is None:
        raise Http404("No job with that id in this organization.")
    return job


def find_session(request, session_id):
    """The session the pages show at /sessions/<id>/ (and stream at /sessions/<id>/events), or 404."""
    session = visible_sessions(request.user, request.organization, request.membership).filter(pk=session_id).first()
    if session is None:
        raise Http404("No grading session with that id in this organization.")
    return session


def _can_manage(request) -> bool:
    return permissions.manages(request.user, request.membership)


@login_required
def job_list(request):
    jobs = _jobs(request).select_related("user").order_by("-created_at")
    status = request.GET.get("status", "")
    job_type = request.GET.get("type", "")
    if status in JobStatus.values:
        jobs = jobs.filter(status=status)
    if job_type in JobType.values:
        jobs = jobs.filter(job_type=job_type)
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "grading/job_list.html",
        {
            "page": page,
            "status": status,
            "job_type": job_type,
            "statuses": JobStatus.choices,
            "types": JobType.choices,
            "whole_organization": _can_manage(request),
            "active_statuses": ACTIVE_STATUSES,
        },
    )


@login_required
def job_detail(request, job_id):
    job = find_job(request, job_id)
    ids = (job.result or {}).get("submission_ids") or job.input.get("submission_ids") or []
    scripts = list(Submission.objects.select_related("student").filter(pk__in=ids).order_by("created_at"))
    if not scripts and job.job_type == JobType.EXTRACTION:
        scripts = list(Submission.objects.select_related("student").filter(upload_job_id=job.pk))
    if not scripts and job.job_type == JobType.GRADING:  # its input went at expiry; its scripts still point at it
        scripts = list(Submission.objects.select_related("student").filter(grading_job_id=job.pk))
    return render(
        request,
        "grading/job_detail.html",
        {
            "job": job,
            "events": job.events.order_by("at", "id"),
            "scripts": scripts,
            "titles": standard_titles(),
            "active": job.status in ACTIVE_STATUSES,
        },
    )


@require_POST
@login_required
def job_cancel(request, job_id):
    job = find_job(request, job_id)
    cancelled = cancel_job(job, by=request.user)
    if wants_json(request):
        if not cancelled:
            return json_error(f"The job has already finished ({job.status}).", "JOB_ALREADY_FINISHED", 409)
        return JsonResponse({"success": True, "data": {"id": str(job.pk), "status": job.status}})
    if cancelled:
        messages.success(request, f"The {job.get_job_type_display().lower()} job was cancelled.")
    else:
        messages.error(request, f"The job had already finished ({job.get_status_display().lower()}).")
    return redirect(safe_next(request) or "grading:job-list")


@login_required
def job_card(request, job_id):
    """One job's card (templates/grading/_job_card.html) on its own: the pages fetch it to redraw a card in place."""
    return _card(request, find_job(request, job_id), reload=request.GET.get("reload") == "1")


def _card(request, job, *, reload: bool, problem: str = "", status: int = 200):
    return render(request, "grading/_job_card.html", {"job": job, "reload": reload, "problem": problem}, status=status)


def _from_htmx(request) -> bool:
    """A request sent by htmx from a page (the card's retry form): it answers with the card to draw."""
    return request.headers.get("HX-Request") == "true"


@require_POST
@login_required
def job_retry(request, job_id):
    job = find_job(request, job_id)
    reload = request.POST.get("reload") == "1"
    try:
        if job.job_type in RETRY_THROTTLES:  # a retry starts AI work again: the API's rate for that work
            throttle(request, RETRY_THROTTLES[job.job_type])
        new_job = retry_job(job, by=request.user)
    except Throttled as exc:
        message, code, status = throttled_sentence(exc, "started this kind of job"), "THROTTLED", 429
    except PermanentJobError as exc:
        message, code, status = exc.message, exc.code, 409
    except DomainError as exc:
        message, code, status = exc.message, exc.code, status_for(exc)
    else:
        if wants_json(request):
            return JsonResponse(
                {
                    "success": True,
                    "data": {"job_id": str(new_job.pk), "status": new_job.status, "job_type": new_job.job_type},
                },
                status=202,
            )
        if _from_htmx(request):
            return _card(request, new_job, reload=reload)
        messages.success(request, f"The {job.get_job_type_display().lower()} job was started again.")
        return redirect("grading:job-detail", job_id=new_job.pk)
    if wants_json(request):
        return json_error(message, code, status)
    if _from_htmx(request):
        return _card(request, job, reload=reload, problem=message, status=status)
    messages.error(request, message)
    return redirect("grading:job-list")


@login_required
def session_list(request):
    sessions = (
        visible_sessions(request.user, request.organization, request.membership)
        .select_related("user")
        .prefetch_related("jobs")
        .order_by("-created_at")
    )
    page = Paginator(sessions, 25).get_page(request.GET.get("page"))
    for session in page.object_list:
        session.derived = session.status
        session.derived_label = SESSION_STATUS_LABELS.get(session.derived, session.derived)
        session.script_count = Submission.objects.filter(session_id=session.pk).count()
    return render(request, "grading/session_list.html", {"page": page})


@login_required
def session_detail(request, session_id):
    session = find_session(request, session_id)
    status = session.status
    return render(
        request,
        "grading/session_detail.html",
        {
            "session": session,
            "status": status,
            "status_label": SESSION_STATUS_LABELS.get(status, status),
            "jobs": session.jobs.order_by("created_at"),
            "events": session.events.select_related("job").order_by("at", "id"),
            "scripts": Submission.objects.select_related("student").filter(session_id=session.pk),
            "titles": standard_titles(),
            "active_statuses": ACTIVE_STATUSES,
        },
    )
