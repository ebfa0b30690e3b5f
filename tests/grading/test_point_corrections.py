"""Assessor corrections by marking point: ticking or unticking a point (on the results page, the review queue or the
API) sets the assessor's decision, the score follows the points that count (capped at the maximum) unless a score
is typed, and every change is audited with the points it changed."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from grading.models import PointDecision, QuestionResult, ScoreChange, Submission
from markschemes.services import published_for_standard

pytestmark = pytest.mark.django_db

# Standard 3's shipped scheme, question 1: at most 3 marks, four points of 1 mark ("any three of four").
AI_MET = [True, False, True, False]


@pytest.fixture
def graded(personas):
    """A submission marked with standard 3's scheme: question 1 met points 1 and 3 (2 of 3), question 2 scored 2."""
    with schema_context("alpha"):
        scheme = published_for_standard(3)
        q1, q2 = scheme.questions.order_by("number")[:2]
        submission = Submission.objects.create(
            standard=3,
            mark_scheme=scheme,
            status="graded",
            upload_job_id=uuid.uuid4(),
            graded_at=timezone.now(),
            provider="openai",
        )
        answers = [(q1, "It is a legal duty and means avoiding harm."), (q2, "Something.")]
        first, _ = [
            QuestionResult.objects.create(
                submission=submission,
                number=number,
                question_text=question.text,
                answer_text=answer,
                max_score=question.max_marks,
                scheme_question=question,
                ai_score=Decimal("2"),
            )
            for number, (question, answer) in enumerate(answers, start=1)
        ]
        for point, met in zip(q1.points.order_by("order"), AI_MET, strict=True):
            PointDecision.objects.create(question=first, point=point, ai_met=met, quote="legal duty" if met else "")
        submission.recompute_totals()
        submission.save()
        points = [p.pk for p in q1.points.order_by("order")]
    return submission, points


def _post(client, submission, points_ticked, **fields):
    data = {"points_shown": "1", "point": [str(p) for p in points_ticked], "score": "2", "reason": "Checked"}
    data.update(fields)
    return client.post(f"/submissions/{submission.pk}/questions/1/override/", data, follow=True)


def _state(submission):
    with schema_context("alpha"):
        question = QuestionResult.objects.get(submission=submission, number=1)
        decisions = [(d.ai_met, d.assessor_met, d.met) for d in question.point_decisions.order_by("point__order")]
        total = Submission.objects.get(pk=submission.pk).total_score
        return question.ai_score, question.final_score, decisions, total


def test_the_results_page_shows_a_box_per_point_checked_when_met(web, personas, graded):
    submission, points = graded
    body = web(personas.alpha, personas.bob).get(f"/submissions/{submission.pk}/").content.decode()
    boxes = body.split('name="points_shown"', 1)[1].split("</fieldset>", 1)[0]
    assert [f'value="{p}" checked' in boxes for p in points] == AI_MET
    assert all(f'value="{p}"' in boxes for p in points)
    assert "act in the best interests" in boxes


def test_ticking_a_point_raises_the_score_by_its_marks_and_is_audited(web, personas, graded):
    submission, points = graded
    response = _post(web(personas.alpha, personas.bob), submission, [points[0], points[1], points[2]])
    assert response.status_code == 200
    assert _state(submission) == (
        Decimal("2"),
        Decimal("3"),
        [(True, None, True), (False, True, True), (True, None, True), (False, None, False)],
        Decimal("5"),
    )
    with schema_context("alpha"):
        change = ScoreChange.objects.get(question__submission=submission)
        assert (change.old_score, change.new_score, change.changed_by, change.reason) == (
            Decimal("2"),
            Decimal("3"),
            "bob@alpha.test",
            "Checked",
        )
        assert change.points == [
            {"point_id": points[1], "statement": "act in the best interests", "from": False, "to": True}
        ]
        decision = PointDecision.objects.get(question__submission=submission, point_id=points[1])
        assert decision.assessor_set_by == "bob@alpha.test" and decision.assessor_set_at is not None
    body = response.content.decode()
    assert "ticked “act in the best interests”" in body and "changed the score from 2 to 3" in body


def test_unticking_lowers_the_score_and_ticking_every_point_stops_at_the_maximum(web, personas, graded):
    submission, points = graded
    client = web(personas.alpha, personas.alice)
    _post(client, submission, [points[2]])
    assert _state(submission)[1] == Decimal("1")
    _post(client, submission, points, score="1")  # "1" is what the page shows now: untouched
    ai, final, decisions, total = _state(submission)
    assert (final, [met for *_, met in decisions], total) == (Decimal("3"), [True] * 4, Decimal("5"))
    with schema_context("alpha"):
        first, second = ScoreChange.objects.filter(question__submission=submission).order_by("changed_at")
        assert [(p["statement"], p["to"]) for p in first.points] == [("legal obligation", False)]
        assert [(p["statement"], p["to"]) for p in second.points] == [
            ("legal obligation", True),
            ("act in the best interests", True),
            ("work within competence", True),
        ]


def test_a_typed_score_wins_over_the_points_and_the_ticks_are_still_kept(web, personas, graded):
    submission, points = graded
    _post(web(personas.alpha, personas.bob), submission, points, score="1.5")
    ai, final, decisions, _ = _state(submission)
    assert final == Decimal("1.5") and [met for *_, met in decisions] == [True] * 4


def test_saving_the_form_with_the_same_ticks_only_changes_what_changed(web, personas, graded):
    submission, points = graded
    _post(web(personas.alpha, personas.bob), submission, [points[0], points[2]], feedback="Good start.")
    ai, final, decisions, _ = _state(submission)
    assert final == Decimal("2") and [assessor for _, assessor, _ in decisions] == [None] * 4
    with schema_context("alpha"):
        change = ScoreChange.objects.get(question__submission=submission)
        assert (change.points, change.new_feedback) == ([], "Good start.")


def test_the_api_ticks_points_and_refuses_a_point_of_another_question(api, personas, graded):
    submission, points = graded
    client = api(personas.alpha, personas.bob)
    url = f"/api/v1/submissions/{submission.pk}/questions/1"
    response = client.patch(
        url, {"points": [{"id": points[3], "met": True}], "reason": "Named competence"}, format="json"
    )
    assert response.status_code == 200, response.json()
    (question,) = [q for q in response.json()["data"]["questions"] if q["number"] == 1]
    assert (question["score"], question["ai_score"], question["final_score"]) == ("3.00", "2.00", "3.00")

    with schema_context("alpha"):
        other = published_for_standard(3).questions.get(number=2).points.first().pk
    response = client.patch(url, {"points": [{"id": other, "met": True}], "reason": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": f"Question 1 has no marking point {other}.",
        "code": "VALIDATION_ERROR",
        "details": {"points": [f"Not a marking point of question 1: {other}."]},
    }
    response = client.patch(
        f"/api/v1/submissions/{submission.pk}/questions/2",
        {"points": [{"id": other, "met": True}], "reason": "x"},
        format="json",
    )
    assert response.json()["error"] == (
        "Question 2 was not marked by marking points, so there are none to tick; set a score."
    )
    assert _state(submission)[1] == Decimal("3")
    with schema_context("alpha"):
        assert ScoreChange.objects.filter(question__submission=submission).count() == 1


def _regrade(personas, submission, mark_scheme_id=None):
    """Grade the submission again, in this process, with the offline grader (the same job a worker runs)."""
    from grading.services import start_grading
    from jobs.running import run_inline

    with schema_context("alpha"):
        job = start_grading(
            organization=personas.alpha,
            user=personas.alice,
            submissions=[Submission.objects.get(pk=submission.pk)],
            standard_id=3,
            mark_scheme_id=mark_scheme_id,
            enqueue=False,
        )
    assert run_inline(job) == "completed", job.error_message


def test_a_regrade_keeps_the_assessors_ticks_beside_the_ais_new_decisions(web, personas, graded, settings):
    settings.QUIZMARKER_AI_PROVIDER = "local"
    submission, points = graded
    _post(web(personas.alpha, personas.bob), submission, [points[0]], score="1")  # unticks point 3
    _regrade(personas, submission)
    ai, final, decisions, _ = _state(submission)
    assert [assessor for _, assessor, _ in decisions] == [None, None, False, None]
    assert decisions[2][2] is False  # the assessor's untick still counts
    assert final == Decimal("1")
    with schema_context("alpha"):
        kept = PointDecision.objects.get(question__submission=submission, point_id=points[2])
        assert kept.assessor_set_by == "bob@alpha.test" and kept.assessor_set_at is not None
        assert ScoreChange.objects.filter(question__submission=submission).count() == 1  # nothing dropped


def test_a_regrade_with_another_scheme_version_records_the_ticks_it_drops(web, personas, graded, settings):
    from markschemes.services import publish, scheme_data, update_draft

    settings.QUIZMARKER_AI_PROVIDER = "local"
    submission, points = graded
    _post(web(personas.alpha, personas.bob), submission, [points[0], points[1], points[2]])  # ticks point 2
    with schema_context("alpha"):
        current = published_for_standard(3)
        data = scheme_data(current)
        data["questions"][0]["points"][1]["statement"] = "acts in the person's best interests"
        newer = publish(update_draft(current, data, by="alice@alpha.test"))
    _regrade(personas, submission, mark_scheme_id=newer.pk)
    with schema_context("alpha"):
        question = QuestionResult.objects.get(submission=submission, number=1)
        assert question.scheme_question.scheme_id == newer.pk
        assert [d.assessor_met for d in question.point_decisions.all()] == [None, None, None, None]
        dropped = ScoreChange.objects.filter(question=question).order_by("-changed_at").first()
        assert dropped.points == [
            {"point_id": points[1], "statement": "act in the best interests", "from": True, "to": None}
        ]
        assert dropped.changed_by == "alice@alpha.test"
        assert dropped.reason.startswith(f"Re-graded with “{newer.title}” version {newer.version}")
    body = web(personas.alpha, personas.bob).get(f"/submissions/{submission.pk}/").content.decode()
    assert "dropped (was ticked) “act in the best interests”" in body


def test_the_api_refuses_a_maximum_and_changes_nothing(api, personas, graded):
    submission, points = graded
    response = api(personas.alpha, personas.bob).patch(
        f"/api/v1/submissions/{submission.pk}/questions/1",
        {"max_score": 50, "score": 40, "reason": "The sheet says 50"},
        format="json",
    )
    sentence = (
        "A question's maximum marks come only from the mark scheme, never from the sheet or a correction; change "
        "the mark scheme to change them."
    )
    assert (response.status_code, response.json()) == (
        400,
        {"success": False, "error": sentence, "code": "VALIDATION_ERROR", "details": {"max_score": [sentence]}},
    )
    with schema_context("alpha"):
        question = QuestionResult.objects.get(submission=submission, number=1)
        assert (question.max_score, question.final_score) == (Decimal("3"), None)
        assert not ScoreChange.objects.filter(question=question).exists()
