"""How a batch of read pages becomes one script per learner (`group_into_scripts`), pinned as the rule is today:
a new script starts at the first page, at every PDF file, at a photo after a PDF, when the written name changes, and
on a page with no name whose question numbers start again. (The offline-reading issue changes this rule; these tests
pin whichever rule is current.)"""

from __future__ import annotations

from grading.pages import PageSource
from grading.providers.schemas import ExtractedQuestion, PageExtraction, PageResult
from grading.reading import group_into_scripts

PHOTO = {"content_type": "image/png"}
PDF = {"content_type": "application/pdf"}


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
    scripts = group_into_scripts(pages, [PHOTO] * 4)
    assert shape(scripts) == [("Jane Doe", [1, 2]), ("Sam Lee", [3]), ("Ali Khan", [4])]
    assert [s.standard for s in scripts] == [3, None, None]
    assert [s.last_question for s in scripts] == [3, 2, 1]


def test_two_pages_of_one_learner_are_one_script_whatever_the_spacing_and_case_of_the_name():
    pages = [read(1, "  jane   doe. ", [1, 2]), read(2, "JANE DOE", [3, 4], standard=5)]
    [script] = group_into_scripts(pages, [PHOTO] * 2)
    assert shape([script]) == [("Jane Doe", [1, 2])]
    assert script.standard == 5, "the standard is taken from the first page that shows one"
    assert script.last_question == 4


def test_a_page_without_a_name_continues_the_learner_before_it():
    pages = [read(1, "Jane Doe", [1, 2]), read(2, None, [3, 4]), read(3, "", [5])]
    assert shape(group_into_scripts(pages, [PHOTO] * 3)) == [("Jane Doe", [1, 2, 3])]


def test_a_page_without_a_name_whose_questions_start_again_is_another_learner():
    pages = [read(1, "Jane Doe", [1, 2, 3]), read(2, None, [1, 2]), read(3, None, [3])]
    assert shape(group_into_scripts(pages, [PHOTO] * 3)) == [("Jane Doe", [1]), ("", [2, 3])]


def test_a_first_page_without_a_name_takes_the_name_written_on_a_later_page():
    pages = [read(1, None, [1, 2]), read(2, "Sam Lee", [3])]
    assert shape(group_into_scripts(pages, [PHOTO] * 2)) == [("Sam Lee", [1, 2])]


def test_a_second_attempt_under_the_same_name_is_folded_into_the_first_script():
    # Pinned as it is today: with a name on the page, question numbers that start again do not start a new script
    # (the answers to the same question number are then joined when saved; see test_pipeline_steps).
    pages = [read(1, "Jane Doe", [1, 2, 3]), read(2, "Jane Doe", [1, 2, 3])]
    assert shape(group_into_scripts(pages, [PHOTO] * 2)) == [("Jane Doe", [1, 2])]


def test_an_unreadable_page_stays_with_the_learner_before_it():
    pages = [read(1, "Jane Doe", [1]), unreadable(2), read(3, None, [2])]
    assert shape(group_into_scripts(pages, [PHOTO] * 3)) == [("Jane Doe", [1, 2, 3])]


def test_a_pdf_of_several_learners_is_split_where_the_name_changes():
    pages = [
        read(1, "Jane Doe", [1, 2], file=0),
        read(2, None, [3], file=0),
        read(3, "Sam Lee", [1, 2], file=0),
        read(4, None, [1, 2], file=0),  # no name and the numbers start again: a third learner
    ]
    assert shape(group_into_scripts(pages, [PDF])) == [("Jane Doe", [1, 2]), ("Sam Lee", [3]), ("", [4])]


def test_each_pdf_file_starts_its_own_script_even_under_the_same_name():
    pages = [read(1, "Jane Doe", [1, 2], file=0), read(2, "Jane Doe", [3, 4], file=1)]
    assert shape(group_into_scripts(pages, [PDF, PDF])) == [("Jane Doe", [1]), ("Jane Doe", [2])]


def test_a_photo_after_a_pdf_starts_a_new_script_and_a_pdf_after_photos_too():
    pages = [
        read(1, "Jane Doe", [1, 2], file=0),
        read(2, "Jane Doe", [3], file=1),
        read(3, "Jane Doe", [4], file=2),
        read(4, "Jane Doe", [5], file=3),
    ]
    files = [PDF, PHOTO, PHOTO, PDF]
    assert shape(group_into_scripts(pages, files)) == [("Jane Doe", [1]), ("Jane Doe", [2, 3]), ("Jane Doe", [4])]


def test_nothing_read_is_no_script():
    assert group_into_scripts([], []) == []
