"""How legible an answer read by the offline reader is: the one place that decides it (``legibility``).

The recogniser's own confidence says little on a narrow, joined hand: it turns the letters into other letters and is
sure of them ("A wrkingrelaticnshipis prefessicnal andhas bcundaries", confidence 0.84). What it reads there is
mostly not words. So an answer counts as hard to read when too few of its words are known: an English word of
everyday use (pyspellchecker's English frequency list, which ships inside its wheel), a word of the Care
Certificate's reference material (its shipped source, ``reference_pdfs/source/standards.json``), a care acronym or
synonym the offline grader knows, or a word of the mark scheme's questions. Numbers count as known ("30:2", "2O18").

Measured by ``scripts/measure_local_reading.py --verbose`` (BENCHMARKS.md): on the dev part the poorly read answers
had at most 59 % known words and the well-read ones at least 64 %; ``MIN_KNOWN_SHARE`` sits between them. Below it,
the legibility falls under the review line (``LOW_LEGIBILITY``) in proportion to the share, so the answer goes to a
person instead of being graded silently. The answer judged is the one the recogniser read, before the offline
provider corrects its spelling (``ocr_spelling``): a correction is a guess and makes no page easier to read (with the
words it made known counted even at half weight, poorly read held-back answers escaped review; BENCHMARKS.md).
Pure Python, no Django.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from grading.providers.local_grading.vocabulary import ACRONYMS, STOPWORDS, SYNONYMS
from grading.providers.schemas import LOW_LEGIBILITY

MIN_KNOWN_SHARE = 0.62  # fewer known words than this share: hard to read
EVERYDAY_USE = 1000  # a word seen at least this often in pyspellchecker's English list is an everyday word
REFERENCE_SOURCE = Path(__file__).resolve().parents[2] / "reference_pdfs" / "source" / "standards.json"

_NUMBER = re.compile(r"(?=.*\d)[\dol:.,/%£-]+")  # digits as OCR reads them ("2o18", "30:2")
_LETTERS = re.compile(r"[a-z]+")


@cache
def everyday_counts() -> dict[str, int]:
    """Everyday English words (lowercase) and how often pyspellchecker's list has seen each."""
    from spellchecker import SpellChecker

    frequencies = SpellChecker(language="en").word_frequency
    return {word: count for word, count in frequencies.items() if count >= EVERYDAY_USE}


@cache
def _everyday_words() -> frozenset[str]:
    return frozenset(everyday_counts())


@cache
def _care_words() -> frozenset[str]:
    """The reference material's words (titles, introductions, outcomes and quiz questions of the 15 standards) and
    the offline grader's care vocabulary."""
    texts = [*STOPWORDS, *ACRONYMS, *ACRONYMS.values(), *SYNONYMS, *SYNONYMS.values()]
    if REFERENCE_SOURCE.exists():
        for standard in json.loads(REFERENCE_SOURCE.read_text(encoding="utf-8")):
            texts += [standard["title"], standard["introduction"]]
            texts += [f"{o['heading']} {' '.join(o['points'])}" for o in standard["outcomes"]]
            texts += [q["question"] for q in standard["quiz"]]
    return frozenset(_LETTERS.findall(" ".join(texts).lower().replace("'", "")))


def _words(text: str) -> list[str]:
    """The answer's words, lowercase; a number (as OCR reads it) is "#"."""
    words = []
    for token in text.lower().replace("'", "").split():
        token = token.strip('.,;:!?"()[]-/&+*')
        if _NUMBER.fullmatch(token):
            words.append("#")
        else:
            words += _LETTERS.findall(token)
    return words


def _known(word: str, extra: frozenset[str]) -> bool:
    if word == "#":
        return True
    if len(word) == 1:
        return word in "ai"
    return word in _everyday_words() or word in _care_words() or word in extra


def known_words(answer: str, questions: Iterable[str] = ()) -> tuple[int, int]:
    """(how many of the answer's words are known, how many words it has); ``questions``: the mark scheme's question
    texts, whose words are known too."""
    words = _words(answer)
    extra = frozenset(_LETTERS.findall(" ".join(questions).lower().replace("'", "")))
    return sum(_known(w, extra) for w in words), len(words)


def known_share(answer: str, questions: Iterable[str] = ()) -> float | None:
    """The share of the answer's words that are known (None for an answer with no word)."""
    known, total = known_words(answer, questions)
    return known / total if total else None


def legibility(answer: str, confidence: float, questions: Iterable[str] = ()) -> float:
    """The answer's legibility, 0 to 1: the recogniser's confidence, under the review line when fewer than
    ``MIN_KNOWN_SHARE`` of its words are known (in proportion: no known word gives 0)."""
    confidence = max(0.0, min(1.0, confidence))
    share = known_share(answer, questions)
    if share is None or share >= MIN_KNOWN_SHARE:
        return confidence
    return min(confidence, math.floor(1000 * LOW_LEGIBILITY * share / MIN_KNOWN_SHARE) / 1000)  # never up to the line


__all__ = ["MIN_KNOWN_SHARE", "everyday_counts", "known_share", "known_words", "legibility"]
