"""Marking an answer against the reference: key points, question analysis, passage choice, matching, confidence
and feedback."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from grading.providers.instructions import split_instructions
from grading.providers.local_grading.reference import Passage, _Reference
from grading.providers.local_grading.vocabulary import NEGATED, NEGATIONS, NUMBER_WORDS, QUESTION_WORDS
from grading.providers.local_grading.words import content_stems, raw_words

# --------------------------------------------------------------------------------------
# Key points
# --------------------------------------------------------------------------------------

_CLAUSE_SPLIT_RE = re.compile(
    r"[,;:()]|\s(?:and|or|but|then|while|because|so that|including|such as|includes?|like|"
    r"unless|until|which|who|with)\s",
    re.IGNORECASE,
)
MAX_LABEL_WORDS = 8
ECHO_WEIGHT = 0.15


@dataclass(frozen=True)
class KeyPoint:
    """A short phrase from the reference; ``weights`` maps each stem to its importance."""

    label: str
    weights: dict[str, float]
    relevance: float  # how relevant the passage it comes from is to the question

    @property
    def stems(self) -> frozenset[str]:
        return frozenset(self.weights)

    @property
    def weight(self) -> float:
        return sum(self.weights.values())


@lru_cache(maxsize=4096)
def _label(fragment: str, key_stems: frozenset[str]) -> str:
    """The shortest run of the fragment's words that holds its key stems (at most 8 words)."""
    words = fragment.split()
    plain = {s.lstrip(NEGATED) for s in key_stems}
    marks = [bool(set(content_stems(raw_words(w))) & plain) for w in words]
    if not any(marks):
        return fragment.strip(" .,;:")
    first = marks.index(True)
    last = len(marks) - 1 - marks[::-1].index(True)
    if first > 0 and words[first - 1].lower() in NEGATIONS:
        first -= 1
    span = words[first : last + 1][:MAX_LABEL_WORDS]
    return " ".join(span).strip(" .,;:")


def _fragment_points(passage: Passage, question: _Question, reference: _Reference) -> list[KeyPoint]:
    """Clauses and list items of a passage; words the question already uses count little."""
    points: list[KeyPoint] = []
    for fragment in _CLAUSE_SPLIT_RE.split(passage.text):
        stems = set(content_stems(raw_words(fragment)))
        new = frozenset(stems - question.echoed)
        if not new:
            continue
        weights = {s: reference.term_idf(s) * (ECHO_WEIGHT if s in question.echoed else 1.0) for s in stems}
        points.append(KeyPoint(_label(fragment, new), weights, question.relevance.get(passage, 0.0)))
    return points


def _dedupe(points: list[KeyPoint]) -> list[KeyPoint]:
    """Drop points with exactly the same words (the same fact stated twice)."""
    seen: list[frozenset[str]] = []
    unique: list[KeyPoint] = []
    for point in points:
        if any(point.stems == other for other in seen):
            continue
        seen.append(point.stems)
        unique.append(point)
    return unique


# --------------------------------------------------------------------------------------
# Question analysis and passage selection
# --------------------------------------------------------------------------------------

SECTION_SHARE = 0.6
MAX_SECTIONS = 2
ALTERNATIVE_SHARE = 0.3
MAX_ALTERNATIVES = 3
SECTION_DECAY = (1.0, 0.5, 0.25)
CORRECTED_QUERY_WEIGHT = 0.6


def _question_terms(question_words: list[str], weight: float = 1.0) -> dict[str, float]:
    """Query term weights; an acronym and its expansion share the weight of one word."""
    weights: dict[str, float] = {}
    for word in question_words:
        if word in QUESTION_WORDS:
            continue
        stems = content_stems([word])
        for term in stems:
            weights[term] = max(weights.get(term, 0.0), weight / len(stems))
    return weights


def _echoed_terms(question_words: list[str]) -> set[str]:
    """Question words, which earn little credit when an answer repeats them.

    Acronyms stay unexpanded, so "What does COSHH stand for?" still credits the expansion.
    """
    return set(content_stems(question_words, expand=False))


def _requested_count(question_words: list[str]) -> int | None:
    for word in question_words:
        if word in NUMBER_WORDS:
            return NUMBER_WORDS[word]
        if word.isdigit() and 2 <= int(word) <= 6:
            return int(word)
    return None


@dataclass(frozen=True)
class _Question:
    """What the grader needs to know about the question."""

    echoed: set[str]  # words of the question itself
    relevance: dict[Passage, float]  # BM25 relevance of each passage that matches at all
    ranking: list[tuple[str, float]]  # outcome groups, most relevant first
    requested: int | None  # "list four ..." asks for 4 points


def _analyse_question(question_words: list[str], reference: _Reference) -> _Question:
    """Rank the reference for the question. The question may come from OCR too, so unknown
    words also count in their spelling-corrected form, at a lower weight."""
    corrected = [reference.corrector.correct(w) for w in question_words]
    query = _question_terms(corrected, CORRECTED_QUERY_WEIGHT) | _question_terms(question_words)
    relevance = {i.passage: score for i in reference.indexed if (score := reference.bm25(query, i)) > 0}
    echoed = _echoed_terms(question_words) | _echoed_terms(corrected)
    return _Question(echoed, relevance, _rank_groups(relevance), _requested_count(question_words))


def _rank_groups(relevance: dict[Passage, float]) -> list[tuple[str, float]]:
    """Outcomes by relevance to the question: best passage plus a decaying share of the next two.

    Passages outside any numbered outcome (introductions, unstructured text) rank on their own.
    """
    by_group: dict[str, list[float]] = {}
    for passage, score in relevance.items():
        by_group.setdefault(passage.group, []).append(score)
    ranked = {
        group: sum(w * s for w, s in zip(SECTION_DECAY, sorted(scores, reverse=True), strict=False))
        for group, scores in by_group.items()
    }
    return sorted(ranked.items(), key=lambda item: -item[1])


# --------------------------------------------------------------------------------------
# Answer analysis
# --------------------------------------------------------------------------------------

_ANSWER_SENTENCE_RE = re.compile(r"(?<=[.!?;\n])\s*")
_NO_ATTEMPT_RE = re.compile(
    r"\[?\b(illegible|unreadable|blank|no answer|(i )?(don'?t|do not) know|not sure|no idea|dunno)"
    r"\b\]?",
    re.IGNORECASE,
)


def _strip_instructions(answer: str) -> tuple[str, bool]:
    """Remove sentences addressed to the marker (the rule: grading.providers.instructions); report whether there were
    any."""
    return split_instructions(answer)


def _is_blank(answer: str) -> bool:
    """Nothing written, or only a note that it is blank, illegible or not known."""
    remainder = _NO_ATTEMPT_RE.sub(" ", answer)
    return not any(len(w) >= 2 or w.isdigit() for w in raw_words(remainder))


_WORD_LIKE_RE = re.compile(r"^(?=.*[aeiouy])(?!.*[bcdfghjklmnpqrstvwxz]{5})(?!.*(.)\1\1)[a-z']+$")


def _looks_illegible(words: list[str], reference: _Reference) -> bool:
    """OCR noise rather than an attempt at an answer: no known word and mostly non-words."""
    if any(reference.knows(w) or reference.corrector.correct(w) != w for w in words):
        return False
    word_like = sum(1 for w in words if _WORD_LIKE_RE.match(w))
    return word_like * 2 < len(words)


# --------------------------------------------------------------------------------------
# Matching and scoring
# --------------------------------------------------------------------------------------

FULL_CREDIT_COVERAGE = 0.7
MIN_COVERAGE = 0.1
PREFIX_MATCH_MIN = 6
COVERED_CREDIT = 0.5
ALTERNATIVE_GAIN = 0.75
ALTERNATIVE_NEW_TERMS = 2


def _term_matches(term: str, answer_terms: set[str]) -> bool:
    if term in answer_terms:
        return True
    if len(term) < PREFIX_MATCH_MIN:
        return False
    return any(len(a) >= PREFIX_MATCH_MIN and (a.startswith(term) or term.startswith(a)) for a in answer_terms)


def _point_credit(point: KeyPoint, matched: set[str]) -> float:
    """Share of the point's (idf-weighted) words found in the answer, scaled to 0..1."""
    coverage = sum(point.weights[s] for s in matched) / point.weight if point.weight else 0.0
    ramp = (coverage - MIN_COVERAGE) / (FULL_CREDIT_COVERAGE - MIN_COVERAGE)
    return max(0.0, min(1.0, ramp))


def _credit_points(points: list[KeyPoint], answer_terms: set[str]) -> list[float]:
    """Credit per key point; each answer word counts towards one point only."""
    matches = [{s for s in p.stems if _term_matches(s, answer_terms)} for p in points]
    order = sorted(range(len(points)), key=lambda n: -_point_credit(points[n], matches[n]))
    credits = [0.0] * len(points)
    used: set[str] = set()
    for n in order:
        fresh = matches[n] - used
        credits[n] = _point_credit(points[n], fresh)
        if credits[n] > 0:
            used |= fresh
    return credits


@dataclass(frozen=True)
class _Marking:
    """The key points of some outcomes and how much of each the answer covers."""

    groups: list[str]
    points: list[KeyPoint]
    credits: list[float]

    @property
    def total(self) -> float:
        return sum(self.credits)

    def covered(self) -> list[str]:
        return [p.label for p, c in zip(self.points, self.credits, strict=True) if c >= COVERED_CREDIT]

    def missed(self) -> list[str]:
        missed = [p for p, c in zip(self.points, self.credits, strict=True) if c < COVERED_CREDIT]
        return [p.label for p in sorted(missed, key=lambda p: (-p.relevance, -p.weight))]

    def point_stems(self) -> set[str]:
        return {s for p in self.points for s in p.stems}


def _mark(groups: list[str], reference: _Reference, question: _Question, answer_terms: set[str]) -> _Marking:
    passages = reference.passages_in(groups)
    points = _dedupe([p for passage in passages for p in _fragment_points(passage, question, reference)])
    return _Marking(groups, points, _credit_points(points, answer_terms))


def _best_marking(reference: _Reference, question: _Question, answer_terms: set[str]) -> tuple[_Marking, bool]:
    """Mark against the most relevant outcome(s); if the answer clearly draws on another
    outcome that is also relevant to the question, include that one too.

    Returns the marking and whether the answer, rather than the question, chose an outcome.
    """
    ranking = question.ranking
    top = ranking[0][1]
    groups = [g for g, score in ranking[:MAX_SECTIONS] if score >= SECTION_SHARE * top]
    marking = _mark(groups, reference, question, answer_terms)
    alternatives = [g for g, score in ranking[len(groups) :] if score >= ALTERNATIVE_SHARE * top][:MAX_ALTERNATIVES]
    explained = _matched_terms(answer_terms, marking)
    best, answer_led = marking, False
    for group in alternatives:
        candidate = _mark([*groups, group], reference, question, answer_terms)
        fresh = _matched_terms(answer_terms, candidate) - explained
        if len(fresh) >= ALTERNATIVE_NEW_TERMS and candidate.total >= best.total + ALTERNATIVE_GAIN:
            best, answer_led = candidate, True
    return best, answer_led


def _matched_terms(answer_terms: set[str], marking: _Marking) -> set[str]:
    """Answer words that belong to the marking's key points."""
    expected = marking.point_stems()
    return {t for t in answer_terms if _term_matches(t, expected)}


def _target_points(points: list[KeyPoint], requested: int | None, max_score: float) -> float:
    """Points needed for full marks: the number asked for, else about one per mark."""
    wanted = requested or max(1, math.ceil(max_score))
    return float(min(wanted, len(points)))


def _round_half(value: float) -> float:
    return math.floor(value * 2 + 0.5) / 2


# --------------------------------------------------------------------------------------
# Confidence and feedback
# --------------------------------------------------------------------------------------

INJECTION_CONFIDENCE_CAP = 0.35
LONG_ANSWER_TERMS = 60
LONG_ANSWER_CONFIDENCE_CAP = 0.45
ANSWER_LED_PENALTY = 0.1
MIN_CONFIDENCE = 0.05
MAX_CONFIDENCE = 0.97
STRONG_RELEVANCE = 6.0


def _relevance(ranking: list[tuple[str, float]], used_groups: list[str]) -> float:
    """How clearly the question points at the outcomes used: strength and margin."""
    top = ranking[0][1]
    runner_up = next((score for g, score in ranking if g not in used_groups), 0.0)
    strength = min(1.0, top / STRONG_RELEVANCE)
    margin = (top - runner_up) / top
    return 0.5 * strength + 0.5 * (0.3 + 0.7 * margin)


def _confidence(relevance: float, fraction: float, answer_terms: set[str], on_topic: float) -> float:
    decisiveness = abs(2 * fraction - 1)
    length = min(1.0, len(answer_terms) / 4)
    value = 0.3 * relevance + 0.25 * (0.4 + 0.6 * decisiveness) + 0.15 * length + 0.3 * on_topic
    return max(MIN_CONFIDENCE, min(MAX_CONFIDENCE, value))


def _on_topic_share(answer_terms: set[str], marking: _Marking) -> float:
    """Share of the answer's words that belong to the expected points."""
    if not answer_terms:
        return 0.0
    return len(_matched_terms(answer_terms, marking)) / len(answer_terms)


def _join(labels: list[str]) -> str:
    quoted = [f"'{label}'" for label in labels]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _feedback(score: float, max_score: float, marking: _Marking) -> str:
    sections = [g for g in marking.groups if not g.startswith("#")]
    where = f" (reference {', '.join(sections)})" if sections else ""
    covered, missed = marking.covered(), marking.missed()
    if score >= max_score:
        return f"Full marks: the answer covers {_join(covered[:4])}{where}."
    if not covered:
        return f"The answer does not cover the expected points{where}, such as {_join(missed[:3])}."
    return f"The answer covers {_join(covered[:4])} but misses {_join(missed[:3])}{where}."
