"""A fake OpenAI-compatible server for QuizMarker's tests.

    from tests.fakeopenai import FakeOpenAI

    with FakeOpenAI() as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="test")
        fake.script("ScriptGrading", [{"fault": "429"}])
        ...

Run it as a separate process with ``python -m tests.fakeopenai --port 8765``.
"""

from .server import (
    FAULTS,
    KINDS,
    MODELS,
    SCRIPT_KINDS,
    FakeOpenAI,
    FakeOpenAIConfigError,
    default_extraction,
    grade_answer,
    is_instruction_attempt,
)

__all__ = [
    "FAULTS",
    "KINDS",
    "MODELS",
    "SCRIPT_KINDS",
    "FakeOpenAI",
    "FakeOpenAIConfigError",
    "default_extraction",
    "grade_answer",
    "is_instruction_attempt",
]
