"""Reading a blank quiz or a mark-scheme document from its text (a typed PDF's text layer, or the offline OCR's
reading-order lines) into questions, marks and marking points, by layout rules and no AI call.

What a line can be::

    Fire safety quiz                                  the title (the first line before any question)
    1. What must you do first? (2 marks)              a question: number, text, marks ("(2 marks)", "[2]", "2 marks")
       the question wrapped onto a second line        joined to the question while it has no "?" or "."
    - raise the alarm (1 mark)                        a marking point ("-", "•", "*" or "a)"), with its marks
    Model answer: Raise the alarm, then leave.        the question's model answer
    ____________                                      answer lines of a blank quiz: ignored
"""

from __future__ import annotations

import re

from grading.providers.schemas import DocumentPoint, DocumentQuestion, SchemeDocument

_QUESTION = re.compile(r"^\s*(?:Q(?:uestion)?\s*)?(\d{1,3})\s*[.):]\s+(.*\S)\s*$", re.IGNORECASE)
_POINT = re.compile(r"^\s*(?:[-•*–·]|\(?[a-z]\)|\(?[ivx]+\))\s*(.*\S)\s*$")
_MARKS = re.compile(
    r"\s*[(\[]\s*(\d{1,3}(?:\.5)?)\s*(?:marks?)?\s*[)\]]\s*$|\s+(\d{1,3}(?:\.5)?)\s*marks?\s*$", re.IGNORECASE
)
_MODEL = re.compile(r"^\s*(?:model|example|sample)\s+answer\s*[:\-]\s*(.*)$", re.IGNORECASE)
_BLANK = re.compile(r"^[\s_.\-–—]*$")
_SKIP = re.compile(r"^\s*(?:(?:learner|student|candidate)?\s*name\s*[:_]|date\s*[:_]|page\s+\d+\b)", re.IGNORECASE)


def _marks(text: str) -> tuple[str, float | None]:
    """The text without its printed marks, and the marks."""
    match = _MARKS.search(text)
    if not match:
        return text.strip(), None
    return text[: match.start()].strip(), float(match.group(1) or match.group(2))


def read_document(text: str) -> SchemeDocument:
    title: str | None = None
    questions: list[dict] = []
    current: dict | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _BLANK.match(line) or _SKIP.match(line):
            continue
        question = _QUESTION.match(line)
        if question and (current is None or int(question.group(1)) > current["number"]):
            words, marks = _marks(question.group(2))
            current = {"number": int(question.group(1)), "text": words, "max_marks": marks, "points": [], "model": []}
            questions.append(current)
            continue
        if current is None:
            title = title or line[:200]
            continue
        model = _MODEL.match(line)
        if model:
            current["model"].append(model.group(1))
            continue
        point = _POINT.match(line)
        if point:
            statement, marks = _marks(point.group(1))
            if statement:
                current["points"].append(DocumentPoint(statement=statement[:300], marks=marks))
            continue
        if current["model"]:
            current["model"].append(line)
        elif not current["points"] and not current["text"].endswith(("?", ".")):
            words, marks = _marks(line)  # the question wrapped onto the next line
            current["text"] = f"{current['text']} {words}".strip()
            current["max_marks"] = current["max_marks"] if marks is None else marks
    return SchemeDocument(
        title=title,
        questions=[
            DocumentQuestion(
                number=q["number"],
                text=q["text"],
                max_marks=q["max_marks"],
                points=q["points"],
                model_answer=" ".join(q["model"]).strip() or None,
            )
            for q in questions
            if q["text"]
        ],
    )
