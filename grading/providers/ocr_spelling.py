"""Spelling correction of what the offline reader read, toward common English only.

The recogniser turns letters of a handwritten word into look-alikes ("relaticnship", "bcundaries", "erpleyer"). A
word that is not known (``ocr_legibility``'s rule) is replaced by the most frequent everyday English word one edit
from it, or, for a word of ``LONG_WORD`` letters or more, two edits (nearer beats more frequent). Everyday
English is pyspellchecker's frequency list, which ships inside its wheel, and nothing else: never the mark scheme's
words or the reference material's, so a correction can never turn a garbled word into a marking point the learner
did not write. A word with no such neighbour, or with a digit, or shorter than ``MIN_LENGTH``, is kept as read; so is
an answer that addresses the marker (``grading.providers.instructions``), whose noise the request finder expects.

Pure Python, no Django. Two edits are found as one edit of the word followed by one replaced letter, looked up in an
index of the everyday words under each one-letter wildcard (built once, like the word list).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from grading.providers import ocr_legibility
from grading.providers.instructions import addresses_the_marker

MIN_LENGTH = 3  # shorter words have too many neighbours to choose from
LONG_WORD = 8  # from this many letters a word may be two edits from its correction, else one
_TOKEN = re.compile(r"^([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)$")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@cache
def _one_letter_index() -> dict[str, list[str]]:
    """Everyday words of plain letters under each of their one-letter wildcards ("b?at" → boat, beat, ...)."""
    index: dict[str, list[str]] = {}
    for word in ocr_legibility.everyday_counts():
        if word.isascii() and word.isalpha():
            for i in range(len(word)):
                index.setdefault(f"{word[:i]}?{word[i + 1 :]}", []).append(word)
    return index


def _edits(word: str) -> set[str]:
    """Every string one edit from ``word``: a letter deleted, inserted or replaced, or two neighbours swapped."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {a + b[1:] for a, b in splits if b}
        | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
        | {a + c + b for a, b in splits for c in _LETTERS}
    ) - {word}


def _one_letter_off(words: Iterable[str]) -> set[str]:
    """Everyday words that are one of ``words`` with at most one letter replaced."""
    index = _one_letter_index()
    return {found for word in words for i in range(len(word)) for found in index.get(f"{word[:i]}?{word[i + 1 :]}", ())}


def nearest(word: str) -> str | None:
    """The most frequent everyday word one edit from ``word`` (lowercase letters), else, for a long word, two edits
    from it; None when there is none."""
    counts = ocr_legibility.everyday_counts()
    edits = _edits(word)
    candidates = [w for w in edits if w in counts]
    if not candidates and len(word) >= LONG_WORD:
        candidates = [w for w in _one_letter_off(edits) if w != word]
    return max(candidates, key=lambda w: (counts[w], w)) if candidates else None


def correct(answer: str, questions: Iterable[str] = ()) -> str:
    """``answer`` with each unknown word replaced by its nearest everyday word (capitalised as read); ``questions``:
    the scheme's question texts, whose words count as known (and are kept), as in ``ocr_legibility``."""
    if addresses_the_marker(answer):
        return answer  # kept as read, so the request is still found ("DUT" would become "BUT", "GRADER" "GRADE")
    questions = tuple(questions)
    out = []
    for token in answer.split(" "):
        match = _TOKEN.match(token)
        if match is None or len(match.group(2)) < MIN_LENGTH:
            out.append(token)
            continue
        before, word, after = match.groups()
        lower = word.lower()
        known, _ = ocr_legibility.known_words(lower, questions)
        replacement = None if known else nearest(lower)
        if replacement is None:
            out.append(token)
            continue
        if word.isupper() and len(word) > 1:
            replacement = replacement.upper()
        elif word[0].isupper():
            replacement = replacement.capitalize()
        out.append(f"{before}{replacement}{after}")
    return " ".join(out)


__all__ = ["LONG_WORD", "MIN_LENGTH", "correct", "nearest"]
