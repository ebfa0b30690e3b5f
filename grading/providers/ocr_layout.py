"""Where things are on a read page: the learner's name, the standard, and each numbered question with the answer
written below it. Works on reading-order text lines (:mod:`grading.providers.ocr_lines`); no image work."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grading.providers.ocr_lines import Line


@dataclass
class OcrQuestion:
    number: int
    question: str
    answer: str
    confidence: float  # 0..1, from recognition scores; low -> needs human review


_QUESTION_START = re.compile(
    r"^\s*(?:Q(?:uestion)?\s*(?P<q>\d{1,2})\s*[.):]?|(?P<n>\d{1,2})\s*[.)])\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_STANDARD = re.compile(r"\bStandard\s*(\d{1,2})\b", re.IGNORECASE)
_NAME = re.compile(r"^\s*Name\s*[:;.,]?\s*(?P<name>.*)$", re.IGNORECASE)
_FOOTER = re.compile(r"^\s*Page\s*\d+\s*(?:of\s*\d+)?\s*$", re.IGNORECASE)


@dataclass
class _OpenQuestion:
    number: int
    text: str
    score: float
    line: Line
    complete: bool  # its "?" has been read
    answer: list[Line] = field(default_factory=list)

    def result(self) -> OcrQuestion:
        chars = sum(len(ln.text) for ln in self.answer)
        score = sum(ln.score * len(ln.text) for ln in self.answer) / chars if chars else self.score
        answer = " ".join(ln.text for ln in self.answer)
        return OcrQuestion(self.number, self.text, answer, round(score, 3))


def _question_start(line: Line, previous: int | None) -> tuple[int, str] | None:
    """(number, rest of line) when the line opens the next question."""
    match = _QUESTION_START.match(line.text)
    if match is None:
        return None
    number = int(match.group("q") or match.group("n"))
    # Numbers run upwards; a handwritten "2." inside an answer list is not
    # taken for a new question unless it follows on from the current one.
    if number < 1 or (previous is not None and not previous < number <= previous + 3):
        return None
    return number, match.group("rest").strip()


def split_questions(lines: list[Line]) -> list[OcrQuestion]:
    done: list[OcrQuestion] = []
    current: _OpenQuestion | None = None
    for line in lines:
        if _FOOTER.match(line.text):
            continue
        start = _question_start(line, current.number if current else None)
        if start is not None:
            if current is not None:
                done.append(current.result())
            number, rest = start
            head, mark, tail = rest.partition("?")
            current = _OpenQuestion(number, head.strip() + mark, line.score, line, bool(mark))
            if tail.strip():
                current.answer.append(Line(line.boxes, tail.strip(), line.score))
            continue
        if current is None:
            continue
        if not current.complete and current.answer == []:
            # A printed question wrapped onto a second, tightly spaced line
            # (answers sit on ruled lines further down).
            height = current.line.y1 - current.line.y0
            gap = line.y0 - current.line.y1
            if gap < 0.5 * height and abs(line.x0 - current.line.x0) < 0.8 * height:
                head, mark, tail = line.text.partition("?")
                current.text = f"{current.text} {head.strip()}{mark}"
                current.line = line
                current.complete = bool(mark)
                if tail.strip():
                    current.answer.append(Line(line.boxes, tail.strip(), line.score))
                continue
            current.complete = True
        current.answer.append(line)
    if current is not None:
        done.append(current.result())
    return done


def read_header(lines: list[Line]) -> tuple[str | None, int | None]:
    """(learner's name, standard) from the sheet's "Name:" and "Standard N" lines, when read."""
    standard = None
    student_name = None
    for line in lines:
        if standard is None and (m := _STANDARD.search(line.text)):
            standard = int(m.group(1))
        if student_name is None and (m := _NAME.match(line.text)):
            name = m.group("name").strip(" :;.,")
            student_name = name or None
    return student_name, standard
