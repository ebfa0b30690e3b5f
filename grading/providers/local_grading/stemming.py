"""Word stems for the offline grader: the Snowball English stemmer ("Porter2"), for the reference and the answers."""

from __future__ import annotations

import threading
from functools import lru_cache

import snowballstemmer

# A Snowball stemmer object keeps the word it is working on in itself (``current``, ``cursor``), so two threads
# stemming with one object corrupt each other's word (IndexError inside find_among_b, seen when a grading job marks
# several scripts at once on the threads pool). One object per thread; the cache below keeps repeated words cheap.
_local = threading.local()


def _english() -> snowballstemmer.stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """Stem of a lower-case word; numbers and short words are returned unchanged."""
    if len(word) <= 2 or not word.isalpha():
        return word
    return _english().stemWord(word)
