"""Review before grading: the page images beside their transcription, editable; who and which standard; Grade."""

from __future__ import annotations

import mimetypes
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET
from rest_framework.exceptions import Throttled

from grading.corrections import MAX_FROM_SCHEME
from grading.forms import QuestionFormSet, ReviewForm
from grading.script_edits import EDITABLE
from grading.services import start_grading, submissions_for_grading
from grading.storage import PAGES_ROOT, UPLOAD_ROOT
from grading.views.common import get_submission, standards
from grading.views.scripts import other_scripts
from jobs.models import ACTIVE_STATUSES, BackgroundJob, Priority
from organizations import permissions
from quizmarker.errors import DomainError
from quizmarker.throttles import GradeThrottle, throttle, throttled_sentence

_MAX_FIELD = re.compile(r"^q-\d+-max_score$")


def _grading_job(submission, organization):
    if not submission.grading_job_id:
        return None
    return BackgroundJob.objects.filter(pk=submission.grading_job_id, organization=organization).first()


def _management_form_intact(formset, question_count: int) -> bool:
    """The form's own counts (hidden fields a client can change) say exactly this script's questions: otherwise the
    formset would index past them (a server error) or try to add questions."""
    management = formset.management_form
    if not management.is_valid():
        return False
    return formset.total_form_count() == formset.initial_form_count() == question_count


@login_required
def review(request, submission_id):
    submission = get_submission(submission_id)
    organization = request.organization
    job = _grading_job(submission, organization)
    if job is not None and job.status in ACTIVE_STATUSES:
        messages.info(request, "This script is being graded now; you can review it again once grading has finished.")
        return redirect("grading:submission-detail", submission_id=submission.pk)
    library = standards()
    data = request.POST if request.method == "POST" else None
    form = ReviewForm(data, standards=library, submission=submission)
    questions = submission.questions.order_by("number")
    formset = QuestionFormSet(data, queryset=questions, prefix="q")
    if request.method == "POST" and not _management_form_intact(formset, questions.count()):
        reason = "The list of questions in the form does not match this script's; nothing was saved."
        return render(request, "400.html", {"reason": reason}, status=400)
    if request.method == "POST":
        if any(_MAX_FIELD.match(name) for name in request.POST):
            messages.warning(request, f"The maximum marks you sent were ignored. {MAX_FROM_SCHEME}")
        if form.is_valid() and formset.is_valid():
            with transaction.atomic():
                formset.save()
                submission.student = form.chosen_student()
                submission.standard = form.standard_id() or submission.standard
                if submission.total_score is not None or submission.max_score is not None:
                    submission.recompute_totals()
                submission.save()
            if "grade" not in request.POST:
                messages.success(request, "Your corrections are saved.")
                return redirect("grading:submission-review", submission_id=submission.pk)
            high = request.POST.get("grade") == Priority.HIGH  # "Save and grade first", offered to owners and admins
            if high and not permissions.may_ask_high_priority(request.user, request.membership):
                messages.error(request, "Your corrections are saved, but only owners and admins can grade first.")
                return redirect("grading:submission-review", submission_id=submission.pk)
            try:
                throttle(request, GradeThrottle)  # the API's grading rate and counter
                scripts = submissions_for_grading(organization, submission_id=submission.pk)
                start_grading(
                    organization=organization,
                    user=request.user,
                    submissions=scripts,
                    standard_id=form.standard_id(),
                    priority=Priority.HIGH if high else Priority.NORMAL,
                )
            except (DomainError, Throttled) as exc:
                reason = throttled_sentence(exc, "started grading") if isinstance(exc, Throttled) else exc.message
                messages.error(request, f"Your corrections are saved, but grading could not start: {reason}")
                return redirect("grading:submission-review", submission_id=submission.pk)
            messages.success(request, "Your corrections are saved and grading has started.")
            return redirect("grading:submission-detail", submission_id=submission.pk)
        messages.error(request, "Some fields need your attention; see the messages next to them.")

    pages = list(submission.pages.order_by("number"))
    by_page: dict[int | None, list] = {}
    for question_form in formset.forms:
        page_number = question_form.instance.page_number
        key = page_number if any(p.number == page_number for p in pages) else None
        by_page.setdefault(key, []).append(question_form)
    sections = [{"page": page, "forms": by_page.get(page.number, [])} for page in pages]
    if None in by_page:
        sections.append({"page": None, "forms": by_page[None]})
    return render(
        request,
        "grading/review.html",
        {
            "submission": submission,
            "form": form,
            "formset": formset,
            "sections": sections,
            "grading_job": job,
            "already_graded": submission.graded_at is not None,
            "titles": {s.id: s.title for s in library},
            "other_scripts": other_scripts(submission) if submission.status in EDITABLE else [],
            "can_move_pages": submission.status in EDITABLE and submission.graded_at is None,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_GET
@login_required
def page_image(request, submission_id, number: int):
    """A page image, for the organization's members only: read from the default storage, never a public URL."""
    submission = get_submission(submission_id)
    page = get_object_or_404(submission.pages, number=number)
    schema = request.organization.schema_name
    if not page.file.startswith((f"{UPLOAD_ROOT}/{schema}/", f"{PAGES_ROOT}/{schema}/")) or ".." in page.file:
        raise Http404("No such page.")
    content_type = mimetypes.guess_type(page.file)[0] or ""
    if not content_type.startswith("image/"):
        raise Http404("This page has no image.")
    try:
        handle = default_storage.open(page.file, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The page image is no longer stored.") from exc
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = f'inline; filename="page-{number}{mimetypes.guess_extension(content_type) or ""}"'
    return response
