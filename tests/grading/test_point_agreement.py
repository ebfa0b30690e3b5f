"""Agreement by marking point on the analytics pages: per point, how often the AI found it and how often assessors
reversed its decision; per question, how many point decisions were reversed."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from grading.models import PointDecision, QuestionResult, Submission
from markschemes.services import published_for_standard

pytestmark = pytest.mark.django_db

# Three scripts on standard 5's shipped scheme, question 1: (AI decisions, assessor decisions) per point.
SCRIPTS = [
    ([True, False, True], [None, True, None]),  # the assessor ticked point 2, which the AI missed
    ([True, True, False], [False, None, None]),  # unticked point 1, which the AI gave
    ([True, False, False], [True, False, None]),  # confirmed both: not a change
]


@pytest.fixture
def marked(personas):
    with schema_context("alpha"):
        Submission.objects.all().delete()  # scripts other tests committed (this test's transaction hides it)
        question = published_for_standard(5).questions.order_by("number").first()
        points = list(question.points.order_by("order"))[:3]
        for ai, assessor in SCRIPTS:
            submission = Submission.objects.create(
                standard=5, status="graded", upload_job_id=uuid.uuid4(), graded_at=timezone.now()
            )
            result = QuestionResult.objects.create(
                submission=submission, number=1, max_score=question.max_marks, scheme_question=question, ai_score=1
            )
            for point, ai_met, assessor_met in zip(points, ai, assessor, strict=True):
                PointDecision.objects.create(question=result, point=point, ai_met=ai_met, assessor_met=assessor_met)
        return question, points


def test_the_standard_page_shows_how_often_each_point_was_reversed(web, personas, marked):
    question, points = marked
    response = web(personas.alpha, personas.bob).get("/analytics/standard-5/")
    rows = response.context["points"]
    assert [
        (r["statement"], r["decided"], r["found_percent"], r["ticked"], r["unticked"], r["agreement"]) for r in rows
    ] == [
        (points[0].statement, 3, 100, 0, 1, 67),
        (points[1].statement, 3, 33, 1, 0, 67),
        (points[2].statement, 3, 33, 0, 0, 100),
    ]
    (first,) = [q for q in response.context["questions"] if q["number"] == 1]
    assert (first["points_decided"], first["points_changed"]) == (9, 2)
    agreement = response.context["agreement"]
    assert (agreement["points_decided"], agreement["points_changed"], agreement["points_agreement"]) == (9, 2, 78)
    body = response.content.decode()
    table = body.split('id="point-agreement"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 4 and "Overall 78 % of 9 decisions kept." in body
    assert '<td class="num">2 of 9</td>' in body


def test_the_overview_counts_reversed_point_decisions(web, personas, marked):
    body = web(personas.alpha, personas.bob).get("/analytics/").content.decode()
    assert "of 9 marking-point decisions kept (2 reversed)" in body
