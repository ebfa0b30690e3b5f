"""The organization's own subjects (pages): every member sees them; owners and admins add one with its reference PDF.
The rules are :mod:`markschemes.subjects`'; this view shows their sentences."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import redirect, render

from markschemes.file_forms import post_file_form
from markschemes.models import Subject
from markschemes.subjects import SubjectError, add_subject
from markschemes.views import _require_manager, can_manage
from quizmarker.api import status_for


class SubjectForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120, widget=forms.TextInput(attrs={"size": 40}))
    file = forms.FileField(
        label="Reference material (PDF)",
        help_text="What the answers are marked against, with its text (not a scan), at most 16 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )


def _page(request, form, status=200):
    subjects = Subject.objects.defer("reference_text").annotate(scheme_count=Count("schemes"))
    return render(
        request,
        "markschemes/subjects.html",
        {"form": form, "subjects": subjects, "can_manage": can_manage(request)},
        status=status,
    )


@login_required
def subject_list(request):
    if request.method != "POST":
        return _page(request, SubjectForm())
    _require_manager(request)
    return post_file_form(request, SubjectForm, _page, lambda form: _add(request, form))


def _add(request, form):
    try:
        subject = add_subject(form.cleaned_data["name"], form.cleaned_data["file"], by=request.user.email)
    except SubjectError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _page(request, form, status=status_for(error.kind))
    messages.success(
        request,
        f"“{subject.name}” is added with its reference material ({subject.pages} page"
        f"{'s' if subject.pages != 1 else ''}). Now write or import its mark scheme.",
    )
    return redirect("markschemes:subjects")
