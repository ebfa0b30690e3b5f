"""What the OpenAI provider does with each kind of reply from an OpenAI-compatible server (the fake on loopback):
a usable reply becomes the schema's object with its usage; anything else is refused with a reason and its usage,
so the job falls back or sends the answer to a person — a score is never guessed from a broken reply."""

from __future__ import annotations

import pytest

from grading.providers.schemas import AnswerToGrade, InvalidReply, PointToJudge
from grading.standards import get_standard, reference_text
from tests.helpers import UNSURE

ANSWERS = [
    AnswerToGrade(
        number=1,
        question="What is person-centred care?",
        answer="Care planned around the person.",
        max_score=2,
        points=[
            PointToJudge(1, "care around the person", 1),
            PointToJudge(2, "their wishes and preferences", 1),
            PointToJudge(3, "involving the family", 1),
        ],
    ),
    AnswerToGrade(
        number=2,
        question="Name one way to find out someone's wishes.",
        answer="Ask them.",
        max_score=1,
        points=[PointToJudge(1, "ask the person", 1), PointToJudge(2, "read the care plan", 1)],
    ),
]


def _grade(openai_provider):
    standard = get_standard(5)
    return openai_provider.grade_script(standard, reference_text(standard), ANSWERS)


def test_a_usable_reply_is_parsed_with_its_usage(openai_provider):
    grades, [usage] = _grade(openai_provider)
    assert [
        (g.number, g.score, g.max_score, g.feedback, g.confidence, g.needs_review, g.review_reason) for g in grades
    ] == [
        (
            1,
            1.0,
            2,
            "Question 1: 1 of 3 marking points made. Points met: “care around the person”. "
            "Points missed: “their wishes and preferences”; “involving the family”.",
            0.9,
            False,
            "",
        ),
        (
            2,
            1.0,
            1,
            "Question 2: 1 of 2 marking points made. Points met: “ask the person”. "
            "Points missed: “read the care plan”.",
            0.4,
            True,
            UNSURE,
        ),
    ]
    assert grades[0].decisions[0].quote == "Care planned around the person."
    assert usage.succeeded and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cached_tokens >= 0


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("truncated", "could not be used"),  # half a JSON object, finish_reason "stop"
        ("length", "cut off"),  # the reply ran out of tokens
        ("refusal", "declined"),
        ({"results": "none"}, "could not be used"),  # JSON that does not match the schema
    ],
)
def test_an_unusable_reply_is_refused_with_a_reason_and_never_scored(openai_provider, openai_server, fault, reason):
    openai_server.script("ScriptGrading", [{"json": fault} if isinstance(fault, dict) else {"fault": fault}])
    with pytest.raises(InvalidReply, match=reason) as refused:
        _grade(openai_provider)
    usage = refused.value.usage
    assert not usage.succeeded and usage.error


def test_a_reply_that_leaves_a_marking_point_undecided_is_refused(openai_provider, openai_server):
    openai_server.script("ScriptGrading", [{"fault": "invalid"}])  # valid JSON, question 1's first point left out
    with pytest.raises(InvalidReply, match="left out point 1 of question 1"):
        _grade(openai_provider)


def _result(number, decisions, feedback="", confidence=0.9):
    return {
        "number": number,
        "points": [{"point": p, "met": met, "quote": quote} for p, met, quote in decisions],
        "feedback": feedback,
        "confidence": confidence,
        "instruction_attempt": False,
    }


@pytest.mark.parametrize(
    ("decisions", "reason"),
    [
        (
            [(1, True, "Care planned"), (1, False, ""), (2, False, ""), (3, False, "")],
            "decided point 1 of question 1 twice",
        ),
        ([(1, True, "Care planned"), (2, False, ""), (3, False, ""), (4, True, "x")], "a point 4 that question 1"),
    ],
)
def test_a_point_decided_twice_or_unknown_is_refused(openai_provider, openai_server, decisions, reason):
    reply = {"results": [_result(1, decisions), _result(2, [(1, False, ""), (2, False, "")])]}
    openai_server.script("ScriptGrading", [{"json": reply}])
    with pytest.raises(InvalidReply, match=reason):
        _grade(openai_provider)


def test_a_met_point_quoting_words_not_in_the_answer_is_not_counted_and_goes_to_a_person(
    openai_provider, openai_server
):
    all_met = [(1, True, "Care planned around"), (2, True, "what they wish for"), (3, True, "the PERSON.")]
    reply = {"results": [_result(1, all_met), _result(2, [(1, False, ""), (2, False, "")])]}
    openai_server.script("ScriptGrading", [{"json": reply}])
    grades, _ = _grade(openai_provider)
    first = grades[0]
    assert [(d.order, d.met, d.quote) for d in first.decisions] == [
        (1, True, "Care planned around"),
        (2, False, ""),
        (3, True, "the PERSON."),  # spacing, case and end punctuation aside, these are the answer's words
    ]
    assert (first.score, first.needs_review) == (2.0, True)  # 1 + 1 met of a maximum of 2
    assert first.review_reason == "The AI said point 2 was met but quoted words that are not in the answer."


def test_results_in_another_order_are_matched_to_their_questions_by_number(openai_provider, openai_server):
    second = _result(2, [(1, True, "Ask them"), (2, True, "them")], "Feedback for question 2.")
    first = _result(1, [(1, True, "around the person"), (2, False, ""), (3, False, "")], "Feedback for question 1.")
    openai_server.script("ScriptGrading", [{"json": {"results": [second, first]}}])
    grades, _ = _grade(openai_provider)
    assert [(g.number, g.score, g.feedback, g.needs_review) for g in grades] == [
        (
            1,
            1.0,
            "Feedback for question 1. Points met: “care around the person”. "
            "Points missed: “their wishes and preferences”; “involving the family”.",
            False,
        ),
        (2, 1.0, "Feedback for question 2. Points met: “ask the person”; “read the care plan”.", False),  # capped
    ]
