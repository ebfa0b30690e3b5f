"""Forms of the assessor pages. They only shape and validate input; the work is done by grading/services."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.forms import modelformset_factory

from grading.models import QuestionResult, Student, SubmissionStatus
from jobs.models import Priority

ACCEPTED_TYPES = ".png,.jpg,.jpeg,.gif,.webp,.pdf,image/png,image/jpeg,image/gif,image/webp,application/pdf"


def standard_choices(standards, empty_label: str) -> list[tuple[str, str]]:
    return [("", empty_label)] + [(str(s.id), f"Standard {s.id}: {s.title}") for s in standards]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Passes the uploaded files through as a list: grading.uploads.check_files judges them (and says why)."""

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [item for item in data if item]
        return [data] if data else []


class UploadForm(forms.Form):
    """The upload form. The files themselves are checked by grading.uploads.check_files (content, size, count)."""

    files = MultipleFileField(
        label="Answer sheets",
        required=False,
        widget=MultipleFileInput(attrs={"accept": ACCEPTED_TYPES, "multiple": True}),
        help_text="Photos or scans: PNG, JPEG, GIF, WebP or PDF.",
    )
    standard = forms.ChoiceField(label="Standard", required=False)
    session_label = forms.CharField(
        label="Batch name (optional)",
        required=False,
        max_length=200,
        help_text="For example the cohort or the date of the course.",
    )
    grade = forms.BooleanField(
        label="Grade as soon as the pages are read",
        required=False,
        help_text="Skips checking the transcription first. You can still correct any mark afterwards.",
    )
    priority = forms.ChoiceField(
        label="Priority",
        choices=Priority.choices,
        initial=Priority.NORMAL,
        required=False,
        help_text="High: read and graded before the organization's other uploads (within its share of the AI "
        "provider).",
    )

    def __init__(self, *args, standards=(), may_ask_high_priority=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_ask_high_priority:  # owners and admins only (organizations.permissions)
            del self.fields["priority"]
        self.fields["standard"].choices = standard_choices(standards, "Detect from the sheet") + own_subject_choices()
        limit_mb = settings.UPLOAD_MAX_FILE_BYTES // (1024 * 1024)
        self.fields["files"].help_text = (
            f"Photos or scans: PNG, JPEG, GIF, WebP or PDF — up to {settings.UPLOAD_MAX_FILES} files, "
            f"{limit_mb} MB each."
        )

    def standard_id(self) -> int | None:
        value = self.cleaned_data.get("standard")
        return int(value) if value and value.isdigit() else None

    def chosen_priority(self) -> str:
        return self.cleaned_data.get("priority") or Priority.NORMAL

    def mark_scheme_id(self) -> int | None:
        """An own subject's choice names its published scheme ("m<scheme id>"), as the API's mark_scheme_id."""
        value = self.cleaned_data.get("standard") or ""
        return int(value[1:]) if value.startswith("m") else None


def own_subject_choices() -> list:
    """The organization's own subjects that have a published mark scheme, each as that scheme ("m<id>")."""
    from markschemes.models import MarkScheme, SchemeState

    schemes = (
        MarkScheme.objects.filter(subject__isnull=False, state=SchemeState.PUBLISHED)
        .select_related("subject")
        .order_by("subject__name", "-published_at")
    )
    own = [(f"m{s.pk}", f"{s.subject.name}: {s.title}") for s in schemes]
    return [("Your subjects", own)] if own else []


NEW_STUDENT = "new"


class ReviewForm(forms.Form):
    """Who wrote the script and which standard it answers."""

    student = forms.ChoiceField(
        label="Student",
        required=False,
        widget=forms.Select(attrs={"data-reveal": "[data-role=new-student]", "data-reveal-value": NEW_STUDENT}),
    )
    new_student_name = forms.CharField(label="New student's full name", required=False, max_length=200)
    new_student_reference = forms.CharField(label="Reference (optional)", required=False, max_length=100)
    standard = forms.ChoiceField(label="Standard", required=False)

    def __init__(self, *args, standards=(), submission=None, **kwargs):
        super().__init__(*args, **kwargs)
        students = Student.objects.order_by("full_name")
        self.fields["student"].choices = [
            ("", "— Not known yet —"),
            (NEW_STUDENT, "+ Create a new student"),
        ] + [(str(s.pk), f"{s.full_name} ({s.reference})" if s.reference else s.full_name) for s in students]
        self.fields["standard"].choices = standard_choices(standards, "— Choose the standard —")
        if submission is not None and not self.is_bound:
            if submission.student_id:
                self.initial["student"] = str(submission.student_id)
            elif submission.detected_student_name:
                self.initial["student"] = NEW_STUDENT
                self.initial["new_student_name"] = submission.detected_student_name
            if submission.standard:
                self.initial["standard"] = str(submission.standard)

    def clean(self):
        data = super().clean()
        if data.get("student") == NEW_STUDENT and not (data.get("new_student_name") or "").strip():
            self.add_error("new_student_name", "Enter the new student's full name.")
        return data

    def chosen_student(self) -> Student | None:
        """The chosen student (created now if new); None if nobody was chosen."""
        choice = self.cleaned_data.get("student")
        if choice == NEW_STUDENT:
            name = " ".join(self.cleaned_data["new_student_name"].split())
            existing = Student.objects.filter(full_name__iexact=name).first()
            return existing or Student.objects.create(
                full_name=name, reference=self.cleaned_data.get("new_student_reference", "").strip()
            )
        if choice:
            return Student.objects.filter(pk=choice).first()
        return None

    def standard_id(self) -> int | None:
        value = self.cleaned_data.get("standard")
        return int(value) if value else None


class QuestionEditForm(forms.ModelForm):
    """A transcription's corrections. The question's maximum marks are not here: they come only from the mark
    scheme (a posted ``max_score`` is ignored and the page says so, see ``grading.corrections.MAX_FROM_SCHEME``)."""

    class Meta:
        model = QuestionResult
        fields = ["question_text", "answer_text"]
        labels = {"question_text": "Question", "answer_text": "Answer as read"}
        widgets = {
            "question_text": forms.Textarea(attrs={"rows": 2}),
            "answer_text": forms.Textarea(attrs={"rows": 4}),
        }


# Edits only: a form added by a changed management form never creates a question (the review view refuses it first).
QuestionFormSet = modelformset_factory(QuestionResult, form=QuestionEditForm, extra=0, edit_only=True)


class OverrideForm(forms.Form):
    score = forms.DecimalField(
        label="New score",
        required=False,
        min_value=Decimal("0"),
        max_digits=5,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
    )
    feedback = forms.CharField(
        label="Feedback", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    reason = forms.CharField(label="Reason for the change", max_length=500)

    def __init__(self, *args, points_changed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.points_changed = points_changed

    def clean(self):
        data = super().clean()
        unchanged = data.get("score") is None and "feedback" not in self.changed_data and not self.points_changed
        if unchanged and not self.errors:
            raise forms.ValidationError("Change the score, the marking points or the feedback.")
        return data


STATUS_CHOICES = [("", "Any status")] + list(SubmissionStatus.choices)
REVIEW_CHOICES = [("", "Any"), ("yes", "Needs review"), ("no", "No open flags")]


class SubmissionFilterForm(forms.Form):
    standard = forms.ChoiceField(label="Standard", required=False)
    student = forms.ChoiceField(
        label="Student",
        required=False,
        widget=forms.Select(attrs={"data-reveal": "[data-role=new-student]", "data-reveal-value": NEW_STUDENT}),
    )
    status = forms.ChoiceField(label="Status", required=False, choices=STATUS_CHOICES)
    needs_review = forms.ChoiceField(label="Review", required=False, choices=REVIEW_CHOICES)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, standards=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["standard"].choices = standard_choices(standards, "Any standard")
        self.fields["student"].choices = [("", "Any student")] + [
            (str(pk), name) for pk, name in Student.objects.order_by("full_name").values_list("pk", "full_name")
        ]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data
