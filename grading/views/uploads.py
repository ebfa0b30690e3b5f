"""Uploading answer sheets. Works as a plain form POST; static/js/upload.js adds previews, checks before sending,
and per-job progress through the API."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from rest_framework.exceptions import Throttled

from grading.forms import UploadForm
from grading.services import accept_upload
from grading.upload_limits import refuse_oversized_upload
from grading.uploads import check_files
from grading.views.common import standards
from jobs.models import JobType
from jobs.visibility import visible_jobs
from organizations import permissions
from quizmarker.broker import broker_up
from quizmarker.errors import DomainError, TooLarge, Unavailable
from quizmarker.throttles import UploadThrottle, throttle, throttled_sentence


@login_required
def upload(request):
    library = standards()
    high_allowed = permissions.may_ask_high_priority(request.user, request.membership)
    if request.method == "POST":
        try:
            refuse_oversized_upload(request)
        except TooLarge as exc:
            messages.error(request, exc.message)
            return _page(request, UploadForm(standards=library, may_ask_high_priority=high_allowed), status=413)
    form = UploadForm(
        request.POST or None, request.FILES or None, standards=library, may_ask_high_priority=high_allowed
    )
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            throttle(request, UploadThrottle)  # the API's rate and counter: one door is no way around the other
            files = check_files(request.FILES.getlist("files"))
            job = accept_upload(
                organization=request.organization,
                user=request.user,
                files=files,
                standard_id=form.standard_id(),
                mark_scheme_id=form.mark_scheme_id(),
                session_label=form.cleaned_data.get("session_label", ""),
                grade=form.cleaned_data["grade"],
                priority=form.chosen_priority(),
            )
        except Throttled as exc:
            messages.error(request, throttled_sentence(exc, "uploaded"))
            status = 429
        except DomainError as exc:
            messages.error(request, exc.message)
            if isinstance(exc, Unavailable):  # processing is paused: the same answer as the API's
                status = 503
        else:
            count = len(files)
            then = ", then graded" if form.cleaned_data["grade"] else ""
            messages.success(
                request,
                f"{count} file{'s' if count != 1 else ''} uploaded. The pages are being read now{then}; "
                "this page updates by itself.",
            )
            return redirect("grading:job-detail", job_id=job.pk)
    return _page(request, form, status=status)


def _page(request, form, status: int):
    recent = (
        visible_jobs(request.user, request.organization, request.membership)
        .filter(job_type=JobType.EXTRACTION)
        .order_by("-created_at")[:5]
    )
    return render(
        request,
        "grading/upload.html",
        {
            "form": form,
            "recent_uploads": recent,
            "max_files": settings.UPLOAD_MAX_FILES,
            "max_bytes": settings.UPLOAD_MAX_FILE_BYTES,
            "max_mb": settings.UPLOAD_MAX_FILE_BYTES // (1024 * 1024),
            "processing_paused": not broker_up(),
        },
        status=status,
    )
