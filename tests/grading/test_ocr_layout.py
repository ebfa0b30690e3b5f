"""Where the offline reader finds the questions, the name and the standard on the text lines OCR read
(`grading.providers.ocr_layout`), with what OCR does to printed labels: "Q1." read as Ql, QI, Q|, QZ, O1, 0.1; a
number lost altogether (found by the mark scheme's question text); "Name:" read as "Narne;"."""

from __future__ import annotations

import pytest

from grading.providers.ocr_layout import read_header, split_questions
from grading.providers.ocr_lines import Box, Line

SCHEME = {
    1: "What does duty of care mean?",
    2: "Give an example of a dilemma between a person's rights and your duty of care.",
    3: "What should you do if someone makes a complaint to you?",
    4: "What is active participation?",
}


def lines(*texts: str) -> list[Line]:
    """Text lines, 40 px apart (far enough that no line is taken for a wrapped question)."""
    return [Line([Box(100, 100 + 80 * i, 900, 130 + 80 * i)], text, 0.9) for i, text in enumerate(texts)]


def found(questions) -> list[tuple[int, str]]:
    return [(q.number, q.answer) for q in questions]


@pytest.mark.parametrize(
    ("one", "two", "three"),
    [
        ("Q1. What does duty of care mean?", "Q2. Give an example", "Q3. What should you do"),
        ("Ql. What does duty of care mean?", "QZ. Give an example", "Q3, What should you do"),
        ("QI. What does duty of care mean?", "Q2: Give an example", "O3. What should you do"),
        ("Q|. What does duty of care mean?", "Q 2 Give an example", "03. What should you do"),
        ("O1. What does duty of care mean?", "2) Give an example", "Q3 What should you do"),
        ("0.1 What does duty of care mean?", "Question 2: Give an example", "3. What should you do"),
    ],
)
def test_question_numbers_are_found_through_what_ocr_does_to_them(one, two, three):
    page = lines(one, "Keeping people safe.", two, "Refusing medicine.", three, "Tell my manager.")
    assert found(split_questions(page)) == [
        (1, "Keeping people safe."),
        (2, "Refusing medicine."),
        (3, "Tell my manager."),
    ]


def test_words_that_look_like_numbers_do_not_open_a_question():
    page = lines("1. What does duty of care mean?", "I. think it is safety.", "Oil the hoist.", "Is it care?")
    assert found(split_questions(page)) == [(1, "I. think it is safety. Oil the hoist. Is it care?")]


def test_with_the_mark_scheme_a_question_whose_number_was_lost_is_found_by_its_printed_text():
    page = lines(
        "Care Certificate Quiz",
        "Standard 3: Duty of care",
        "Name: Priya Shah",
        "What does duty of care mean?",  # the "1." was not read at all
        "Keeping people safe.",
        "Q2. Give an example of a dilemma between a person's rights and your duty of care.",
        "Refusing medicine.",
        "What should you do if someone makes a complaint to you?",
        "Tell my manager.",
        "What is active participation?",  # a short question: two words, both its own
        "Taking part in their own care.",
    )
    assert found(split_questions(page)) == [
        (
            2,
            "Refusing medicine. What should you do if someone makes a complaint to you? Tell my manager. What is "
            "active participation? Taking part in their own care.",
        )
    ], "without the scheme only printed numbers open a question"
    assert found(split_questions(page, SCHEME)) == [
        (1, "Keeping people safe."),
        (2, "Refusing medicine."),
        (3, "Tell my manager."),
        (4, "Taking part in their own care."),
    ]


def test_an_answer_that_repeats_a_questions_words_does_not_open_it_when_its_number_is_printed():
    page = lines(
        "1. What does duty of care mean?",
        "It is what you should do if someone makes a complaint to you, I think.",  # question 3's words
        "3. What should you do if someone makes a complaint to you?",
        "Tell my manager.",
    )
    assert found(split_questions(page, SCHEME)) == [
        (1, "It is what you should do if someone makes a complaint to you, I think."),
        (3, "Tell my manager."),
    ]


def test_with_the_mark_scheme_a_learners_numbered_list_is_not_taken_for_the_next_question():
    page = lines(
        "1. What does duty of care mean?",
        "Three things:",
        "2. wearing gloves and aprons always",  # shares nothing with the scheme's question 2
        "2. Give an example of a dilemma between a person's rights and your duty of care.",
        "Refusing medicine.",
    )
    assert found(split_questions(page, SCHEME)) == [
        (1, "Three things: 2. wearing gloves and aprons always"),
        (2, "Refusing medicine."),
    ]
    assert found(split_questions(page))[0] == (1, "Three things:"), "without the scheme the list item is taken"


@pytest.mark.parametrize(
    ("name_line", "standard_line", "name", "standard"),
    [
        ("Name: Priya Shah", "Standard 3: Duty of care", "Priya Shah", 3),
        ("Narne: Priya Shah", "Stardard 3: Duty of care", "Priya Shah", 3),
        ("Nane; Tom Baker", "5tandard l1: Safeguarding", "Tom Baker", 11),
        ("Name Tom Baker", "Standand 12: Health", "Tom Baker", 12),
        ("Name:", "Standard 3", None, 3),
        ("Name three ways to stay safe.", "Care Certificate Quiz", None, None),
    ],
)
def test_the_name_and_standard_lines_are_read_through_ocr_damage(name_line, standard_line, name, standard):
    assert read_header(lines("Care Certificate Quiz", standard_line, name_line)) == (name, standard)


def tight(*texts: str) -> list[Line]:
    """Text lines 35 px tall, 10 px apart: close enough for a printed question wrapping onto its second line."""
    return [Line([Box(100, 100 + 45 * i, 900, 135 + 45 * i)], text, 0.9) for i, text in enumerate(texts)]


def test_a_printed_question_wraps_onto_a_tight_line_until_its_question_mark():
    page = tight("1. Give an example of a dilemma between a person's rights", "and your duty of care?", "Refusing tea.")
    assert [(q.question, q.answer) for q in split_questions(page)] == [
        ("Give an example of a dilemma between a person's rights and your duty of care?", "Refusing tea.")
    ]


def test_a_printed_question_that_ends_in_a_full_stop_does_not_take_the_answer_just_below_it():
    page = tight("1. List four signs of dehydration.", "Being hungry.", "2. Describe how to wash hands.", "Wet.")
    assert [(q.number, q.question, q.answer) for q in split_questions(page)] == [
        (1, "List four signs of dehydration.", "Being hungry."),
        (2, "Describe how to wash hands.", "Wet."),
    ]
