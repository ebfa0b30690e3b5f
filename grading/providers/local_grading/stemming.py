"""Word stems for the offline grader: the Snowball English stemmer ("Porter2"), for the reference and the answers."""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

# One stemmer object per process; stemWord is pure, and the cache below keeps repeated words cheap.
_ENGLISH = snowballstemmer.stemmer("english")


@lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """Stem of a lower-case word; numbers and short words are returned unchanged."""
    if len(word) <= 2 or not word.isalpha():
        return word
    return _ENGLISH.stemWord(word)
