"""How a batch of read pages becomes one script per learner (`grading.grouping.group_into_scripts`): a page
continues the script before it only on positive evidence (its questions continue that script's, under no name or the
same name); anything else is a script of its own, and a script with no name is flagged "learner not identified"."""

from __future__ import annotations

from grading.grouping import LEARNER_NOT_IDENTIFIED, NO_QUESTIONS_FOUND, group_into_scripts, script_flags
from grading.pages import PageSource
from grading.providers.schemas import ExtractedQuestion, PageExtraction, PageResult


def read(number: int, name: str | None, questions: list[int], *, file: int | None = None, standard=None):
    """Page ``number`` (from file ``file``, by default its own photo), read with this name and question numbers."""
    extraction = PageExtraction(
        student_name=name,
        standard=standard,
        questions=[
            ExtractedQuestion(number=q, question=f"Question {q}?", answer=f"Answer {q}.", legibility=0.9)
            for q in questions
        ],
    )
    source = PageSource(number=number, file_index=number - 1 if file is None else file, path=f"p/{number}.png")
    return source, PageResult(extraction=extraction, source="vision")


def unreadable(number: int, *, file: int | None = None):
    source = PageSource(number=number, file_index=number - 1 if file is None else file, path=f"p/{number}.png")
    return source, PageResult(extraction=None, source="vision", error="This page could not be read automatically.")


def shape(scripts) -> list[tuple[str, list[int]]]:
    """Each script as (learner's name, its pages' numbers)."""
    return [(s.student_name, [source.number for source, _ in s.pages]) for s in scripts]


def test_several_learners_in_one_upload_are_one_script_each():
    pages = [
        read(1, "Jane Doe", [1, 2], standard=3),
        read(2, "Jane Doe", [3]),
        read(3, "Sam Lee", [1, 2]),
        read(4, "Ali Khan", [1]),
    ]
    scripts = group_into_scripts(pages)
    assert shape(scripts) == [("Jane Doe", [1, 2]), ("Sam Lee", [3]), ("Ali Khan", [4])]
    assert [s.standard for s in scripts] == [3, None, None]
    assert [s.last_question for s in scripts] == [3, 2, 1]


def test_two_pages_of_one_learner_page_two_unnamed_with_continuing_numbers_are_one_script():
    pages = [read(1, "  jane   doe. ", [1, 2]), read(2, None, [3, 4], standard=5), read(3, "", [5])]
    [script] = group_into_scripts(pages)
    assert shape([script]) == [("Jane Doe", [1, 2, 3])]
    assert script.standard == 5, "the standard is taken from the first page that shows one"
    assert script.last_question == 5


def test_a_second_page_under_the_same_name_whose_numbers_continue_is_the_same_script():
    pages = [read(1, "Jane Doe", [1, 2]), read(2, "JANE DOE", [3, 4])]
    assert shape(group_into_scripts(pages)) == [("Jane Doe", [1, 2])]


def test_a_page_without_a_name_whose_numbers_do_not_continue_is_a_script_of_its_own():
    pages = [
        read(1, "Jane Doe", [1, 2, 3]),
        read(2, None, [1, 2]),  # starts again: another learner
        read(3, None, [3]),  # continues page 2, not Jane
        read(4, None, [5]),  # skips question 4: no evidence it continues
        read(5, None, [2]),  # goes back
    ]
    assert shape(group_into_scripts(pages)) == [("Jane Doe", [1]), ("", [2, 3]), ("", [4]), ("", [5])]


def test_a_second_attempt_under_the_same_name_is_a_second_script():
    pages = [read(1, "Tom Baker", [1, 2, 3]), read(2, "Tom Baker", [1, 2, 3])]
    assert shape(group_into_scripts(pages)) == [("Tom Baker", [1]), ("Tom Baker", [2])]


def test_a_named_page_never_joins_an_unnamed_script_before_it():
    pages = [read(1, None, [1, 2]), read(2, "Sam Lee", [3])]
    assert shape(group_into_scripts(pages)) == [("", [1]), ("Sam Lee", [2])]


def test_an_unreadable_page_is_a_script_of_its_own_and_the_page_after_it_too():
    pages = [read(1, "Jane Doe", [1]), unreadable(2), read(3, None, [2])]
    assert shape(group_into_scripts(pages)) == [("Jane Doe", [1]), ("", [2]), ("", [3])]


def test_a_page_where_no_question_was_found_is_a_script_of_its_own():
    pages = [read(1, "Jane Doe", [1, 2]), read(2, None, []), read(3, "Jane Doe", [])]
    assert shape(group_into_scripts(pages)) == [("Jane Doe", [1]), ("", [2]), ("Jane Doe", [3])]


def test_with_the_mark_scheme_a_page_continues_at_the_schemes_next_question():
    # The scheme has no question 3: a page starting at 4 continues one that ended at 2.
    pages = [read(1, "Jane Doe", [1, 2]), read(2, None, [4, 5]), read(3, None, [7])]
    scripts = group_into_scripts(pages, [1, 2, 4, 5, 6])
    assert shape(scripts) == [("Jane Doe", [1, 2]), ("", [3])]
    assert shape(group_into_scripts(pages)) == [("Jane Doe", [1]), ("", [2]), ("", [3])], "without it: 3 is next"


def test_a_pdf_of_several_learners_is_split_at_each_learner():
    pages = [
        read(1, "Jane Doe", [1, 2], file=0),
        read(2, None, [3], file=0),
        read(3, "Sam Lee", [1, 2], file=0),
        read(4, None, [1, 2], file=0),  # no name and the numbers start again: a third learner, not identified
        read(5, "Sam Lee", [1], file=0),  # Sam's second attempt
    ]
    assert shape(group_into_scripts(pages)) == [
        ("Jane Doe", [1, 2]),
        ("Sam Lee", [3]),
        ("", [4]),
        ("Sam Lee", [5]),
    ]


def test_a_new_file_continues_only_on_the_same_evidence_as_a_page_of_the_same_file():
    pages = [read(1, "Jane Doe", [1, 2], file=0), read(2, None, [3], file=1), read(3, None, [1], file=2)]
    assert shape(group_into_scripts(pages)) == [("Jane Doe", [1, 2]), ("", [3])]


def test_a_script_without_a_name_or_without_questions_is_flagged_and_a_named_one_with_answers_is_not():
    assert script_flags(learner_known=True, question_count=3) == []
    assert script_flags(learner_known=False, question_count=3) == [LEARNER_NOT_IDENTIFIED]
    assert script_flags(learner_known=True, question_count=0) == [NO_QUESTIONS_FOUND]
    assert LEARNER_NOT_IDENTIFIED.startswith("Learner not identified:")


def test_nothing_read_is_no_script():
    assert group_into_scripts([]) == []
