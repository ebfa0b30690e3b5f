"""A small, fast run of scripts/measure_local_reading.py: photographed handwritten sheets read by the local provider.

One hand from the dev part (the reader was tuned on it) and one from the held-back part (never tuned on), a good and
a poor sheet each, reported separately. The thresholds sit just under what these sheets measured, so a regression in
page clean-up, detection, recognition, word spacing or question finding fails here. Speed is measured by the script
(and BENCHMARKS.md), not asserted: wall-clock limits flake on a shared 2-core machine.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import measure_local_reading  # noqa: E402

# Measured on these four sheets on 2026-12-03 (BENCHMARKS.md has the whole set), with the spelling correction and the
# splitting of words run together (grading.providers.ocr_spelling): dev (breip, the hardest dev hand) 82 of 126 answer
# words = 0.651 (0.611 without the splitting, 0.437 without either), held-back (steve-hand) 60 of 101 = 0.594 (0.554,
# 0.406). Thresholds a little below.
MIN_RECALL = {"dev": 0.64, "held-back": 0.58}


@cache
def figures(part: str) -> measure_local_reading.Figures:
    return measure_local_reading.measure(part, limit=1)


@pytest.mark.parametrize("part", ["dev", "held-back"])
def test_most_answer_words_are_read(part):
    assert figures(part).recall >= MIN_RECALL[part]


@pytest.mark.parametrize("part", ["dev", "held-back"])
def test_every_question_is_found_on_both_sheets(part):
    assert (figures(part).all_found, figures(part).sheets) == (2, 2)


# (poorly read answers sent to review, poorly read answers, well-read ones sent there, well-read ones) on these sheets:
# the narrow hands are read poorly and every such answer must go to a person (grading.providers.ocr_legibility). The
# rule judges what the recogniser read, before spelling correction: the three dev answers "well read, sent" are three
# of the four it sends, which the correction (and, for one, the splitting of words run together) then brought over
# 60 % of their words (the same four went before either).
REVIEW = {"dev": (1, 1, 3, 5), "held-back": (3, 3, 0, 3)}


@pytest.mark.parametrize("part", ["dev", "held-back"])
def test_every_poorly_read_answer_goes_to_review(part):
    assert figures(part).review() == REVIEW[part]


@pytest.mark.parametrize("part", ["dev", "held-back"])
def test_the_good_sheet_outscores_the_poor_one(part):
    assert (figures(part).pairs_won, figures(part).pairs) == (1, 1)
