"""Mark schemes: the shipped defaults in every organization, the one validation module, and versioning (drafts,
publishing, editing a published scheme)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from markschemes.defaults import DEFAULTS_FILE, default_key, install_default_schemes
from markschemes.models import MarkScheme, SchemeOrigin, SchemeState
from markschemes.scoring import points_score
from markschemes.services import (
    SchemeError,
    create_draft,
    publish,
    published_for_standard,
    scheme_data,
    update_draft,
    validate_scheme,
)
from scripts.make_mark_schemes import SOURCE, build, render

pytestmark = pytest.mark.django_db

GOOD = {
    "standard": 3,
    "title": "Standard 3 — our own quiz",
    "questions": [
        {
            "number": 1,
            "text": "What does duty of care mean?",
            "max_marks": 2,
            "model_answer": "A legal duty to act in the person's best interests.",
            "points": [
                {"statement": "legal obligation", "marks": 1},
                {"statement": "best interests", "marks": 1},
                {"statement": "avoid harm", "marks": 1},
            ],
        },
        {
            "number": 2,
            "text": "What is a near miss?",
            "max_marks": "1.5",
            "points": [{"statement": "mistake noticed before harm", "marks": "1.5"}],
        },
    ],
}


def changed(**edits):
    data = copy.deepcopy(GOOD)
    for path, value in edits.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            last = int(last)
        target[last] = value
    return data


def test_every_organization_has_the_default_scheme_of_every_standard(personas):
    standards = json.loads(SOURCE.read_text(encoding="utf-8"))
    for organization in (personas.alpha, personas.beta):
        with schema_context(organization.schema_name):
            defaults = MarkScheme.objects.filter(origin=SchemeOrigin.DEFAULT, state=SchemeState.PUBLISHED)
            assert sorted(s.standard for s in defaults) == list(range(1, 16))
            for standard in standards:
                scheme = published_for_standard(standard["id"])
                assert scheme.key == default_key(standard["id"])
                assert scheme.title == f"Standard {standard['id']}: {standard['title']}"
                questions = list(scheme.questions.prefetch_related("points"))
                assert [(q.number, q.text, q.max_marks) for q in questions] == [
                    (item["number"], item["question"], Decimal(item["max_score"])) for item in standard["quiz"]
                ]
                assert [[p.statement for p in q.points.all()] for q in questions] == [
                    item["key_points"] for item in standard["quiz"]
                ]


def test_the_standard_3_default_is_worth_fifteen_marks_and_reads_any_three_of_four(personas):
    with schema_context(personas.alpha.schema_name):
        scheme = published_for_standard(3)
        assert scheme.total_marks == Decimal("15")
        first = scheme.questions.get(number=1)
        assert first.max_marks == Decimal("3")
        assert [(p.order, p.statement, p.marks) for p in first.points.all()] == [
            (1, "legal obligation", Decimal("1")),
            (2, "act in the best interests", Decimal("1")),
            (3, "avoid harm", Decimal("1")),
            (4, "work within competence", Decimal("1")),
        ]


def test_the_shipped_file_is_what_the_generator_writes_from_the_quizzes():
    assert DEFAULTS_FILE.read_text(encoding="utf-8") == render(build(json.loads(SOURCE.read_text(encoding="utf-8"))))


def test_installing_again_adds_nothing_and_the_command_restores_a_deleted_default(personas):
    with schema_context(personas.alpha.schema_name):
        assert install_default_schemes() == 0
        MarkScheme.objects.filter(key=default_key(7)).delete()
    out = StringIO()
    call_command("install_mark_schemes", "--org", "alpha", stdout=out)
    assert out.getvalue() == "alpha: 1 default mark scheme(s) installed\n"
    with schema_context(personas.alpha.schema_name):
        assert published_for_standard(7).key == default_key(7)
        assert MarkScheme.objects.filter(origin=SchemeOrigin.DEFAULT).count() == 15


def test_a_default_the_organization_edited_is_not_installed_again(personas):
    with schema_context(personas.alpha.schema_name):
        original = published_for_standard(4)
        data = scheme_data(original)
        data["questions"][0]["max_marks"] = "1"
        publish(update_draft(original, data, by="alice@alpha.test"), by="alice@alpha.test")
        assert install_default_schemes() == 0
        assert published_for_standard(4).version == 2


def test_points_score_is_the_sum_of_met_points_capped_at_the_maximum():
    assert points_score(Decimal("2"), []) == Decimal("0")
    assert points_score(Decimal("2"), [Decimal("0.5")]) == Decimal("0.5")
    assert points_score(Decimal("2"), [Decimal("1"), Decimal("1"), Decimal("1")]) == Decimal("2")
    assert points_score(Decimal("3"), [Decimal("1"), Decimal("1.5")]) == Decimal("2.5")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (changed(questions=[]), "questions", "A mark scheme needs at least one question."),
        (changed(questions__0__max_marks=0), "questions[0].max_marks", "Question 1's maximum must be more than 0"),
        (changed(questions__0__max_marks=-2), "questions[0].max_marks", "Question 1's maximum must be more than 0"),
        (changed(questions__1__max_marks="100.5"), "questions[1].max_marks", "at most 100 marks (got 100.5)"),
        (changed(questions__0__max_marks="1.25"), "questions[0].max_marks", "must be a whole or half mark"),
        (changed(questions__0__max_marks="lots"), "questions[0].max_marks", "must be a number of marks"),
        (changed(questions__1__number=1), "questions[1].number", "Question number 1 appears twice."),
        (
            changed(questions__0__max_marks=4),
            "questions[0].points",
            "Question 1's marking points add up to 3 marks, so its maximum of 4 can never be reached.",
        ),
        (changed(questions__0__points=[]), "questions[0].points", "Question 1 needs at least one marking point."),
        (changed(questions__0__points__1__marks=0), "questions[0].points[1].marks", "marking point 2's marks"),
        (changed(questions__1__points__0__statement=" "), "questions[1].points[0].statement", "is empty"),
        (changed(questions__0__text=""), "questions[0].text", "Question 1's text is empty."),
        (changed(standard=16), "standard", "standard from 1 to 15"),
        (changed(title=""), "title", "The title is empty."),
    ],
)
def test_a_bad_scheme_is_refused_naming_the_field(data, field, message):
    with pytest.raises(SchemeError) as caught:
        validate_scheme(data)
    assert caught.value.field == field
    assert message in str(caught.value)


def test_a_good_scheme_is_kept_exactly():
    spec = validate_scheme(GOOD)
    assert [(q.number, q.max_marks, [p.marks for p in q.points]) for q in spec.questions] == [
        (1, Decimal("2"), [Decimal("1"), Decimal("1"), Decimal("1")]),
        (2, Decimal("1.5"), [Decimal("1.5")]),
    ]


def test_a_bad_draft_is_not_saved(personas):
    with schema_context(personas.alpha.schema_name):
        before = MarkScheme.objects.count()
        with pytest.raises(SchemeError):
            create_draft(changed(questions__1__number=1), created_by="alice@alpha.test")
        assert MarkScheme.objects.count() == before


def test_editing_a_published_scheme_makes_a_new_draft_version_and_publishing_it_archives_the_old(personas):
    with schema_context(personas.alpha.schema_name):
        draft = create_draft(GOOD, created_by="alice@alpha.test")
        assert (draft.version, draft.state, draft.created_by) == (1, SchemeState.DRAFT, "alice@alpha.test")
        # A draft is edited in place.
        same = update_draft(draft, changed(title="Renamed"), by="alice@alpha.test")
        assert (same.pk, same.title, same.questions.count()) == (draft.pk, "Renamed", 2)

        v1 = publish(draft, by="dana@alpha.test")
        assert (v1.state, v1.published_by) == (SchemeState.PUBLISHED, "dana@alpha.test")
        assert published_for_standard(3) == v1  # the most recently published for standard 3

        v2 = update_draft(v1, changed(questions__0__max_marks=3), by="bob@alpha.test")
        assert (v2.key, v2.version, v2.state) == (v1.key, 2, SchemeState.DRAFT)
        v1.refresh_from_db()
        assert v1.state == SchemeState.PUBLISHED
        assert v1.questions.get(number=1).max_marks == Decimal("2")
        assert published_for_standard(3) == v1  # a draft is never used for grading

        with pytest.raises(SchemeError) as caught:
            update_draft(v1, GOOD, by="bob@alpha.test")
        assert caught.value.field == "state"
        assert str(caught.value) == "Version 2 of this scheme is already a draft; edit that draft."

        publish(v2, by="dana@alpha.test")
        v1.refresh_from_db()
        assert v1.state == SchemeState.ARCHIVED
        assert v1.questions.get(number=1).max_marks == Decimal("2")
        assert published_for_standard(3) == v2
        assert v2.questions.get(number=1).max_marks == Decimal("3")

        with pytest.raises(SchemeError) as caught:
            publish(v2)
        assert (caught.value.field, str(caught.value)) == (
            "state",
            "Only a draft can be published; version 2 is published.",
        )
        with pytest.raises(SchemeError) as caught:
            update_draft(v2, changed(standard=4))
        assert caught.value.field == "standard"
