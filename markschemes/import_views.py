"""Importing a mark scheme from a document (page): owners and admins upload a blank quiz or a mark scheme and follow
the import job, whose result links to the draft. The rules are :mod:`markschemes.importing`'s."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from grading.uploads import check_files
from markschemes.file_forms import post_file_form
from markschemes.forms import SchemeForm, subject_fields
from markschemes.importing import start_import
from markschemes.services import SchemeError
from markschemes.views import _require_manager
from quizmarker.api import status_for
from quizmarker.errors import DomainError


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Quiz or mark scheme",
        help_text="A blank quiz or a mark-scheme document: a PDF (typed or scanned) or a photo.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf,image/*"}),
    )
    standard = SchemeForm.base_fields["standard"]
    title = forms.CharField(label="Title (optional)", required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["standard"].choices = SchemeForm().fields["standard"].choices


@login_required
def scheme_import(request):
    _require_manager(request)
    if request.method != "POST":
        subject = request.GET.get("subject", "")
        return _page(request, ImportForm(initial={"standard": f"s{subject}"} if subject.isdigit() else {}))
    return post_file_form(request, ImportForm, _page, lambda form: _start_import(request, form))


def _start_import(request, form):
    try:
        (checked,) = check_files([form.cleaned_data["file"]])
        job = start_import(
            organization=request.organization,
            user=request.user,
            file=checked,
            title=form.cleaned_data["title"],
            **({"standard": None, "subject": None} | subject_fields(form.cleaned_data["standard"])),
        )
    except DomainError as exc:
        form.add_error("file", exc.message)
        return _page(request, form, status=status_for(exc))
    except SchemeError as error:
        form.add_error("standard" if error.field in ("standard", "subject") else None, error.message)
        return _page(request, form, status=400)
    messages.success(request, "The document is being read into a draft mark scheme; this page follows it.")
    return redirect("grading:job-detail", job.pk)


def _page(request, form, status=200):
    return render(request, "markschemes/import.html", {"form": form}, status=status)
