"""Which mark-scheme question each transcribed answer answers.

An answer is matched by its printed number, unless its printed question text clearly says otherwise: the text
belongs to another of the scheme's questions (matched there instead), or it shares almost nothing with the numbered
question (a question the scheme does not have, such as one a learner added). An answer whose number the scheme
lacks is matched by its question text alone. What cannot be matched is outside the scheme: kept and shown, flagged,
never scored. Two answers never share a scheme question: the one whose text fits better keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

# Words that say nothing about which question it is.
_STOPWORDS_TEXT = (
    "a an and are as at be by can could did do does for from give how in into is it its may must not of on or our "
    "should so that the their them they this those to under use used using was were what when where which who why "
    "will with would you your yours describe explain list name state outline identify define meant mean means "
    "example examples say two three four five own words marks mark answer question"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"[a-z]+")
SAME_QUESTION = 0.7  # this much shared wording: the text is this question (different questions of one quiz: ≤ 0.67)
CLEARLY_OTHER = 0.3  # moved to another question only when its wording fits by this much more than the numbered one
UNRELATED = 0.15  # less than this, with enough words to judge: not the numbered question
MIN_WORDS_TO_JUDGE = 3


def _words(text: str) -> list[str]:
    words = []
    for word in _WORD.findall((text or "").lower()):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        words.append(word[:-1] if word.endswith("s") and len(word) > 4 else word)
    return list(dict.fromkeys(words))


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < 5:
        return False
    return a[:4] == b[:4] or SequenceMatcher(None, a, b).ratio() >= 0.8  # OCR slips, word forms


def similarity(a: str, b: str) -> float:
    """Shared content wording of two question texts, 0 to 1 (Dice over words, tolerant of OCR slips)."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    shared = sum(1 for word in wa if any(_same_word(word, other) for other in wb))
    return min(1.0, 2 * shared / (len(wa) + len(wb)))


def containment(part: str, whole: str) -> tuple[float, int]:
    """How much of ``part``'s content wording is in ``whole`` (0 to 1, tolerant of OCR slips), and how many content
    words ``part`` has: a line of a printed question is contained in the question's text."""
    wp, ww = _words(part), _words(whole)
    if not wp or not ww:
        return 0.0, len(wp)
    return sum(1 for word in wp if any(_same_word(word, other) for other in ww)) / len(wp), len(wp)


@dataclass(frozen=True)
class Printed:
    """One transcribed answer, as the sheet numbered and worded its question."""

    key: object
    number: int
    question: str


def match_answers(answers: list[Printed], scheme: dict[int, str]) -> dict[object, int | None]:
    """Each answer's scheme question number (``scheme`` maps number → question text), or None: outside the scheme."""
    scores = {a.key: {n: similarity(a.question, text) for n, text in scheme.items()} for a in answers}
    judged = {a.key: len(_words(a.question)) >= MIN_WORDS_TO_JUDGE for a in answers}
    claims: dict[object, tuple[int, float]] = {}
    for a in answers:
        by_text = max(scores[a.key].items(), key=lambda item: item[1], default=(None, 0.0))
        own = scores[a.key].get(a.number)
        elsewhere = by_text[1] >= SAME_QUESTION and by_text[1] > (own or 0.0) + CLEARLY_OTHER
        if own is not None and not elsewhere and (not judged[a.key] or own >= UNRELATED):
            claims[a.key] = (a.number, own + 1.0)  # the printed number, confirmed by the text, ranks first
        elif by_text[0] is not None and by_text[1] >= SAME_QUESTION:
            claims[a.key] = (by_text[0], by_text[1])
    matched: dict[object, int | None] = {a.key: None for a in answers}
    taken: set[int] = set()
    for key, (number, _strength) in sorted(claims.items(), key=lambda item: -item[1][1]):
        if number not in taken:
            matched[key] = number
            taken.add(number)
    return matched
