"""The offline provider: no key, no network. Transcription by RapidOCR (its models ship inside the wheel), grading
by which of the mark scheme's points each answer makes (local_grading.points), or, for an answer sent without
points, by how well it covers the standard's reference material for its question."""

from __future__ import annotations

import re
import time

from grading.pages import PageSource
from grading.providers import local_grading, local_ocr, ocr_legibility, ocr_spelling
from grading.providers.local_grading.points import judge_points
from grading.providers.points import grade_from_points
from grading.providers.schemas import (
    AnswerToGrade,
    ExtractedQuestion,
    Grade,
    PageExtraction,
    PageResult,
    SchemeDocument,
    Usage,
)
from grading.standards import Standard

REVIEW_BELOW_CONFIDENCE = 0.5
_MARKS = re.compile(r"[(\[]\s*(\d{1,2})\s*marks?\s*[)\]]", re.IGNORECASE)


class LocalProvider:
    name = "local"
    model = "local"

    def extract_page(self, page: PageSource, questions: dict[int, str] | None = None) -> PageResult:
        started = time.monotonic()
        transcription = local_ocr.transcribe_page(page.image(), expected=questions)
        printed = [*(questions or {}).values(), *(q.question for q in transcription.questions)]
        extracted = []
        for q in transcription.questions:
            marks = _MARKS.search(q.question)
            extracted.append(
                ExtractedQuestion(
                    number=q.number,
                    question=_MARKS.sub("", q.question).strip(),
                    answer=ocr_spelling.correct(q.answer, printed),  # toward common English only
                    max_score=int(marks.group(1)) if marks else None,
                    # Judged on what the recogniser read: a spelling correction is a guess, not a clearer page.
                    legibility=ocr_legibility.legibility(q.answer, q.confidence, printed),
                )
            )
        usage = Usage(
            provider=self.name,
            model=self.model,
            purpose="extraction",
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        extraction = PageExtraction(
            student_name=transcription.student_name, standard=transcription.standard, questions=extracted
        )
        return PageResult(extraction=extraction, source="ocr", usage=[usage])

    def read_scheme_document(self, page: PageSource) -> tuple[SchemeDocument, list[Usage]]:
        """A page of a blank quiz or mark-scheme document: the OCR's reading-order lines, then the same layout rules
        as a typed document's text layer (markschemes.document_text)."""
        from markschemes.document_text import read_document

        started = time.monotonic()
        text = local_ocr.transcribe_page(page.image()).text
        usage = Usage(
            provider=self.name,
            model=self.model,
            purpose="scheme_import",
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        return read_document(text), [usage]

    def _grade(self, reference: str, answer: AnswerToGrade) -> Grade:
        if answer.points:
            judged = judge_points(answer.answer, [p.statement for p in answer.points], reference)
            return grade_from_points(
                answer,
                [(p.order, j.met, j.quote) for p, j in zip(answer.points, judged.points, strict=True)],
                confidence=judged.confidence,
                instruction_attempt=judged.instruction_attempt,
                who="The automatic marker",
            )
        result = local_grading.grade_answer(answer.question, answer.answer, reference, answer.max_score)
        reasons = []
        if result.confidence < REVIEW_BELOW_CONFIDENCE:
            reasons.append(f"The automatic marker was unsure of this mark (confidence {result.confidence:.0%}).")
        return Grade(
            number=answer.number,
            score=result.score,
            max_score=answer.max_score,
            feedback=result.feedback,
            confidence=result.confidence,
            needs_review=bool(reasons),
            review_reason=" ".join(reasons),
        )

    def grade_script(self, standard: Standard, reference: str, answers: list[AnswerToGrade]):
        started = time.monotonic()
        grades = [self._grade(reference, answer) for answer in answers]
        usage = Usage(
            provider=self.name, model=self.model, purpose="grading", latency_ms=int((time.monotonic() - started) * 1000)
        )
        return grades, [usage]

    def grade_question(self, standard: Standard, reference: str, answer: AnswerToGrade):
        grades, usage = self.grade_script(standard, reference, [answer])
        return grades[0], usage


__all__ = ["LocalProvider"]
