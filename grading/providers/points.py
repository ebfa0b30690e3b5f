"""From a provider's marking-point decisions to a grade: the one place that turns decisions into a score.

Every point of the question is decided exactly once, else the reply is not used. A point counts as met only with
words quoted from the answer: a "met" whose quote is not in the answer is not counted and the answer goes to a
person. The score is the sum of the met points' marks capped at the question's maximum
(:func:`markschemes.services.points_score`), so it lies within 0 and the maximum by construction; the feedback
names the points met and missed.
"""

from __future__ import annotations

import re
from decimal import Decimal

from grading.providers.schemas import AnswerToGrade, Grade, InvalidReply, PointDecided
from markschemes.scoring import points_score

UNSURE_BELOW = 0.5
_SPACE = re.compile(r"\s+")


def _plain(text: str) -> str:
    return _SPACE.sub(" ", text).strip().strip(".,;:!?\"'“”‘’").lower()


def quoted_from(answer: str, quote: str) -> bool:
    """Whether ``quote`` is words of ``answer`` (spacing, case and surrounding punctuation aside)."""
    words = _plain(quote)
    return bool(words) and words in _plain(answer)


def _names(answer: AnswerToGrade, orders: list[int]) -> str:
    by_order = {p.order: p.statement for p in answer.points}
    return "; ".join(f"“{by_order[o]}”" for o in orders)


def grade_from_points(
    answer: AnswerToGrade,
    decisions: list[tuple[int, bool, str]],
    *,
    feedback: str = "",
    confidence: float,
    instruction_attempt: bool = False,
    who: str = "The AI",
) -> Grade:
    """A grade from ``(point order, met, quote)`` decisions; :class:`InvalidReply` if a point is missing, unknown or
    decided twice."""
    expected = [p.order for p in answer.points]
    seen: dict[int, tuple[bool, str]] = {}
    for order, met, quote in decisions:
        if order in seen:
            raise InvalidReply(f"The AI decided point {order} of question {answer.number} twice.")
        if order not in expected:
            raise InvalidReply(f"The AI decided a point {order} that question {answer.number} does not have.")
        seen[order] = (met, quote.strip())
    missing = [o for o in expected if o not in seen]
    if missing:
        raise InvalidReply(f"The AI's reply left out point {missing[0]} of question {answer.number}.")
    reasons, decided = [], []
    for order in expected:
        met, quote = seen[order]
        if met and not quoted_from(answer.answer, quote):
            reasons.append(f"{who} said point {order} was met but quoted words that are not in the answer.")
            met = False
        decided.append(PointDecided(order=order, met=met, quote=quote if met else ""))
    marks = {p.order: p.marks for p in answer.points}
    score = points_score(Decimal(str(answer.max_score)), [Decimal(str(marks[d.order])) for d in decided if d.met])
    if instruction_attempt:
        reasons.append("The answer contains text addressed to the marker.")
    if confidence < UNSURE_BELOW:
        reasons.append(f"{who} was unsure of this mark (confidence {confidence:.0%}).")
    met_orders = [d.order for d in decided if d.met]
    missed_orders = [d.order for d in decided if not d.met]
    summary = []
    if met_orders:
        summary.append(f"Points met: {_names(answer, met_orders)}.")
    if missed_orders:
        summary.append(f"Points missed: {_names(answer, missed_orders)}.")
    text = " ".join(part for part in (feedback.strip(), *summary) if part)
    return Grade(
        number=answer.number,
        score=float(score),
        max_score=answer.max_score,
        feedback=text,
        confidence=confidence,
        needs_review=bool(reasons),
        review_reason=" ".join(reasons),
        decisions=decided,
    )


__all__ = ["grade_from_points", "quoted_from"]
