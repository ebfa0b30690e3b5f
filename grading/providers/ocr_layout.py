"""Where things are on a read page: the learner's name, the standard, and each numbered question with the answer
written below it. Works on reading-order text lines (:mod:`grading.providers.ocr_lines`); no image work."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from grading.matching import containment
from grading.providers.ocr_lines import Line


@dataclass
class OcrQuestion:
    number: int
    question: str
    answer: str
    confidence: float  # 0..1, from recognition scores; low -> needs human review


# What OCR makes of a printed "Q1." / "1.": the Q read as O, 0, D or G; the digit as l, I, |, !, i (1), Z (2), S (5),
# O or o (0), B (8); the full stop as a comma or colon, or lost.
_DIGITS = str.maketrans(
    {
        "l": "1",
        "I": "1",
        "|": "1",
        "!": "1",
        "i": "1",
        "Z": "2",
        "z": "2",
        "S": "5",
        "s": "5",
        "O": "0",
        "o": "0",
        "B": "8",
    }
)
_NUMBER = r"(?P<num>[0-9]{1,2}|[0-9lI|!iZzSsOoB]{1,2}(?=\s*[.,:)]|\s))"
_QUESTION_START = re.compile(
    r"^\s*(?:(?P<prefix>Q(?:uestion)?|[OD0G])\s*[.,:]?\s*"
    + _NUMBER
    + r"|"
    + r"(?P<bare>[0-9lI|!iZzSsOoB]{1,2})(?=\s*[.,:)])"
    + r")"
    r"\s*[.,:)]?\s*(?P<rest>.*)$"
)
_FOOTER = re.compile(r"^\s*Page\s*\d+\s*(?:of\s*\d+)?\s*$", re.IGNORECASE)
_ANCHOR_SHARE = 0.6  # this much of a line's wording in a scheme question's text: the line prints that question
_UNLIKE = 0.2  # less of its wording in the scheme question of its number: not that printed question
_ANCHOR_WORDS = 3  # and at least this many content words, so a short answer line is never taken for a question


def _number(token: str) -> int | None:
    digits = token.translate(_DIGITS)
    return int(digits) if digits.isdigit() else None


def _printed_number(text: str) -> tuple[int, str] | None:
    """(number, rest of the line) when the line starts with a question number as OCR reads it."""
    match = _QUESTION_START.match(text)
    if match is None:
        return None
    if match.group("bare") is not None:
        token = match.group("bare")
        if not any(c.isdigit() for c in token):  # a bare "I." or "S," is a word, not a number
            return None
    else:
        token = match.group("num")
        if match.group("prefix") in {"O", "D", "0", "G"} and not any(c.isdigit() for c in token):
            return None  # "Oil", "Do." : words
    number = _number(token)
    return (number, match.group("rest").strip()) if number else None


def _anchored(text: str, expected: dict[int, str], previous: int | None) -> int | None:
    """The scheme question whose printed text this line is (the first line of it), by wording: after ``previous``,
    and no further on than the one after next (an answer that repeats a later question's words is not that
    question)."""
    best, best_share = None, 0.0
    later = sorted(n for n in expected if previous is None or n > previous)
    for number in later if previous is None else later[:2]:
        question = expected[number]
        share, words = containment(text, question)
        whole = words >= 2 and share == 1.0 and containment(question, text)[0] >= _ANCHOR_SHARE  # a short question
        if (whole or (words >= _ANCHOR_WORDS and share >= _ANCHOR_SHARE)) and share > best_share:
            best, best_share = number, share
    return best


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


def _could_be_printed(number: int, rest: str, expected: dict[int, str]) -> bool:
    """Whether a numbered line can be the printed question: with the scheme, a numbered line of several words that
    shares nothing with the scheme's question of that number, nor with any other, is a learner's numbered list."""
    if number not in expected:
        return True
    share, words = containment(rest, expected[number])
    return words < _ANCHOR_WORDS or share >= _UNLIKE or _anchored(rest, expected, None) is not None


def _question_start(
    line: Line, previous: int | None, expected: dict[int, str], printed_elsewhere: set[int]
) -> tuple[int, str] | None:
    """(number, rest of line) when the line opens the next question: by its printed number (as OCR damages it), or,
    with the mark scheme, by its printed question text when the number was lost (``printed_elsewhere``: numbers read
    on the page, whose questions are found by them, never by an answer that repeats their words)."""
    printed = _printed_number(line.text)
    if printed is not None:
        number, rest = printed
        # Numbers run upwards; a handwritten "2." inside an answer list is not
        # taken for a new question unless it follows on from the current one.
        if (previous is None or previous < number <= previous + 3) and _could_be_printed(number, rest, expected):
            return number, rest
    if expected:
        number = _anchored(line.text, expected, previous)
        if number is not None and number not in printed_elsewhere:
            return number, line.text.strip()
    return None


def _ends_question(head: str, mark: str) -> bool:
    """Whether a printed question's line ends it: its "?" was read, or it ends a sentence ("List four signs of
    dehydration."), so the handwriting just below is the answer, not the question wrapping on."""
    return bool(mark) or head.rstrip().endswith(".")


def split_questions(lines: list[Line], expected: dict[int, str] | None = None) -> list[OcrQuestion]:
    """The page's questions with their answers; ``expected``: the mark scheme's questions (number → text)."""
    expected = expected or {}
    printed = {found[0] for line in lines if (found := _printed_number(line.text)) is not None}
    done: list[OcrQuestion] = []
    current: _OpenQuestion | None = None
    for line in lines:
        if _FOOTER.match(line.text) or (current is None and _is_header(line.text)):
            continue
        start = _question_start(line, current.number if current else None, expected, printed)
        if start is not None:
            if current is not None:
                done.append(current.result())
            number, rest = start
            head, mark, tail = rest.partition("?")
            current = _OpenQuestion(number, head.strip() + mark, line.score, line, _ends_question(head, mark))
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
                current.complete = _ends_question(head, mark)
                if tail.strip():
                    current.answer.append(Line(line.boxes, tail.strip(), line.score))
                continue
            current.complete = True
        current.answer.append(line)
    if current is not None:
        done.append(current.result())
    return done


_LABEL = re.compile(r"^\s*(?P<label>[A-Za-z|]{2,7})\s*[:;.,]?\s*(?P<rest>.*)$")
_TITLE = "care certificate quiz"
_STANDARD = re.compile(r"(?P<word>[A-Za-z]{6,10})\s*[:;.,]?\s*(?P<num>[0-9lI|!iZzSsOoB]{1,2})\b")


def _looks_like(word: str, target: str) -> bool:
    """OCR's reading of a printed label: "Narne", "Nane", "Stardard", "5tandard" (letters, case and "rn" for "m")."""
    word = word.lower().replace("rn", "m").replace("|", "l").replace("5", "s")
    return word == target or SequenceMatcher(None, word, target).ratio() >= 0.75


def _standard(text: str) -> int | None:
    for match in _STANDARD.finditer(text.replace("5tandard", "Standard")):
        if _looks_like(match.group("word"), "standard"):
            number = _number(match.group("num"))
            if number is not None and 1 <= number <= 99:
                return number
    return None


def _name(text: str) -> str | None:
    """The name written after a "Name:" label ("" when the label is there and the name is not)."""
    match = _LABEL.match(text)
    if match is None or match.group("label")[0] not in "NnMmHh" or not _looks_like(match.group("label"), "name"):
        return None
    rest = match.group("rest").strip(" :;.,_")
    labelled = text[match.end("label") :].lstrip()[:1] in {":", ";", ".", ","}
    words = rest.split()
    if len(words) > 5 or (not labelled and not all(w[:1].isupper() for w in words)):
        return None  # "Name three signs of ...": a question, not the name line
    return rest


def _is_header(text: str) -> bool:
    """The sheet's title, standard or name line (never a question, even when it shares a question's words)."""
    return _standard(text) is not None or _name(text) is not None or _looks_like(text.strip(), _TITLE)


def read_header(lines: list[Line]) -> tuple[str | None, int | None]:
    """(learner's name, standard) from the sheet's "Name:" and "Standard N" lines, when read (tolerant of what OCR
    does to the printed labels)."""
    standard = None
    student_name = None
    for line in lines:
        if standard is None:
            standard = _standard(line.text)
        if student_name is None and (name := _name(line.text)) is not None:
            student_name = name or None
    return student_name, standard
