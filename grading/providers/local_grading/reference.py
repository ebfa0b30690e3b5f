"""The reference material prepared for grading: passages (one bullet or sentence each) under their outcome
headings, with BM25 statistics and a vocabulary."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from grading.providers.local_grading.vocabulary import ACRONYMS, QUESTION_WORDS, STOPWORDS, SYNONYMS
from grading.providers.local_grading.words import SpellingCorrector, content_stems, raw_words

# --------------------------------------------------------------------------------------
# Reference splitting
# --------------------------------------------------------------------------------------

_BULLET_RE = re.compile(r"^\s*(?:[\u2022\u25aa\u25cf\u25e6\u2023\u2043\u00b7*\-\u2013]|\(cid:\d+\))\s*")
_HEADING_RE = re.compile(r"^\s*(\d{1,2}\.\d{1,2})\s+([A-Z].*)$")
_TITLE_RE = re.compile(r"^\s*standard\s+\d+\s*[:\-]", re.IGNORECASE)
_PAGE_RE = re.compile(r"\bpage\s+\d+(\s+of\s+\d+)?\s*$", re.IGNORECASE)
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class Passage:
    text: str
    section: str  # outcome number such as "3.2", or "" outside any outcome
    heading: str
    group: str  # the section, or a unique "#n" for a passage outside any outcome

    @property
    def is_intro(self) -> bool:
        return not self.section


def _repeated_lines(lines: list[str]) -> set[str]:
    """Lines that recur with only their digits changed (page headers and footers)."""
    counts = Counter(re.sub(r"\d+", "#", line) for line in lines)
    return {shape for shape, count in counts.items() if count > 1 and len(shape) > 20}


def _clean_lines(reference_text: str) -> list[str]:
    lines = [line.strip() for line in reference_text.splitlines()]
    lines = [line for line in lines if line]
    repeated = _repeated_lines(lines)
    return [
        line
        for line in lines
        if re.sub(r"\d+", "#", line) not in repeated and not _PAGE_RE.search(line) and not _TITLE_RE.match(line)
    ]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text) if len(raw_words(s)) >= 3]


class _PassageBuilder:
    def __init__(self) -> None:
        self.passages: list[Passage] = []
        self.section = ""
        self.heading = ""
        self._buffer: list[str] = []
        self._bulleted = False

    def flush(self) -> None:
        text = re.sub(r"\s+", " ", " ".join(self._buffer)).strip()
        self._buffer = []
        if not text:
            return
        chunks = [text] if self._bulleted else _sentences(text)
        for chunk in chunks:
            group = self.section or f"#{len(self.passages)}"
            self.passages.append(Passage(chunk, self.section, self.heading, group))

    def add_line(self, line: str) -> None:
        heading = _HEADING_RE.match(line)
        if heading and not self._ends_open():
            self.flush()
            self.section, self.heading = heading.group(1), heading.group(2).strip()
            self._bulleted = False
            return
        bullet = _BULLET_RE.match(line)
        if bullet:
            self.flush()
            self._bulleted = True
            line = line[bullet.end() :]
        self._buffer.append(line)

    def _ends_open(self) -> bool:
        """True when the buffered text stops mid-sentence, so a numeric line continues it."""
        return bool(self._buffer) and not self._buffer[-1].rstrip().endswith((".", ":", "!", "?"))


def _build_passages(reference_text: str) -> list[Passage]:
    builder = _PassageBuilder()
    for line in _clean_lines(reference_text):
        builder.add_line(line)
    builder.flush()
    return builder.passages


def split_reference(reference_text: str) -> list[str]:
    """Key-point passages (one bullet or sentence each) from PDF text as pdfplumber extracts it."""
    return [passage.text for passage in _reference(reference_text).passages]


# --------------------------------------------------------------------------------------
# Prepared reference: passages, BM25 statistics, vocabulary
# --------------------------------------------------------------------------------------

BM25_K1 = 1.2
BM25_B = 0.5
HEADING_WEIGHT = 0.6
INTRO_WEIGHT = 0.5


@dataclass(frozen=True)
class _IndexedPassage:
    passage: Passage
    terms: Counter[str]
    length: int


class _Reference:
    def __init__(self, reference_text: str) -> None:
        self.passages = _build_passages(reference_text)
        vocabulary = Counter(raw_words(reference_text))
        for word in [*SYNONYMS, *ACRONYMS, *STOPWORDS, *QUESTION_WORDS]:
            vocabulary[word] += 1
        self.corrector = SpellingCorrector(vocabulary)
        self.indexed = [self._index(p) for p in self.passages]
        self.idf = self._idf()
        self.average_length = sum(i.length for i in self.indexed) / max(len(self.indexed), 1)

    @staticmethod
    def _index(passage: Passage) -> _IndexedPassage:
        terms = Counter(content_stems(raw_words(passage.text)))
        for term in set(content_stems(raw_words(passage.heading))):
            terms[term] += HEADING_WEIGHT
        return _IndexedPassage(passage, terms, sum(terms.values()))

    def _idf(self) -> dict[str, float]:
        document_frequency: Counter[str] = Counter()
        for indexed in self.indexed:
            document_frequency.update(set(indexed.terms))
        n = len(self.indexed)
        return {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}

    def term_idf(self, term: str) -> float:
        return self.idf.get(term, math.log(1 + (len(self.indexed) + 0.5) / 0.5))

    def bm25(self, query: dict[str, float], indexed: _IndexedPassage) -> float:
        norm = BM25_K1 * (1 - BM25_B + BM25_B * indexed.length / max(self.average_length, 1))
        score = 0.0
        for term in query.keys() & indexed.terms.keys():
            tf = indexed.terms[term]
            score += query[term] * self.idf[term] * tf * (BM25_K1 + 1) / (tf + norm)
        return score * (INTRO_WEIGHT if indexed.passage.is_intro else 1.0)

    def answer_words(self, text: str) -> list[str]:
        """Spelling-corrected answer words (OCR typos), then the originals that were changed."""
        words = raw_words(text)
        corrected = [self.corrector.correct(word) for word in words]
        return corrected + [w for w, c in zip(words, corrected, strict=True) if w != c]

    def knows(self, word: str) -> bool:
        return self.corrector.knows(word)

    def passages_in(self, groups: list[str]) -> list[Passage]:
        return [p for p in self.passages if p.group in groups]


@lru_cache(maxsize=64)
def _reference(reference_text: str) -> _Reference:
    return _Reference(reference_text)
