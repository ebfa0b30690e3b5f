"""Measure how well the offline grader ranks full, partial and poor answers.

Usage:
    .venv/bin/python scripts/measure_local_grading.py [--noise 0.1] [--seed 7] [--verbose]

For every quiz question in reference_pdfs/source/standards.json, grades the full, partial
and poor answers, then repeats with OCR-like noise (random character substitutions), two ways:
by the shipped mark scheme's points (reference_pdfs/source/mark_schemes.json: what the local
provider does; score = met points' marks capped at the maximum) and by the reference text
alone (the grader for answers sent without points). Prints pairwise ranking accuracy (ties
count as failures), mean score fraction, mean confidence, timing and, by points, the share of
marking points met in each kind of answer.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pdfplumber

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from grading.providers.local_grading import LocalGrade, grade_answer, split_reference  # noqa: E402
from grading.providers.local_grading.points import judge_points  # noqa: E402
from markschemes.scoring import points_score  # noqa: E402

SOURCE = REPO_ROOT / "reference_pdfs" / "source" / "standards.json"
SCHEMES = REPO_ROOT / "reference_pdfs" / "source" / "mark_schemes.json"
PDF_DIR = REPO_ROOT / "reference_pdfs"
KINDS = ("full", "partial", "poor")
PAIRS = (("full", "poor"), ("full", "partial"), ("partial", "poor"))


@dataclass
class Tally:
    wins: dict[str, int] = field(default_factory=dict)
    fractions: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    confidences: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    failures: list[str] = field(default_factory=list)
    questions: int = 0
    points_met: dict[str, list[int]] = field(default_factory=lambda: {k: [0, 0] for k in KINDS})  # met, decided

    def add(self, label: str, grades: dict[str, LocalGrade]) -> None:
        self.questions += 1
        for kind, grade in grades.items():
            self.fractions[kind].append(grade.score / grade.max_score)
            self.confidences[kind].append(grade.confidence)
        for better, worse in PAIRS:
            key = f"{better} > {worse}"
            won = grades[better].score > grades[worse].score
            self.wins[key] = self.wins.get(key, 0) + int(won)
            if not won:
                self.failures.append(
                    f"{label}: {key} failed "
                    f"({grades[better].score:g} vs {grades[worse].score:g} / {grades[better].max_score:g})"
                )


def extract_pdf_text(path: Path) -> str:
    with pdfplumber.open(path) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def add_ocr_noise(text: str, rate: float, rng: random.Random) -> str:
    """Substitute about ``rate`` of the letters with random letters, like OCR misreads."""
    letters = string.ascii_lowercase
    return "".join(rng.choice(letters) if ch.isalpha() and rng.random() < rate else ch for ch in text)


def grade_question(
    question: dict[str, Any], scheme_question: dict[str, Any] | None, reference: str, noise: float, rng, tally: Tally
) -> dict[str, LocalGrade]:
    grades: dict[str, LocalGrade] = {}
    for kind in KINDS:
        answer = question[f"{kind}_answer"]
        if noise:
            answer = add_ocr_noise(answer, noise, rng)
        if scheme_question is None:
            grades[kind] = grade_answer(question["question"], answer, reference, question["max_score"])
            continue
        points = scheme_question["points"]
        judged = judge_points(answer, [p["statement"] for p in points], reference)
        met = [Decimal(str(p["marks"])) for p, j in zip(points, judged.points, strict=True) if j.met]
        score = float(points_score(Decimal(str(scheme_question["max_marks"])), met))
        tally.points_met[kind][0] += len(met)
        tally.points_met[kind][1] += len(points)
        grades[kind] = LocalGrade(score, float(scheme_question["max_marks"]), "", judged.confidence, [], [])
    return grades


def measure(
    standards: list[dict[str, Any]], references: dict[int, str], noise: float, seed: int, schemes: dict | None
) -> tuple[Tally, list[float]]:
    rng = random.Random(seed)
    tally = Tally()
    timings: list[float] = []
    for standard in standards:
        reference = references[standard["id"]]
        for question in standard["quiz"]:
            scheme_question = schemes[(standard["id"], question["number"])] if schemes else None
            started = time.perf_counter()
            grades = grade_question(question, scheme_question, reference, noise, rng, tally)
            timings.append((time.perf_counter() - started) / len(KINDS))
            tally.add(f"S{standard['id']} Q{question['number']}", grades)
    return tally, timings


def report(title: str, tally: Tally, timings: list[float], verbose: bool) -> None:
    print(f"\n== {title} ({tally.questions} questions) ==")
    for better, worse in PAIRS:
        key = f"{better} > {worse}"
        print(f"  ranking {key:<16} {100 * tally.wins.get(key, 0) / tally.questions:6.1f} %")
    for kind in KINDS:
        print(
            f"  {kind:<8} mean score fraction {statistics.mean(tally.fractions[kind]):.2f}"
            f"   mean confidence {statistics.mean(tally.confidences[kind]):.2f}"
        )
    for kind in KINDS:
        met, decided = tally.points_met[kind]
        if decided:
            print(f"  {kind:<8} marking points met {met}/{decided} = {100 * met / decided:5.1f} %")
    timings_ms = sorted(t * 1000 for t in timings)
    print(f"  time per answer: median {statistics.median(timings_ms):.2f} ms, max {timings_ms[-1]:.2f} ms")
    if verbose:
        for line in tally.failures:
            print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", type=float, default=0.1, help="OCR substitution rate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true", help="list every ranking failure")
    args = parser.parse_args()
    standards = json.loads(SOURCE.read_text(encoding="utf-8"))
    references = {s["id"]: extract_pdf_text(PDF_DIR / f"Standard-{s['id']}.pdf") for s in standards}
    for text in references.values():
        split_reference(text)
    schemes = {
        (scheme["standard"], question["number"]): question
        for scheme in json.loads(SCHEMES.read_text(encoding="utf-8"))["schemes"]
        for question in scheme["questions"]
    }
    for how, table in (("by marking points", schemes), ("by reference text", None)):
        clean, clean_times = measure(standards, references, 0.0, args.seed, table)
        report(f"{how}, clean answers", clean, clean_times, args.verbose)
        noisy, noisy_times = measure(standards, references, args.noise, args.seed, table)
        report(f"{how}, noisy answers ({args.noise:.0%} substitutions)", noisy, noisy_times, args.verbose)


if __name__ == "__main__":
    main()
