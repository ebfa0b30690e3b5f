"""Numbers for the analytics pages: score distribution, per-question averages and AI-vs-assessor agreement."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg, Count, F, Q
from django.db.models.functions import Coalesce

from grading.models import PointDecision, QuestionResult, ScoreChange, Submission, SubmissionStatus

GRADED_STATUSES = (SubmissionStatus.GRADED, SubmissionStatus.NEEDS_REVIEW, SubmissionStatus.REVIEWED)
CHANGED = Q(final_score__isnull=False, ai_score__isnull=False) & ~Q(final_score=F("ai_score"))
# A marking point the AI decided on whose decision an assessor reversed (ticked what it missed, or the reverse).
POINT_CHANGED = Q(assessor_met__isnull=False, ai_met__isnull=False) & ~Q(assessor_met=F("ai_met"))


def graded_submissions(standard: int | None = None):
    submissions = Submission.objects.filter(status__in=GRADED_STATUSES)
    return submissions.filter(standard=standard) if standard else submissions


def standards_overview(standards) -> list[dict]:
    """One row per standard that has graded submissions: count, average percentage, pass rate."""
    rows = {
        row["standard"]: row
        for row in graded_submissions()
        .exclude(standard__isnull=True)
        .values("standard")
        .annotate(count=Count("pk"), average=Avg("percentage"))
    }
    titles = {s.id: s.title for s in standards}
    return [
        {"id": number, "title": titles.get(number, f"Standard {number}"), **row} for number, row in sorted(rows.items())
    ]


@dataclass
class Bucket:
    label: str
    low: int
    high: int
    count: int = 0
    passed: bool = False


def distribution(percentages: list[Decimal], pass_mark: int, width: int = 10) -> list[Bucket]:
    """Percentages in buckets 0–9, 10–19 … 90–100."""
    buckets = [
        Bucket(label=f"{low}–{low + width - 1 if low + width < 100 else 100}", low=low, high=low + width)
        for low in range(0, 100, width)
    ]
    for value in percentages:
        index = min(len(buckets) - 1, int(value // width))
        buckets[index].count += 1
    for bucket in buckets:
        bucket.passed = bucket.low >= pass_mark
    return buckets


def chart(buckets: list[Bucket], width: int = 600, height: int = 220) -> dict:
    """Geometry of an inline SVG bar chart (the template draws it; no JavaScript or chart library)."""
    top = max((b.count for b in buckets), default=0) or 1
    left, bottom, plot_top = 36, 28, 12
    plot_height = height - bottom - plot_top
    slot = (width - left) / len(buckets)
    bars = []
    for index, bucket in enumerate(buckets):
        bar_height = plot_height * bucket.count / top
        bars.append(
            {
                "x": round(left + index * slot + 4, 1),
                "y": round(plot_top + plot_height - bar_height, 1),
                "width": round(slot - 8, 1),
                "height": round(bar_height, 1),
                "label_x": round(left + index * slot + slot / 2, 1),
                "bucket": bucket,
            }
        )
    ticks = sorted({0, top // 2, top}) if top > 1 else [0, 1]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "axis_y": plot_top + plot_height,
        "label_y": height - 8,
        "left": left,
        "ticks": [{"value": t, "y": round(plot_top + plot_height - plot_height * t / top, 1)} for t in ticks],
    }


def question_stats(submissions) -> list[dict]:
    """Per question number: how many answers, average final score against the maximum, average AI score, and how
    often an assessor changed the AI's score or one of its marking-point decisions."""
    rows = (
        QuestionResult.objects.filter(submission__in=submissions)
        .values("number")
        .annotate(
            answers=Count("pk"),
            average_ai=Avg("ai_score"),
            average_final=Avg(Coalesce("final_score", "ai_score")),
            average_max=Avg("max_score"),
            changed=Count("pk", filter=CHANGED),
            scored=Count("pk", filter=Q(ai_score__isnull=False)),
            flagged=Count("pk", filter=Q(needs_review=True)),
        )
        .order_by("number")
    )
    points = {
        row["question__number"]: row
        for row in _point_decisions(submissions)
        .values("question__number")
        .annotate(decided=Count("pk"), changed=Count("pk", filter=POINT_CHANGED))
    }
    out = []
    for row in rows:
        decided = points.get(row["number"], {})
        row["points_decided"], row["points_changed"] = decided.get("decided", 0), decided.get("changed", 0)
        average_max = row["average_max"] or Decimal("0")
        average_final = row["average_final"]
        row["percent"] = round(float(average_final) / float(average_max) * 100) if average_final and average_max else 0
        row["agreement"] = round(100 * (row["scored"] - row["changed"]) / row["scored"]) if row["scored"] else None
        out.append(row)
    return out


def agreement(submissions) -> dict:
    """How often assessors kept the AI's score: from final_score vs ai_score, with the ScoreChange audit trail."""
    questions = QuestionResult.objects.filter(submission__in=submissions, ai_score__isnull=False)
    scored = questions.count()
    changed = questions.filter(CHANGED).count()
    raised = questions.filter(final_score__gt=F("ai_score")).count()
    lowered = questions.filter(final_score__lt=F("ai_score")).count()
    changes = ScoreChange.objects.filter(question__submission__in=submissions)
    decisions = _point_decisions(submissions).aggregate(decided=Count("pk"), changed=Count("pk", filter=POINT_CHANGED))
    return {
        "points_decided": decisions["decided"],
        "points_changed": decisions["changed"],
        "points_agreement": round(100 * (decisions["decided"] - decisions["changed"]) / decisions["decided"])
        if decisions["decided"]
        else None,
        "scored": scored,
        "changed": changed,
        "raised": raised,
        "lowered": lowered,
        "kept": scored - changed,
        "agreement": round(100 * (scored - changed) / scored) if scored else None,
        "audit_entries": changes.count(),
        "reviewers": changes.values("changed_by").distinct().count(),
        "unscored": QuestionResult.objects.filter(submission__in=submissions, ai_score__isnull=True).count(),
    }


def _point_decisions(submissions):
    """The AI's marking-point decisions on these submissions' answers (answers it decided nothing on are left out)."""
    return PointDecision.objects.filter(question__submission__in=submissions, ai_met__isnull=False)


def point_agreement(submissions) -> list[dict]:
    """Per marking point (of each scheme version that marked these submissions): how many answers the AI decided
    on, how often it found the point met, and how often an assessor reversed it, either way."""
    rows = (
        _point_decisions(submissions)
        .values(
            "point_id",
            "point__statement",
            "point__marks",
            "point__order",
            "point__question__number",
            "point__question__scheme__version",
        )
        .annotate(
            decided=Count("pk"),
            found=Count("pk", filter=Q(ai_met=True)),
            ticked=Count("pk", filter=POINT_CHANGED & Q(assessor_met=True)),
            unticked=Count("pk", filter=POINT_CHANGED & Q(assessor_met=False)),
        )
        .order_by("point__question__number", "point__question__scheme__version", "point__order")
    )
    out = []
    for row in rows:
        changed = row["ticked"] + row["unticked"]
        out.append(
            {
                "number": row["point__question__number"],
                "version": row["point__question__scheme__version"],
                "statement": row["point__statement"],
                "marks": row["point__marks"],
                "decided": row["decided"],
                "found_percent": round(100 * row["found"] / row["decided"]),
                "ticked": row["ticked"],
                "unticked": row["unticked"],
                "changed": changed,
                "agreement": round(100 * (row["decided"] - changed) / row["decided"]),
            }
        )
    return out
