"""The offline reader's legibility rule (grading.providers.ocr_legibility): an answer whose words are mostly not words
goes to a person, however sure the recogniser was of its letters."""

from __future__ import annotations

import pytest

from grading.pages import PageSource
from grading.pipeline import hard_to_read
from grading.providers.local import LocalProvider
from grading.providers.ocr_legibility import MIN_KNOWN_SHARE, known_share, legibility
from tests.grading.photo_sheets import STANDARD_3, sheet_photo

# What the reader made of a narrow joined hand (scripts/measure_local_reading.py, dev part), with its confidence.
MISREAD = "A wrkingrelaticnshipis prefessicnal andhas bcundaries agreed ly ny erpleyer"


def test_a_well_read_answer_keeps_the_recognisers_confidence():
    assert legibility("Wash my hands first, store food in the fridge.", 0.93) == 0.93


def test_a_confident_misreading_falls_under_the_review_line_in_proportion_to_its_known_words():
    # 2 of 9 words known ("a", "agreed"; not "ly" nor "ny"): 0.4 x (2/9) / 0.62, cut to 3 places.
    assert known_share(MISREAD) == 2 / 9
    assert legibility(MISREAD, 0.84) == 0.143
    assert hard_to_read(legibility(MISREAD, 0.84))


def test_care_words_acronyms_and_numbers_are_known_though_no_everyday_list_has_them():
    assert known_share("GDPR, whistleblowing and person-centred care") == 1.0
    assert known_share("30 chest compressions to 2 rescue breaths, 30:2.") == 1.0
    assert known_share("THE DATA PROTECTiON ACT 2O18") == 1.0  # the zero read as a letter O


def test_the_mark_schemes_question_words_are_known():
    assert legibility("Wexham protocol", 0.9) == 0.322
    assert legibility("Wexham protocol", 0.9, ["What does the Wexham protocol say?"]) == 0.9


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("one two three four five qzx qzx qzx", 0.9),  # 5 of 8 known: 0.625, not under the share
        ("one two three qzx qzx", 0.387),  # 3 of 5: 0.6, under it
    ],
)
def test_the_line_falls_at_the_minimum_share_of_known_words(answer, expected):
    assert MIN_KNOWN_SHARE == 0.62
    assert legibility(answer, 0.9) == expected
    assert hard_to_read(legibility(answer, 0.9)) is (expected < 0.4)


def test_an_answer_with_no_word_keeps_the_confidence_and_a_low_confidence_stays_low():
    assert legibility("", 0.8) == 0.8
    assert legibility("Wash my hands first.", 0.3) == 0.3
    assert legibility("qzx", 1.7) == 0.0


class _Photo(PageSource):
    def __init__(self, data: bytes) -> None:
        super().__init__(number=1, file_index=0, path="sheet.jpg")
        self.data = data

    def read(self) -> bytes:
        return self.data


def test_the_offline_provider_sends_an_answer_read_as_non_words_to_review():
    photo = sheet_photo(
        "sheet.jpg",
        "Priya Shah",
        {
            1: "Doing what is right to keep people safe and well.",
            2: "Zorvik plandrex quimble vextor snarlow brindok.",
            3: "Listen to them and tell my manager.",
        },
    )
    result = LocalProvider().extract_page(_Photo(photo.read()), questions=STANDARD_3)
    assert [(q.number, hard_to_read(q.legibility)) for q in result.extraction.questions] == [
        (1, False),
        (2, True),
        (3, False),
    ]


def test_the_offline_provider_stores_the_answer_with_its_spelling_corrected():
    photo = sheet_photo(
        "sheet.jpg",
        "Priya Shah",
        {
            1: "Keep to the bcundaries my enpleyer sets.",
            2: "Respect their chcice but explain the risk.",
            3: "Listen calmly and tell my rnanager.",
        },
    )
    result = LocalProvider().extract_page(_Photo(photo.read()), questions=STANDARD_3)
    words = {q.number: set(q.answer.lower().strip(".").split()) for q in result.extraction.questions}
    assert {"boundaries", "employer"} <= words[1] and not {"bcundaries", "enpleyer"} & words[1]
    assert "choice" in words[2] and "manager" in words[3]
    assert not any(hard_to_read(q.legibility) for q in result.extraction.questions)
