"""Marking by the mark scheme's points, offline: for each marking point, whether the answer makes it and which of
its sentences does.

A point is met when at least half of its statement's content words (stemmed, with care synonyms and acronyms,
negations kept apart: "not a friendship" never matches "a friendship") are in the answer, its words spelling-
corrected towards the reference material so OCR slips still count. The quote is the answer's sentence holding most
of them. Sentences addressed to the marker are removed first and cap the confidence, so a person reviews it.
"""

from __future__ import annotations

from dataclasses import dataclass

from grading.providers.local_grading.marking import (
    _ANSWER_SENTENCE_RE,
    INJECTION_CONFIDENCE_CAP,
    LONG_ANSWER_CONFIDENCE_CAP,
    LONG_ANSWER_TERMS,
    _strip_instructions,
    _term_matches,
)
from grading.providers.local_grading.reference import _reference
from grading.providers.local_grading.words import content_stems, raw_words

MET_COVERAGE = 0.5
BASE_CONFIDENCE = 0.5
CONFIDENCE_RANGE = 0.45


@dataclass(frozen=True)
class PointJudgement:
    met: bool
    quote: str
    coverage: float


@dataclass(frozen=True)
class PointsJudgement:
    points: list[PointJudgement]
    confidence: float
    instruction_attempt: bool


def _statement_stems(statement: str) -> list[str]:
    return list(dict.fromkeys(content_stems(raw_words(statement))))


def judge_points(answer: str, statements: list[str], reference_text: str) -> PointsJudgement:
    """Each statement's decision for ``answer``, in order, with a confidence for the whole question."""
    reference = _reference(reference_text)
    cleaned, injected = _strip_instructions(answer or "")
    sentences = [s.strip() for s in _ANSWER_SENTENCE_RE.split(cleaned) if s.strip()]
    terms = [set(content_stems(reference.answer_words(s))) for s in sentences]
    everything = set().union(*terms) if terms else set()
    judged, decisiveness = [], []
    for statement in statements:
        stems = _statement_stems(statement)
        found = [s for s in stems if _term_matches(s, everything)]
        coverage = len(found) / len(stems) if stems else 0.0
        met = bool(stems) and coverage >= MET_COVERAGE
        quote = ""
        if met:
            best = max(range(len(sentences)), key=lambda i: sum(1 for s in stems if _term_matches(s, terms[i])))
            quote = sentences[best]
        judged.append(PointJudgement(met=met, quote=quote, coverage=coverage))
        decisiveness.append(abs(coverage - MET_COVERAGE) / MET_COVERAGE if stems else 0.0)
    share = sum(decisiveness) / len(decisiveness) if decisiveness else 0.0
    confidence = BASE_CONFIDENCE + CONFIDENCE_RANGE * min(1.0, share)
    if len(everything) > LONG_ANSWER_TERMS:  # a long answer can make points by listing words
        confidence = min(confidence, LONG_ANSWER_CONFIDENCE_CAP)
    if injected:
        confidence = min(confidence, INJECTION_CONFIDENCE_CAP)
    return PointsJudgement(points=judged, confidence=round(confidence, 2), instruction_attempt=injected)
