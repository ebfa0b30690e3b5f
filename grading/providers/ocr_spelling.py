"""Spelling correction of what the offline reader read, toward common English only.

The recogniser turns letters of a handwritten word into look-alikes ("relaticnship", "bcundaries", "erpleyer"). A
word that is not known (``ocr_legibility``'s rule) is replaced by the most frequent everyday English word one edit
from it, or, for a word of ``LONG_WORD`` letters or more, two edits (nearer beats more frequent). Everyday
English is pyspellchecker's frequency list, which ships inside its wheel, and nothing else: never the mark scheme's
words or the reference material's, so a correction can never turn a garbled word into a marking point the learner
did not write. A word with no such neighbour, or with a digit, or shorter than ``MIN_LENGTH``, is kept as read; so is
an answer that addresses the marker (``grading.providers.instructions``), whose noise the request finder expects.

Words the recogniser ran together ("wrkingrelaticnshipis", its spaces lost) are split: an unknown word of
``MIN_MERGED`` letters or more with no near word is replaced by 2 to ``MAX_PIECES`` everyday words, each as read or
one edit from one, at least one as read (``split_merged``); a split that took fewer edits also beats a two-edit
correction ("pooRlighting" is "poor lighting", not "moonlighting"). Measured on the dev part of
``scripts/measure_local_reading.py`` (BENCHMARKS.md).

Pure Python, no Django. Two edits are found as one edit of the word followed by one replaced letter, looked up in an
index of the everyday words under each one-letter wildcard (built once, like the word list).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cache, lru_cache

from grading.providers import ocr_legibility
from grading.providers.instructions import addresses_the_marker

MIN_LENGTH = 3  # shorter words have too many neighbours to choose from
LONG_WORD = 8  # from this many letters a word may be two edits from its correction, else one
MIN_MERGED = 6  # an unknown word of this many letters that has no near word may be words run together
MAX_PIECES = 4  # ... of at most this many
MIN_CORRECTED_PIECE = 5  # a shorter piece must be an everyday word as read: too many words are one edit from "rcns"
COMMON_SHORT = 1_000_000  # a piece of two letters must be this common ("to", "is", "by"; not "de", "ya", "oh")
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


def _nearest(word: str) -> tuple[str, int] | None:
    """``nearest``'s word and how many edits it is from ``word`` (1 or 2)."""
    counts = ocr_legibility.everyday_counts()
    edits = _edits(word)
    candidates, distance = [w for w in edits if w in counts], 1
    if not candidates and len(word) >= LONG_WORD:
        candidates, distance = [w for w in _one_letter_off(edits) if w != word], 2
    return (max(candidates, key=lambda w: (counts[w], w)), distance) if candidates else None


def nearest(word: str) -> str | None:
    """The most frequent everyday word one edit from ``word`` (lowercase letters), else, for a long word, two edits
    from it; None when there is none."""
    found = _nearest(word)
    return found[0] if found else None


def _one_edit_off(word: str) -> set[str]:
    """The everyday words one edit from ``word``: ``_edits`` looked up through the wildcard index, one look-up a
    position instead of one a letter (a merged word has hundreds of pieces to try)."""
    counts, index = ocr_legibility.everyday_counts(), _one_letter_index()
    found = _one_letter_off([word])  # replaced
    found |= {w for i in range(len(word) + 1) for w in index.get(f"{word[:i]}?{word[i:]}", ())}  # inserted
    found |= {word[:i] + word[i + 1 :] for i in range(len(word))} & counts.keys()  # deleted
    found |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)} & counts.keys()
    return found - {word}


@lru_cache(maxsize=4096)
def _piece(piece: str) -> tuple[int, float, str] | None:
    """(edits, -log frequency, word) for one piece of a merged word: an everyday word as read (0 edits; a one-letter
    piece only "a" or "i", a two-letter one only a very common word), or the most frequent everyday word one edit from
    a piece of ``MIN_CORRECTED_PIECE`` letters or more (1 edit); None when it is neither."""
    counts = ocr_legibility.everyday_counts()
    if len(piece) == 1:
        return (0, -math.log(counts[piece]), piece) if piece in ("a", "i") else None
    if len(piece) == 2:
        return (0, -math.log(counts[piece]), piece) if counts.get(piece, 0) >= COMMON_SHORT else None
    if piece in counts:
        return 0, -math.log(counts[piece]), piece
    if len(piece) < MIN_CORRECTED_PIECE:
        return None
    candidates = _one_edit_off(piece)
    if not candidates:
        return None
    word = max(candidates, key=lambda w: (counts[w], w))
    return 1, -math.log(counts[word]), word


def _split(word: str) -> tuple[list[str], int] | None:
    """(the pieces, the edits they took) of ``split_merged``."""
    if len(word) < MIN_MERGED:
        return None
    # cheapest[k][end]: the cheapest cut of word[:end] into k pieces, as ((edits, -log frequency), the words).
    cheapest: list[dict[int, tuple[tuple[int, float], list[str]]]] = [{0: ((0, 0.0), [])}]
    while cheapest[-1]:  # any number of pieces: a cut of more than MAX_PIECES is no split, not a squeezed one
        k = len(cheapest)
        cheapest.append({})
        for start, ((edits, rarity), words) in cheapest[k - 1].items():
            for end in range(start + 1, len(word) + 1 if start else len(word)):  # not the whole word: nearest()'s
                piece = _piece(word[start:end])
                if piece is None:
                    continue
                cost = (edits + piece[0], rarity + piece[1])
                if end not in cheapest[k] or cost < cheapest[k][end][0]:
                    cheapest[k][end] = (cost, [*words, piece[2]])
    cuts = [(cut[0][0], k, cut[0][1], cut[1]) for k in range(2, len(cheapest)) if (cut := cheapest[k].get(len(word)))]
    cuts = [cut for cut in cuts if cut[0] < cut[1]]  # at least one piece as read
    if not cuts or min(cuts)[1] > MAX_PIECES:
        return None  # "itisnotmyjob" is five words: squeezed into four it reads "it i snotty job"
    edits, _, _, words = min(cuts)
    return words, edits


def split_merged(word: str) -> list[str] | None:
    """The everyday words an unknown ``word`` (lowercase letters, ``MIN_MERGED`` or more) is made of, when the
    recogniser lost the spaces between 2 to ``MAX_PIECES`` of them ("wrkingrelaticnship" → working, relationship):
    each piece an everyday word as read or one edit from one (``_piece``), and at least one piece as read (a cut
    made only of guesses is "piece cares" for "precechres"). Of the ways to cut it, the one with fewest edits, then
    fewest pieces, then the most frequent words wins ("takecareofthem" is "take care of them", not "take care them"
    with two edits): a dynamic programme over the cut points and the number of pieces (the costs add, so the
    cheapest cut of each prefix into k pieces is enough). None when no cut does."""
    found = _split(word)
    return found[0] if found else None


def _cased(replacement: str, word: str) -> str:
    """``replacement`` in the case ``word`` was read in (all capitals, or a capital first letter)."""
    if word.isupper() and len(word) > 1:
        return replacement.upper()
    return replacement[0].upper() + replacement[1:] if word[0].isupper() else replacement


def _misspelt(word: str, questions: tuple[str, ...]) -> bool:
    """Whether ``word`` is one edit from a word the legibility rule knows (everyday ones were tried already): a care
    word misspelt ("safegaurding") is kept as read, not cut into everyday words ("safe guarding")."""
    return ocr_legibility.known_words(" ".join(_edits(word)), questions)[0] > 0


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
        replacement = None if known else _nearest(lower)
        if not known and (replacement is None or replacement[1] > 1):
            # Words run together, or a longer word two edits off: the split wins if it took fewer edits
            # ("pooRlighting" is "poor lighting", no edit, not "moonlighting", two).
            pieces = None if _misspelt(lower, questions) else _split(lower)
            if pieces and (replacement is None or pieces[1] < replacement[1]):
                replacement = (" ".join(pieces[0]), pieces[1])
        if replacement is None:
            out.append(token)
            continue
        out.append(f"{before}{_cased(replacement[0], word)}{after}")
    return " ".join(out)


__all__ = ["LONG_WORD", "MAX_PIECES", "MIN_LENGTH", "MIN_MERGED", "correct", "nearest", "split_merged"]
