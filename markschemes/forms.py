"""The mark-scheme editor's form: the scheme's standard and title, and a block per question whose marking points are
written one a line as ``marks | statement``.

The form only turns what was typed into the plain shape :func:`markschemes.services.validate_scheme` takes, and puts
a :class:`~markschemes.services.SchemeError` back beside the field it names. Whether a scheme is valid is the
services' decision alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django import forms

from markschemes.models import MarkScheme
from markschemes.services import SchemeError, marks_text

EXTRA_QUESTIONS = 2
_FIELD = re.compile(r"^questions\[(\d+)\]\.(\w+)")


def points_text(points) -> str:
    """Marking points as the editor shows them: ``1 | legal obligation`` a line."""
    return "\n".join(f"{marks_text(p['marks'])} | {p['statement']}" for p in points)


def _subject_choices():
    """The standards (values "1"…"15") and the organization's own subjects (values "s<id>")."""
    from grading.standards import discover
    from markschemes.models import Subject

    titles = {s.id: s.title for s in discover()}
    standards = [(str(n), f"Standard {n}: {titles.get(n, '')}".rstrip(": ")) for n in range(1, 16)]
    own = [(f"s{pk}", name) for pk, name in Subject.objects.values_list("pk", "name")]
    return [("", "Choose a standard or subject"), ("Care Certificate", standards)] + (
        [("Your subjects", own)] if own else []
    )


def subject_value(data: dict) -> str:
    """The editor's choice for a scheme's data: "3" for a standard, "s7" for an own subject."""
    if data.get("subject"):
        return f"s{data['subject']}"
    return str(data["standard"]) if data.get("standard") else ""


def subject_fields(value: str) -> dict:
    if value.startswith("s"):
        return {"subject": int(value[1:])}
    return {"standard": int(value)}


class SchemeForm(forms.Form):
    standard = forms.ChoiceField(choices=(), label="Standard or subject")
    title = forms.CharField(widget=forms.TextInput(attrs={"size": 60}))

    def __init__(self, *args, fixed_standard: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["standard"].choices = _subject_choices()
        if fixed_standard:
            self.fields["standard"].disabled = True
            self.fields["standard"].help_text = "A new version keeps its scheme's standard or subject."


class QuestionForm(forms.Form):
    number = forms.IntegerField(required=False, min_value=1, max_value=999, widget=forms.NumberInput(attrs={"size": 4}))
    text = forms.CharField(required=False, label="Question", widget=forms.Textarea(attrs={"rows": 2}))
    max_marks = forms.CharField(required=False, label="Maximum marks", max_length=10)
    points = forms.CharField(
        required=False,
        label="Marking points",
        help_text="One a line: the marks, a bar, then what the answer must say, e.g. “1 | legal obligation”. "
        "Points worth more than the maximum in total read “any of these”.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    model_answer = forms.CharField(
        required=False, label="Model answer (optional)", widget=forms.Textarea(attrs={"rows": 2})
    )

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return data.get("number") is None and not any(
            data.get(f) for f in ("text", "max_marks", "points", "model_answer")
        )

    def clean_points(self):
        points = []
        for line_number, line in enumerate(self.cleaned_data["points"].splitlines(), start=1):
            if not line.strip():
                continue
            marks, bar, statement = line.partition("|")
            if not bar:
                raise forms.ValidationError(
                    f"Line {line_number} needs its marks first, then a bar: “1 | {line.strip()[:40]}”."
                )
            points.append({"marks": marks.strip(), "statement": statement.strip()})
        return points


class BaseQuestionFormSet(forms.BaseFormSet):
    def kept(self) -> list[tuple[int, dict]]:
        """(form index, question data) of every question block that is not blank or removed."""
        kept = []
        for index, form in enumerate(self.forms):
            if self.can_delete and self._should_delete_form(form):
                continue
            if form.is_blank():
                continue
            data = form.cleaned_data
            kept.append(
                (
                    index,
                    {
                        "number": data["number"],
                        "text": data["text"],
                        "max_marks": data["max_marks"],
                        "model_answer": data["model_answer"],
                        "points": data["points"],
                    },
                )
            )
        return kept


QuestionFormSet = forms.formset_factory(
    QuestionForm, formset=BaseQuestionFormSet, extra=EXTRA_QUESTIONS, can_delete=True, max_num=100, absolute_max=120
)


def initial_questions(data: dict) -> list[dict]:
    return [
        {
            "number": q["number"],
            "text": q["text"],
            "max_marks": marks_text(q["max_marks"]),
            "points": points_text(q["points"]),
            "model_answer": q["model_answer"],
        }
        for q in data["questions"]
    ]


class SchemeEditor:
    """The scheme form and its question blocks together, bound or not."""

    def __init__(self, post=None, *, initial: dict | None = None, fixed_standard: bool = False):
        initial = initial or {}
        self.fixed_standard = fixed_standard
        self.scheme = SchemeForm(
            post,
            initial={"standard": subject_value(initial), "title": initial.get("title", "")},
            fixed_standard=fixed_standard,
        )
        self.questions = QuestionFormSet(
            post, initial=initial_questions(initial) if initial.get("questions") else None, prefix="q"
        )
        self.errors: list[str] = []
        self._kept: list[tuple[int, dict]] = []

    def data(self) -> dict | None:
        """The scheme as plain data for the services, or None when the form itself could not be read."""
        scheme_ok, questions_ok = self.scheme.is_valid(), self.questions.is_valid()
        if not (scheme_ok and questions_ok):
            return None
        self._kept = self.questions.kept()
        return {
            **subject_fields(self.scheme.cleaned_data["standard"]),
            "title": self.scheme.cleaned_data["title"],
            "questions": [question for _, question in self._kept],
        }

    def save(self, save: Callable[[dict], MarkScheme]) -> MarkScheme | None:
        """``save(data)`` with the form's data; None when the form could not be read or the services refused the data
        (their error is then shown beside the field it names)."""
        data = self.data()
        if data is None:
            return None
        try:
            return save(data)
        except SchemeError as error:
            self.show(error)
            return None

    def show(self, error: SchemeError) -> None:
        """Put the services' error beside the field it names (or above the form when it names no one field)."""
        match = _FIELD.match(error.field)
        if match and int(match.group(1)) < len(self._kept):
            form = self.questions.forms[self._kept[int(match.group(1))][0]]
            field = match.group(2) if match.group(2) in form.fields else None
            form.add_error(field, error.message)
        elif error.field in ("standard", "subject", "title"):
            self.scheme.add_error("title" if error.field == "title" else "standard", error.message)
        else:
            self.errors.append(error.message)
