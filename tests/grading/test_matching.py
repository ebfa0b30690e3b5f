"""Matching transcribed answers to the mark scheme's questions: by printed number, by question text where the
number is missing from the scheme or wrong, and never an added question onto a scheme question."""

from __future__ import annotations

import json

from grading.matching import Printed, match_answers, similarity
from scripts.make_mark_schemes import SOURCE

STANDARDS = json.loads(SOURCE.read_text(encoding="utf-8"))
STD3 = {q["number"]: q["question"] for q in STANDARDS[2]["quiz"]}
ADDED = "Explain the main duties of the Care Act 2014 and the role of the local authority."


def test_answers_numbered_as_the_scheme_match_by_number():
    answers = [Printed(n, n, text) for n, text in STD3.items()]
    assert match_answers(answers, STD3) == {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}


def test_an_added_question_under_a_scheme_number_is_outside_the_scheme():
    answers = [Printed("a", 1, STD3[1]), Printed("b", 2, STD3[2]), Printed("c", 3, STD3[3]), Printed("d", 4, ADDED)]
    assert match_answers(answers, STD3) == {"a": 1, "b": 2, "c": 3, "d": None}


def test_an_added_question_numbered_beyond_the_scheme_is_outside_the_scheme():
    assert match_answers([Printed("x", 6, ADDED)], STD3) == {"x": None}


def test_a_wrong_number_is_corrected_by_the_question_text():
    answers = [Printed("a", 1, STD3[1]), Printed("b", 3, STD3[2]), Printed("c", 9, STD3[5])]
    assert match_answers(answers, STD3) == {"a": 1, "b": 2, "c": 5}


def test_an_unreadable_question_text_keeps_its_number():
    assert match_answers([Printed("a", 2, ""), Printed("b", 4, "[illegible]")], STD3) == {"a": 2, "b": 4}


def test_two_answers_never_share_a_question_the_better_worded_keeps_it():
    answers = [Printed("a", 2, ""), Printed("b", 2, STD3[2])]
    assert match_answers(answers, STD3) == {"a": None, "b": 2}


def test_ocr_slips_in_the_question_text_still_match():
    read = "Wht shoud you do if somone makes a complaint to you?"
    assert similarity(read, STD3[3]) >= 0.7
    assert match_answers([Printed("a", 7, read)], STD3) == {"a": 3}


def test_different_questions_of_every_shipped_quiz_never_look_like_the_same_question():
    for standard in STANDARDS:
        texts = [q["question"] for q in standard["quiz"]]
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                assert similarity(a, b) < 0.7, (standard["id"], a, b)


def test_two_swapped_numbers_are_put_right_by_their_texts_even_where_the_wording_overlaps():
    # Questions 1 and 2 share "duty of care" (similarity 0.44): each text still clearly belongs to the other number.
    answers = [Printed("a", 1, STD3[2]), Printed("b", 2, STD3[1])]
    assert match_answers(answers, STD3) == {"a": 2, "b": 1}


def test_a_printed_number_its_text_confirms_outranks_a_better_worded_stray():
    # "a" is numbered 3 and its (shortened) wording fits question 3 (0.4); "b" is numbered 9, not in the scheme, with
    # question 3's exact words. The printed, confirmed number keeps the question; the stray is outside the scheme.
    shortened = "What should you do about a complaint?"
    assert round(similarity(shortened, STD3[3]), 2) == 0.4
    answers = [Printed("b", 9, STD3[3]), Printed("a", 3, shortened)]
    assert match_answers(answers, STD3) == {"a": 3, "b": None}
