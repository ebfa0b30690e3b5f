"""Words of an answer or reference: tokens, OCR spelling correction, synonyms and content stems."""

from __future__ import annotations

import re
from collections import Counter

from grading.providers.local_grading.stemming import stem
from grading.providers.local_grading.vocabulary import ACRONYMS, NEGATED, NEGATIONS, STOPWORDS, SYNONYMS

# --------------------------------------------------------------------------------------
# Tokens and OCR spelling correction
# --------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def raw_words(text: str) -> list[str]:
    """Lower-case words with possessive 's removed (apostrophes in negations kept)."""
    words = _WORD_RE.findall(text.lower().replace("\u2019", "'"))
    return [w[:-2] if w.endswith("'s") else w for w in words]


def _deletes(word: str, depth: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _edit_distance(a: str, b: str, limit: int) -> int:
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _allowed_edits(word: str) -> int:
    if len(word) >= 8:
        return 2
    return 1 if len(word) >= 4 else 0


class SpellingCorrector:
    """Symmetric-delete corrector that maps OCR-damaged words onto a known vocabulary."""

    def __init__(self, vocabulary: Counter[str]) -> None:
        self._frequency = vocabulary
        self._index: dict[str, set[str]] = {}
        self._cache: dict[str, str] = {}
        for word in vocabulary:
            for variant in _deletes(word, _allowed_edits(word)):
                self._index.setdefault(variant, set()).add(word)

    def knows(self, word: str) -> bool:
        return word in self._frequency

    def correct(self, word: str) -> str:
        if word in self._frequency or not word.isalpha() or _allowed_edits(word) == 0:
            return word
        if word not in self._cache:
            self._cache[word] = self._best_candidate(word)
        return self._cache[word]

    def _best_candidate(self, word: str) -> str:
        limit = _allowed_edits(word)
        candidates: set[str] = set()
        for variant in _deletes(word, limit):
            candidates |= self._index.get(variant, set())
        ranked = sorted(
            (dist, -self._frequency[c], c)
            for c in candidates
            if (dist := _edit_distance(word, c, limit)) <= min(limit, _allowed_edits(c))
        )
        return ranked[0][2] if ranked else word


def canonical_words(word: str) -> list[str]:
    """Expand acronyms and map synonyms to the reference's words."""
    if word in ACRONYMS:
        return [word, *ACRONYMS[word].split()]
    if word in SYNONYMS:
        return SYNONYMS[word].split()
    return [word]


def content_stems(words: list[str], *, expand: bool = True) -> list[str]:
    """Stems of the content words, after synonym and (optionally) acronym expansion.

    The first content word after a negation is marked ("not breathing" gives "!breath"), so
    that an answer saying the opposite of the reference does not match it.
    """
    stems: list[str] = []
    negated = False
    for word in words:
        if word in NEGATIONS:
            negated = True
            continue
        mapped = canonical_words(word) if expand else SYNONYMS.get(word, word).split()
        content = [stem(w) for w in mapped if w not in STOPWORDS]
        if content and negated:
            content[0] = NEGATED + content[0]
            negated = False
        stems.extend(content)
    return stems
