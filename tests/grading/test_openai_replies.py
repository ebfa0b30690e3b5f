"""What the OpenAI provider does with each kind of reply from an OpenAI-compatible server (the fake on loopback):
a usable reply becomes the schema's object with its usage; anything else is refused with a reason and its usage,
so the job falls back or sends the answer to a person — a score is never guessed from a broken reply."""

from __future__ import annotations

import pytest

from grading.providers.openai_provider import OpenAIProvider
from grading.providers.schemas import AnswerToGrade, InvalidReply
from grading.standards import get_standard, reference_text
from tests.helpers import PARTIAL_MARKS, TOO_BRIEF, UNSURE

ANSWERS = [
    AnswerToGrade(number=1, question="What is person-centred care?", answer="Care around the person.", max_score=2),
    AnswerToGrade(number=2, question="Name one way to find out someone's wishes.", answer="Ask them.", max_score=1),
]


@pytest.fixture
def provider(openai_server, settings):
    settings.OPENAI_BASE_URL = openai_server.base_url
    settings.OPENAI_API_KEY = "sk-test-not-a-real-key"
    settings.OPENAI_MAX_RETRIES = 0
    settings.OPENAI_TIMEOUT = 5
    return OpenAIProvider()


def _grade(provider):
    standard = get_standard(5)
    return provider.grade_script(standard, reference_text(standard), ANSWERS)


def test_a_usable_reply_is_parsed_with_its_usage(provider):
    grades, [usage] = _grade(provider)
    assert [
        (g.number, g.score, g.max_score, g.feedback, g.confidence, g.needs_review, g.review_reason) for g in grades
    ] == [
        (1, 0.5, 2, PARTIAL_MARKS.format(1), 0.4, True, UNSURE),
        (2, 0.0, 1, TOO_BRIEF.format(2), 0.4, True, UNSURE),
    ]
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
def test_an_unusable_reply_is_refused_with_a_reason_and_never_scored(provider, openai_server, fault, reason):
    openai_server.script("ScriptGrading", [{"json": fault} if isinstance(fault, dict) else {"fault": fault}])
    with pytest.raises(InvalidReply, match=reason) as refused:
        _grade(provider)
    usage = refused.value.usage
    assert not usage.succeeded and usage.error


def test_a_score_out_of_range_is_refused(provider, openai_server):
    openai_server.script("ScriptGrading", [{"fault": "invalid"}])  # valid JSON, a score above the maximum
    with pytest.raises(InvalidReply, match="impossible score"):
        _grade(provider)


def test_results_in_another_order_are_matched_to_their_questions_by_number(provider, openai_server):
    def result(number, score, max_score):
        feedback = f"Feedback for question {number}."
        return {
            "number": number,
            "score": score,
            "max_score": max_score,
            "feedback": feedback,
            "confidence": 0.9,
            "instruction_attempt": False,
        }

    openai_server.script("ScriptGrading", [{"json": {"results": [result(2, 1.0, 1), result(1, 1.5, 2)]}}])
    grades, _ = _grade(provider)
    assert [(g.number, g.score, g.feedback, g.needs_review) for g in grades] == [
        (1, 1.5, "Feedback for question 1.", False),
        (2, 1.0, "Feedback for question 2.", False),
    ]
