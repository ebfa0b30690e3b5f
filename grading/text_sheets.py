"""Reading a typed answer sheet (a PDF with a text layer) into questions and answers, with no AI call."""

from __future__ import annotations

import re

from grading.providers.schemas import ExtractedQuestion, PageExtraction

_QUESTION = re.compile(r"^\s*(?:Q(?:uestion)?\s*)?(\d{1,3})\s*[.):]\s+(.*\S)\s*$", re.IGNORECASE)
_NAME = re.compile(r"^\s*(?:student|learner|candidate)?\s*name\s*[:\-]\s*(.+?)\s*$", re.IGNORECASE)
_STANDARD = re.compile(r"\bstandard\s+(\d{1,2})\b", re.IGNORECASE)
_MARKS = re.compile(r"[(\[]\s*(\d{1,2})\s*marks?\s*[)\]]", re.IGNORECASE)
_FOOTER = re.compile(r"^\s*page\s+\d+\s+of\s+\d+\s*$", re.IGNORECASE)


def parse_text_page(text: str) -> PageExtraction:
    student_name = None
    standard = None
    questions: list[dict] = []
    current: dict | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _FOOTER.match(line):
            continue
        if student_name is None and (name := _NAME.match(line)):
            student_name = name.group(1).strip(" _") or None
            continue
        if standard is None and not questions and (std := _STANDARD.search(line)):
            number = int(std.group(1))
            standard = number if 1 <= number <= 15 else None
            continue
        match = _QUESTION.match(line)
        if match and (current is None or int(match.group(1)) > current["number"]):
            current = {"number": int(match.group(1)), "question": match.group(2), "answer": [], "max_score": None}
            questions.append(current)
            continue
        if current is None:
            continue
        if (
            not current["answer"]
            and not current["question"].rstrip().endswith(("?", "."))
            and len(current["question"]) < 300
            and not line[0].isupper()
        ):
            current["question"] += f" {line}"  # the printed question wrapped onto a second line
            continue
        current["answer"].append(line)
    extracted = []
    for q in questions:
        marks = _MARKS.search(q["question"])
        question = _MARKS.sub("", q["question"]).strip()
        extracted.append(
            ExtractedQuestion(
                number=q["number"],
                question=question,
                answer=" ".join(q["answer"]).strip(),
                max_score=int(marks.group(1)) if marks and 1 <= int(marks.group(1)) <= 50 else None,  # display only
                legibility=1.0,
            )
        )
    return PageExtraction(student_name=student_name, standard=standard, questions=extracted)
