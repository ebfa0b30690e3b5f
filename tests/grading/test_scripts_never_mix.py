"""Issue 22's proofs, end to end through the API and a real worker, with both providers (alpha: the fake OpenAI
server; beta: offline OCR on photographed-looking sheets made at test time): one upload of three learners' sheets,
two of them under the same name and each starting at question 1, is three submissions, each with only its own
words; a page whose name cannot be read, a blank page, a page upside down and a photo of something else each become
a script of their own, flagged and not graded (never merged, never given a score)."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from grading.grouping import LEARNER_NOT_IDENTIFIED, NO_QUESTIONS_FOUND
from grading.models import Submission
from tests.grading.photo_sheets import blank_photo, not_a_quiz_photo, sheet_photo, upside_down_photo
from tests.helpers import read_question, sheet, upload, wait_for_job

pytestmark = [pytest.mark.worker]

PRIYA = {
    1: "Keeping people safe from harm and acting in their best interests.",
    2: "A resident refuses her medicine, I explain the risks and respect her choice.",
    3: "Listen calmly, write it down and tell my manager.",
}
TOM = {
    1: "Looking after people in the wheelchair so they do not fall.",
    2: "Someone wants to smoke, I tell the nurse.",
    3: "Say sorry.",
}
TOM_AGAIN = {  # Tom's second attempt: a second submission, not more answers for the first
    1: "Making sure everyone gets their medication on time.",
    2: "A man wants to go out alone at night so I talk about the dangers.",
    3: "Write it in the diary.",
}
# Words only one learner's sheet has: found in that learner's submission, never in another's.
OWN_WORDS = {
    "priya": {"interests", "medicine", "calmly"},
    "tom": {"wheelchair", "smoke", "sorry"},
    "tom_again": {"medication", "dangers", "diary"},
}


def _words(submission: Submission) -> set[str]:
    return set(re.findall(r"[a-z]+", " ".join(q.answer_text for q in submission.questions.all()).lower()))


def _submissions(schema: str, ids: list[str]) -> list[Submission]:
    with schema_context(schema):
        found = {str(s.pk): s for s in Submission.objects.select_related("student").prefetch_related("questions")}
        return [found[pk] for pk in ids]


def _read(client, *files, timeout: float = 60, **fields):
    extraction = wait_for_job(upload(client, *files, **fields)["job_id"], timeout=timeout)
    assert extraction.status == "completed", extraction.error_message
    return extraction


def _assert_three_learners_apart(schema: str, extraction) -> None:
    scripts = _submissions(schema, extraction.result["submission_ids"])
    assert [(s.student.full_name if s.student else None) for s in scripts] == ["Priya Shah", "Tom Baker", "Tom Baker"]
    assert scripts[1].student_id == scripts[2].student_id, "one learner, two submissions"
    with schema_context(schema):
        assert [sorted(s.questions.values_list("number", flat=True)) for s in scripts] == [[1, 2, 3]] * 3
        for script, own in zip(scripts, ["priya", "tom", "tom_again"], strict=True):
            words = _words(script)
            assert OWN_WORDS[own] <= words, f"{own}'s words are in {own}'s submission"
            others = set().union(*(w for name, w in OWN_WORDS.items() if name != own))
            assert not (words & others), f"{own}'s submission has another learner's words: {words & others}"
    assert [s["flags"] for s in extraction.result["submissions"]] == [[], [], []]


def test_three_learners_in_one_upload_are_three_submissions_each_with_only_its_own_words_with_the_openai_provider(
    celery_worker, live_db, personas, api, openai_server
):
    pages = [
        {
            "student_name": name,
            "standard": 3,
            "questions": [read_question(n, a) for n, a in answers.items()],
        }
        for name, answers in [("Priya Shah", PRIYA), ("Tom Baker", TOM), ("Tom Baker", TOM_AGAIN)]
    ]
    openai_server.script(
        "PageExtraction", [{"json": page, "when": f"Page {n} of"} for n, page in enumerate(pages, start=1)]
    )
    client = api(personas.alpha, personas.bob)
    files = [sheet("s05_std05_dkg_p1.png"), sheet("s07_std07_dancing-script_p1.png"), sheet("s09_std09_kristi_p1.png")]
    extraction = _read(client, *files, standard_id=3, grade="true")
    _assert_three_learners_apart("alpha", extraction)
    grading = wait_for_job(extraction.result["grading_job_id"])
    assert grading.status == "completed", grading.error_message
    assert sorted(grading.result["submission_ids"]) == sorted(extraction.result["submission_ids"])
    assert extraction.result["held_for_review"] == []


def test_three_photographed_sheets_of_different_learners_are_three_submissions_read_offline(
    celery_worker, live_db, personas, api
):
    client = api(personas.beta, personas.charlie)  # beta reads and grades offline
    files = [
        sheet_photo("priya.jpg", "Priya Shah", PRIYA),
        sheet_photo("tom.jpg", "Tom Baker", TOM),
        sheet_photo("tom-again.jpg", "Tom Baker", TOM_AGAIN, turn=-1.5),
    ]
    extraction = _read(client, *files, timeout=300, standard_id=3, grade="true")
    assert extraction.result["provider"] == "local"
    _assert_three_learners_apart("beta", extraction)
    grading = wait_for_job(extraction.result["grading_job_id"], timeout=120)
    assert grading.status == "completed", grading.error_message
    assert len(grading.result["submission_ids"]) == 3


def test_a_page_whose_name_cannot_be_read_is_a_script_of_its_own_flagged_and_not_graded_with_the_openai_provider(
    celery_worker, live_db, personas, api, openai_server
):
    named = {
        "student_name": "Priya Shah",
        "standard": 3,
        "questions": [read_question(n, a) for n, a in PRIYA.items()],
    }
    nameless = named | {
        "student_name": None,
        "questions": [read_question(n, a) for n, a in TOM.items()],
    }
    openai_server.script(
        "PageExtraction", [{"json": named, "when": "Page 1 of"}, {"json": nameless, "when": "Page 2 of"}]
    )
    client = api(personas.alpha, personas.bob)
    extraction = _read(
        client, sheet("s05_std05_dkg_p1.png"), sheet("s05_std05_dkg_p2.png"), standard_id=3, grade="true"
    )
    priya, unknown = _submissions("alpha", extraction.result["submission_ids"])
    assert [s["flags"] for s in extraction.result["submissions"]] == [[], [LEARNER_NOT_IDENTIFIED]]
    assert extraction.result["held_for_review"] == [str(unknown.pk)]
    assert unknown.student is None and OWN_WORDS["tom"] <= _words(unknown) and not (_words(priya) & OWN_WORDS["tom"])
    grading = wait_for_job(extraction.result["grading_job_id"])
    assert grading.result["submission_ids"] == [str(priya.pk)], "the flagged script waits for a person"
    shown = client.get(f"/api/v1/submissions/{unknown.pk}").json()["data"]
    assert (shown["status"], shown["total_score"], shown["flags"]) == ("extracted", None, [LEARNER_NOT_IDENTIFIED])


def test_pages_that_are_not_a_readable_quiz_are_flagged_scripts_of_their_own_read_offline(
    celery_worker, live_db, personas, api
):
    client = api(personas.beta, personas.charlie)
    files = [
        sheet_photo("no-name.jpg", None, TOM),  # the name line left empty
        blank_photo("blank.jpg"),
        upside_down_photo("upside-down.jpg", "Priya Shah", PRIYA),
        not_a_quiz_photo("shopping.jpg"),
    ]
    extraction = _read(client, *files, timeout=300, standard_id=3, grade="true")
    scripts = _submissions("beta", extraction.result["submission_ids"])
    both = [LEARNER_NOT_IDENTIFIED, NO_QUESTIONS_FOUND]
    assert [s["flags"] for s in extraction.result["submissions"]] == [[LEARNER_NOT_IDENTIFIED], both, both, both]
    assert [s["pages"] for s in extraction.result["submissions"]] == [1, 1, 1, 1], "never merged"
    with schema_context("beta"):
        assert sorted(scripts[0].questions.values_list("number", flat=True)) == [1, 2, 3]
        assert OWN_WORDS["tom"] <= _words(scripts[0])
        assert [s.questions.count() for s in scripts[1:]] == [0, 0, 0]
    assert extraction.result["grading_job_id"] is None, "nothing here can be graded before a person looks"
    assert extraction.result["held_for_review"] == extraction.result["submission_ids"]
    with schema_context("beta"):
        rows = Submission.objects.filter(pk__in=extraction.result["submission_ids"]).values_list(
            "status", "total_score"
        )
        assert set(rows) == {("extracted", None)}, "no score for anything"
