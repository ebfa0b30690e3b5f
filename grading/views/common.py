"""Helpers shared by the assessor pages."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme

from grading.models import QuestionResult, Submission
from grading.standards import discover


def safe_next(request) -> str | None:
    """The form's ``next`` address when it stays on this host (no other host, scheme or ``/\\evil`` trick), else
    None."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def standards():
    """The reference library (discovered from the folder; the extracted text is cached by hash)."""
    return discover()


def standard_titles() -> dict[int, str]:
    return {s.id: s.title for s in standards()}


def submissions():
    return Submission.objects.select_related("student").prefetch_related(
        Prefetch("questions", queryset=QuestionResult.objects.order_by("number"))
    )


def get_submission(submission_id) -> Submission:
    """A submission of the addressed organization (its schema), or 404."""
    submission = submissions().filter(pk=submission_id).first()
    if submission is None:
        raise Http404("No submission with that id in this organization.")
    return submission


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def json_error(message: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"success": False, "error": message, "code": code, "details": {}}, status=status)


def passed(submission, organization) -> bool | None:
    if submission.percentage is None or organization is None:
        return None
    return submission.percentage >= organization.pass_mark
