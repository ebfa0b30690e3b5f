"""A fake OpenAI-compatible server for QuizMarker's tests.

    from tests.fakeopenai import FakeOpenAI

    with FakeOpenAI() as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="test")
        fake.script("ScriptGrading", [{"fault": "429"}])
        ...

Run it as a separate process with ``python -m tests.fakeopenai --port 8765``.
"""

from . import server
from .server import *  # noqa: F403  (what the server module exports, listed once in its __all__)

__all__ = server.__all__
