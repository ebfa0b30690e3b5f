"""Which read pages are one learner's script. The one owner of that rule.

Pages are taken in upload order. A page continues the script before it only on positive evidence: its questions
continue that script's (the next question number, or the mark scheme's next question), and it shows no name or the
same name. Anything else starts a new script: a new name; numbers that start again, even under the same name (a
second attempt is a second submission); a page with no name that does not continue; a page that could not be read
or on which no question was found. A script whose pages show no name is its learner not identified: it is kept on
its own and flagged (:func:`script_flags`), never merged into a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grading.pages import PageSource
from grading.providers.schemas import PageResult

LEARNER_NOT_IDENTIFIED = (
    "Learner not identified: no name was read on this script and nothing shows it continues another learner's "
    "pages. Choose the learner, or move its pages to their script, before grading."
)
NO_QUESTIONS_FOUND = (
    "No question was found on this script's pages (a blank page, one upside down, or not a quiz?). Check the page "
    "image; it is not graded until its answers are transcribed."
)


@dataclass
class Script:
    pages: list[tuple[PageSource, PageResult]] = field(default_factory=list)
    student_name: str = ""
    standard: int | None = None
    last_question: int = 0


def normal_name(name: str | None) -> str:
    return " ".join((name or "").split()).strip(" .:_-").title()


def next_question(last: int, scheme_numbers: list[int] | tuple[int, ...] = ()) -> int:
    """The question a page must start with to continue a script whose highest question so far is ``last``."""
    later = [n for n in scheme_numbers if n > last]
    return min(later) if later else last + 1


def continues(script: Script | None, name: str, numbers: list[int], scheme_numbers=()) -> bool:
    """Whether a page showing ``name`` (normalised, "" for none) and these question numbers is the next page of
    ``script``."""
    if script is None or not numbers or not script.last_question:
        return False
    if name and name != script.student_name:
        return False
    return min(numbers) == next_question(script.last_question, scheme_numbers)


def group_into_scripts(
    pages: list[tuple[PageSource, PageResult]], scheme_numbers: list[int] | tuple[int, ...] = ()
) -> list[Script]:
    """One script per learner's submission, pages in upload order; ``scheme_numbers``: the mark scheme's question
    numbers, when the scheme is known before reading."""
    scripts: list[Script] = []
    for source, result in pages:
        extraction = result.extraction
        name = normal_name(extraction.student_name) if extraction else ""
        numbers = [q.number for q in extraction.questions] if extraction else []
        current = scripts[-1] if scripts else None
        if not continues(current, name, numbers, scheme_numbers):
            current = Script(student_name=name)
            scripts.append(current)
        current.pages.append((source, result))
        if extraction and extraction.standard and not current.standard:
            current.standard = extraction.standard
        if numbers:
            current.last_question = max(current.last_question, max(numbers))
    return scripts


def script_flags(*, learner_known: bool, question_count: int) -> list[str]:
    """Why a script needs a person before it is graded (empty: nothing)."""
    flags = []
    if not learner_known:
        flags.append(LEARNER_NOT_IDENTIFIED)
    if not question_count:
        flags.append(NO_QUESTIONS_FOUND)
    return flags


def second_answer_reason(number: int) -> str:
    return (
        f"A second answer to question {number} in this script: kept apart, not joined to the first. Decide which "
        "one counts (or move its page to the learner it belongs to)."
    )
