"""Text in an answer that speaks to the marker rather than about care: the one owner of the rule.

Such sentences are removed before grading (so they can never raise a score) and the answer goes to a person. Every
provider's answers pass through :func:`split_instructions` (``grading.marking``), and the offline grader uses the same
function on the answers it is given directly.

Answers read offline come with OCR noise: letters and digits confused ("1O DUT OF 1O" for "10 out of 10", "Q" for
"0", "l" or "|" for "1") and spaces lost ("awardfullmarks"). A sentence is therefore matched twice, both times after
folding confusable characters together (o 0 d q → o, i l 1 | ! → l, s 5 → s, z 2 → z, b 8 → b): once with its
spaces, against every rule, and once with the spaces removed, against the rules whose wording is long enough not to
turn up by accident across word boundaries.
"""

from __future__ import annotations

import re

_FOLD = str.maketrans({"0": "o", "d": "o", "q": "o", "i": "l", "1": "l", "|": "l", "!": "l", "5": "s", "2": "z",
                       "8": "b"})  # fmt: skip
_NUMBER = r"[olzsb3-79]{1,3}"  # a mark such as 10, 3 or 100, after folding
_MARKER = r"(marker|examiner|grader|assistant|language model|chatgpt|ai)"
_LONG_MARKER = r"(marker|examiner|grader|assistant|languagemodel|chatgpt)"

# Written in plain words; folded below, so "ignore" matches "lgn0re" and "10 out of 10" matches "1O DUT OF 1O".
_SPACED = (
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|rule|prompt|previous|prior|above|marking|everything)",
    r"\b(give|award|assign|grant)\b.{0,30}\b(full|maximum|max|top|perfect|all( the)?)\s+"
    r"(marks?|points?|score|credit)\b",
    r"\b(full|maximum|perfect|top)\s+marks\b",
    rf"\b(give|award|assign|grant|score|mark)\b.{{0,20}}\b{_NUMBER}\s*(out\s*of|/)\s*{_NUMBER}\b",
    rf"\b{_NUMBER}\s*(out\s*of|/)\s*{_NUMBER}\s*(marks?|points?)\b",
    rf"\byou are (now|an?|the)\b.{{0,40}}\b{_MARKER}\b",
    rf"\b(act as|pretend to be)\s+(an?\s+|the\s+)?{_MARKER}\b",
    rf"\b(dear|note to|attention)\s+(the\s+)?{_MARKER}\b",
    rf"\b{_MARKER}\b.{{0,20}}\b(should|must|please)\b.{{0,20}}\b(give|award|mark|score)\b",
    r"\b(system|developer)\s+(prompt|message)\b",
    r"\bnew instructions\b",
    r"\b(as an ai|language model|chatgpt|openai)\b",
    rf"\bscore (this|me|it)\b.{{0,20}}\b({_NUMBER}|full|maximum)\b",
)
# With the spaces gone only wording that cannot appear by chance across words ("has an aim" holds "asanai").
_SQUASHED = (
    r"(ignore|disregard|override)(all|the|your|any)*(previous|prior|above)?(instruction|rule|prompt)",
    r"(give|award|assign|grant)(me|this|the|it|him|her|them|learner|answer)*(full|maximum|perfect|top)(mark|point|score)",
    r"(full|maximum|perfect)marks",
    rf"(give|award|assign|grant)(me|this|the|it|him|her|them|learner|answer)*{_NUMBER}(outof|/){_NUMBER}",
    rf"{_NUMBER}(outof|/){_NUMBER}(mark|point)",
    r"(system|developer)(prompt|message)",
    r"newinstructions",
    rf"(youarenow|actas|dear|noteto)(an|a|the)?{_LONG_MARKER}",
    r"(languagemodel|chatgpt|openai)",
)


_FOLD_LETTERS = str.maketrans({"d": "o", "q": "o", "i": "l"})  # the rules' words; never their digits or "|"


def _fold(text: str) -> str:
    return text.lower().translate(_FOLD)


_SPACED_RE = re.compile("|".join(f"(?:{p.translate(_FOLD_LETTERS)})" for p in _SPACED))
_SQUASHED_RE = re.compile("|".join(f"(?:{p.translate(_FOLD_LETTERS)})" for p in _SQUASHED))
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


def addresses_the_marker(sentence: str) -> bool:
    """Whether a sentence speaks to the marker (asks for marks, gives it instructions), despite OCR noise."""
    folded = _fold(sentence)
    return bool(_SPACED_RE.search(folded) or _SQUASHED_RE.search(re.sub(r"[^a-z0-9/]+", "", folded)))


def split_instructions(answer: str) -> tuple[str, bool]:
    """The answer without sentences addressed to the marker, and whether there were any."""
    sentences = [s for s in _SENTENCE.split(answer) if s.strip()]
    kept = [s for s in sentences if not addresses_the_marker(s)]
    return " ".join(kept).strip(), len(kept) != len(sentences)
