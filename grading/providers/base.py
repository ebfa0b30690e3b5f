"""The one door to the AI: every provider answers the same three questions."""

from __future__ import annotations

import os
import re
from typing import Protocol

from grading.pages import PageSource
from grading.providers.schemas import AnswerToGrade, Grade, PageResult, SchemeDocument, Usage
from grading.standards import Standard

# Text in an answer that speaks to the marker rather than about care. Such sentences are removed before grading (so
# they can never raise a score) and the answer is sent to a person.
INSTRUCTION_PATTERNS = [
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instruction|rule|prompt|above|previous|prior)s?\b",
    r"\b(give|award|assign)\b.{0,30}\b(full|maximum|max|top|all( the)?)\s+(marks?|points?|score)\b",
    r"\byou are (now|an?|the)\b.{0,40}\b(assistant|ai|model|marker|grader|examiner)\b",
    r"\b(system|developer)\s+(prompt|message)\b",
    r"\b(as an ai|language model|chatgpt|openai)\b",
    r"\bscore (this|me|it)\b.{0,20}\b(\d+|full|maximum)\b",
]
_INSTRUCTION = re.compile("|".join(INSTRUCTION_PATTERNS), re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def split_instructions(answer: str) -> tuple[str, bool]:
    """The answer without sentences addressed to the marker, and whether there were any."""
    sentences = [s for s in _SENTENCE.split(answer) if s.strip()]
    kept = [s for s in sentences if not _INSTRUCTION.search(s)]
    return " ".join(kept).strip(), len(kept) != len(sentences)


class Provider(Protocol):
    name: str
    model: str

    def extract_page(self, page: PageSource, questions: dict[int, str] | None = None) -> PageResult:
        """One page's transcription; ``questions``: the mark scheme's (number → text), when known before reading."""

    def grade_script(
        self, standard: Standard, reference: str, answers: list[AnswerToGrade]
    ) -> tuple[list[Grade], list[Usage]]: ...

    def grade_question(
        self, standard: Standard, reference: str, answer: AnswerToGrade
    ) -> tuple[Grade, list[Usage]]: ...

    def read_scheme_document(self, page: PageSource) -> tuple[SchemeDocument, list[Usage]]: ...


_OPENAI_PROVIDERS: dict[tuple, Provider] = {}


def get_provider(name: str) -> Provider:
    if name == "openai":
        from django.conf import settings

        from grading.providers.openai_provider import OpenAIProvider

        # One client per process and configuration: a new client builds its own TLS context and connection pool
        # (tens of milliseconds of CPU a job); the client is thread-safe and keeps connections to the provider open.
        # The process id is part of the key so a forked worker process never shares its parent's sockets.
        key = (
            os.getpid(),
            settings.OPENAI_API_KEY,
            settings.OPENAI_BASE_URL,
            settings.OPENAI_MODEL,
            settings.OPENAI_TIMEOUT,
            settings.OPENAI_MAX_RETRIES,
            settings.AI_MAX_CONCURRENT_CALLS,
            settings.AI_MAX_CALLS_PER_MINUTE,
            settings.REDIS_KEY_PREFIX,
        )
        provider = _OPENAI_PROVIDERS.get(key)
        if provider is None:
            provider = _OPENAI_PROVIDERS.setdefault(key, OpenAIProvider())
        return provider
    from grading.providers.local import LocalProvider

    return LocalProvider()
