"""The review page's script corrections, before grading: split a script, move a page to another script, merge two
(grading.script_edits). Any member of the organization may, as for the review page's other edits."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from grading.models import Submission
from grading.script_edits import EDITABLE, move_pages
from grading.views.common import get_submission
from quizmarker.errors import DomainError

NEW_SCRIPT = "new"


def other_scripts(submission: Submission) -> list[Submission]:
    """The scripts of the same upload whose pages can still move (not graded), for the page's choices."""
    return list(
        Submission.objects.select_related("student")
        .filter(upload_job_id=submission.upload_job_id, status__in=EDITABLE, graded_at__isnull=True)
        .exclude(pk=submission.pk)
        .order_by("created_at")
    )


class ScriptEditForm(forms.Form):
    action = forms.ChoiceField(choices=[("split", "split"), ("move", "move"), ("merge", "merge")])
    page = forms.IntegerField(min_value=1, required=False)
    target = forms.CharField(required=False, max_length=40)

    def __init__(self, *args, submission: Submission, **kwargs):
        super().__init__(*args, **kwargs)
        self.submission = submission

    def clean(self):
        data = super().clean()
        action, page, target = data.get("action"), data.get("page"), data.get("target") or ""
        if action in {"split", "move"} and page is None:
            raise forms.ValidationError("Choose a page.")
        if action in {"move", "merge"} and not target or (action == "merge" and target == NEW_SCRIPT):
            raise forms.ValidationError("Choose the script the pages go to.")
        if target and target != NEW_SCRIPT:
            chosen = Submission.objects.filter(pk=target).first() if _is_uuid(target) else None
            if chosen is None:
                raise forms.ValidationError("That script no longer exists; reload the page.")
            data["target_script"] = chosen
        return data


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@require_POST
@login_required
def edit_scripts(request, submission_id):
    submission = get_submission(submission_id)
    form = ScriptEditForm(request.POST, submission=submission)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "Choose what to do with the pages.")
        return redirect("grading:submission-review", submission_id=submission.pk)
    data = form.cleaned_data
    action, target = data["action"], data.get("target_script")
    try:
        if action == "split":
            outcome = move_pages(submission, list(range(data["page"], submission.page_count + 1)), None)
            note = f"Page {data['page']} onwards is now a script of its own."
        elif action == "move":
            outcome = move_pages(submission, [data["page"]], target)
            note = f"Page {data['page']} moved to {'a new script' if target is None else 'the script you chose'}."
        else:
            outcome = move_pages(target, list(range(1, target.page_count + 1)), submission)
            note = "The other script's pages are now at the end of this one."
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("grading:submission-review", submission_id=submission.pk)
    messages.success(request, note)
    return redirect("grading:submission-review", submission_id=outcome["source"] or outcome["target"])
