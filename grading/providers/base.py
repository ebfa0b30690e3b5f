"""The one door to the AI: every provider answers the same three questions."""

from __future__ import annotations

import os
from typing import Protocol

from grading.pages import PageSource
from grading.providers.schemas import AnswerToGrade, Grade, PageResult, SchemeDocument, Usage
from grading.standards import Standard

__all__ = ["Provider", "get_provider"]


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
