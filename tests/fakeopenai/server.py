"""A fake, OpenAI-compatible HTTP server for QuizMarker's tests.

The official ``openai`` client talks to it through ``base_url``; nothing here
touches the real internet.  Standard library only, so it starts in
milliseconds and serves many concurrent requests (one daemon thread each).

Served endpoints (all ``/v1`` routes need an ``Authorization: Bearer <any>``
header):

* ``GET /v1/models`` and ``GET /v1/models/{id}``
* ``POST /v1/chat/completions`` (non-streaming, ``response_format`` of type
  ``json_schema``) dispatched on the schema name: ``PageExtraction``,
  ``ScriptGrading``, ``QuestionGrading`` or ``SchemeDocument`` (a page of a
  quiz or mark scheme to import: empty unless scripted). Answers sent with marking
  ``points`` are answered per point (met, quote), see ``judge_points``.

Control endpoints (no auth): ``POST /_control/reset``, ``GET|POST
/_control/config``, ``POST /_control/script``, ``GET /_control/requests``,
``GET /_control/stats``.  :class:`FakeOpenAI` exposes the same operations as
Python methods.

A provider's rate limit: ``calls_per_minute`` (config; 0, the default, is no
cap) answers a chat completion past that many in the current clock minute with
a 429 and a Retry-After up to the next minute, as a provider's RPM limit does.
Such answers are recorded with the fault ``calls_per_minute``; ``stats()`` has
the calls answered 200 in each clock minute (``ok_by_minute``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
import json
import logging
import math
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self

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

log = logging.getLogger(__name__)

KINDS: Final = ("PageExtraction", "ScriptGrading", "QuestionGrading", "SchemeDocument")
"""``response_format.json_schema.name`` values the fake knows how to answer."""

SCRIPT_KINDS: Final = (*KINDS, "any")

FAULTS: Final = ("429", "500", "hang", "truncated", "length", "invalid", "refusal")
"""Fault names usable in ``fault_rates`` and in scripted ``{"fault": ...}`` entries.

``length`` is ``truncated`` reported with ``finish_reason: "length"`` (what the
real API does when ``max_completion_tokens`` cuts the JSON short).
"""

MODELS: Final = ("gpt-4.1-mini", "gpt-4.1")

CHARS_PER_TOKEN: Final = 4
IMAGE_TOKENS: Final = 765
CACHE_BLOCK_CHARS: Final = 1024 * CHARS_PER_TOKEN
FULL_MARKS_WORDS: Final = 12
SHORT_ANSWER_WORDS: Final = 4
REFUSAL_TEXT: Final = "I'm sorry, but I can't help with that request."

_MODEL_CREATED: Final = 1744316542
_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_ANSWERS_RE: Final = re.compile(r"<answers>(.*?)</answers>", re.DOTALL)
_WORD_RE: Final = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
_DATA_URL_RE: Final = re.compile(r"^data:image/(?:png|jpeg|jpg|gif|webp);base64,(.+)$", re.DOTALL)
_STOPWORD_TEXT: Final = """
a an the and or but if of to in on at by for with as is are was were be been being it
its this that these those i you he she we they me my your our their them his her do
does did so not no can will would should could may might must have has had from into
than then there here what which who whom when where why how all any some just also very
"""
_STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())
_INSTRUCTION_PATTERNS: Final = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        (
            r"\b(?:ignore|disregard|forget)\s+(?:(?:all|any|the|your|my|of)\s+)*"
            r"(?:previous|prior|above|earlier|preceding|original)\s+"
            r"(?:instructions?|prompts?|rules|directions)\b"
        ),
        r"\b(?:give|award|grant)\s+(?:\w+\s+){0,3}full\s+marks\b",
        r"\byou\s+are\s+now\b",
        r"\bsystem\s+prompt\b",
    )
)


def default_extraction() -> dict[str, Any]:
    """The page the fake "reads" from any image unless a test configures another: the first three questions of
    QuizMarker's default Standard 3 mark scheme, answered."""
    return {
        "student_name": "Jane Doe",
        "standard": 3,
        "questions": [
            {
                "number": 1,
                "question": "What does duty of care mean?",
                "answer": (
                    "Duty of care means I must always act in the best interests of "
                    "the people I support and make sure I do not cause them harm, "
                    "following my training and my employer's policies."
                ),
                "legibility": 0.95,
            },
            {
                "number": 2,
                "question": (
                    "Give an example of a dilemma between a person's rights and your duty of care, and say how you "
                    "would deal with it."
                ),
                "answer": (
                    "It means I think about risks before I act, report concerns to "
                    "my manager and only carry out tasks I am trained and competent "
                    "to do."
                ),
                "legibility": 0.88,
            },
            {
                "number": 3,
                "question": "What should you do if someone makes a complaint to you?",
                "answer": "Respect their choice, explain the risks calmly, record it and tell my supervisor.",
                "legibility": 0.72,
            },
        ],
    }


class FakeOpenAIConfigError(ValueError):
    """Invalid control input (config, script); the HTTP control API answers 400."""


class _ApiError(Exception):
    """An OpenAI-style error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "error": {
                "message": message,
                "type": error_type,
                "param": param,
                "code": code,
            }
        }
        self.headers = dict(headers or {})


# --------------------------------------------------------------------------- state


@dataclass
class _Config:
    latency: float = 0.0
    fault_rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    retry_after: float = 1.0
    hang_seconds: float = 30.0
    default_extraction: dict[str, Any] = field(default_factory=default_extraction)
    calls_per_minute: int = 0  # 0: no cap

    def as_dict(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "fault_rates": dict(self.fault_rates),
            "seed": self.seed,
            "retry_after": self.retry_after,
            "hang_seconds": self.hang_seconds,
            "default_extraction": copy.deepcopy(self.default_extraction),
            "calls_per_minute": self.calls_per_minute,
        }


@dataclass(frozen=True)
class _Plan:
    """What to do with one chat completion request."""

    fault: str | None = None
    status: int | None = None
    message: str | None = None
    content: Any = None
    has_content: bool = False
    scripted: bool = False
    when: str | None = None  # used only for a request whose text contains this

    @property
    def label(self) -> str | None:
        """The ``fault`` value recorded in the request log."""
        if self.status is not None:
            return str(self.status)
        return self.fault


def _number(name: str, value: object, *, minimum: float = 0.0, maximum: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FakeOpenAIConfigError(f"{name} must be a number, got {value!r}")
    if not minimum <= value <= maximum:
        raise FakeOpenAIConfigError(f"{name} must be between {minimum} and {maximum}, got {value!r}")
    return float(value)


def _validate_fault_rates(value: object) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise FakeOpenAIConfigError("fault_rates must be an object mapping fault name to probability")
    rates: dict[str, float] = {}
    for name, rate in value.items():
        if name not in FAULTS:
            raise FakeOpenAIConfigError(f"unknown fault {name!r}; expected one of {', '.join(FAULTS)}")
        rates[name] = _number(f"fault_rates[{name!r}]", rate, maximum=1.0)
    if sum(rates.values()) > 1.0 + 1e-9:
        raise FakeOpenAIConfigError("fault_rates must add up to at most 1")
    return rates


def _validate_extraction(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise FakeOpenAIConfigError("default_extraction must be an object")
    name = value.get("student_name")
    standard = value.get("standard")
    questions = value.get("questions")
    if set(value) != {"student_name", "standard", "questions"}:
        raise FakeOpenAIConfigError("default_extraction needs exactly student_name, standard and questions")
    if name is not None and not isinstance(name, str):
        raise FakeOpenAIConfigError("default_extraction.student_name must be a string or null")
    if standard is not None and (isinstance(standard, bool) or not isinstance(standard, int)):
        raise FakeOpenAIConfigError("default_extraction.standard must be an integer or null")
    if not isinstance(questions, list):
        raise FakeOpenAIConfigError("default_extraction.questions must be a list")
    for index, question in enumerate(questions):
        where = f"default_extraction.questions[{index}]"
        if not isinstance(question, Mapping) or set(question) != {
            "number",
            "question",
            "answer",
            "legibility",
        }:
            raise FakeOpenAIConfigError(f"{where} needs exactly number, question, answer and legibility")
        if isinstance(question["number"], bool) or not isinstance(question["number"], int):
            raise FakeOpenAIConfigError(f"{where}.number must be an integer")
        if not isinstance(question["question"], str) or not isinstance(question["answer"], str):
            raise FakeOpenAIConfigError(f"{where}.question and .answer must be strings")
        _number(f"{where}.legibility", question["legibility"], maximum=1.0)
    return copy.deepcopy(dict(value))


def _validate_seed(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FakeOpenAIConfigError(f"seed must be an integer, got {value!r}")
    return value


def _validate_calls_per_minute(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FakeOpenAIConfigError(f"calls_per_minute must be a whole number, 0 for no cap; got {value!r}")
    return value


# Every key configure() accepts, and the check that turns its value into the config's (or says what is wrong).
_CONFIG_CHECKS: dict[str, Callable[[object], Any]] = {
    "latency": partial(_number, "latency"),
    "fault_rates": _validate_fault_rates,
    "seed": _validate_seed,
    "retry_after": partial(_number, "retry_after"),
    "hang_seconds": partial(_number, "hang_seconds"),
    "default_extraction": _validate_extraction,
    "calls_per_minute": _validate_calls_per_minute,
}


def _parse_script_entry(entry: object) -> _Plan:
    if not isinstance(entry, Mapping):
        raise FakeOpenAIConfigError(f"script response must be an object, got {entry!r}")
    when = entry.get("when")
    if when is not None and (not isinstance(when, str) or not when):
        raise FakeOpenAIConfigError("script when must be a non-empty string (text the request must contain)")
    if when is not None:
        return dataclasses.replace(_parse_script_entry({k: v for k, v in entry.items() if k != "when"}), when=when)
    keys = set(entry) & {"fault", "json", "status"}
    if len(keys) != 1 or set(entry) - {"fault", "json", "status", "message"}:
        raise FakeOpenAIConfigError(
            'script response must be one of {"fault": name}, {"json": value}, '
            f'{{"status": code, "message"?: text}}; got {dict(entry)!r}'
        )
    if "fault" in entry:
        fault = entry["fault"]
        if fault in (None, "none"):
            return _Plan(scripted=True)
        if fault not in FAULTS:
            raise FakeOpenAIConfigError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)} or 'none'")
        return _Plan(fault=str(fault), scripted=True)
    if "json" in entry:
        return _Plan(content=copy.deepcopy(entry["json"]), has_content=True, scripted=True)
    status = entry["status"]
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise FakeOpenAIConfigError(f"script status must be an integer 400..599, got {status!r}")
    message = entry.get("message")
    if message is not None and not isinstance(message, str):
        raise FakeOpenAIConfigError("script message must be a string")
    return _Plan(status=status, message=message, scripted=True)


class _State:
    """Everything the fake remembers; shared by all handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self.gate = threading.Event()  # cleared: every answer is held until it is set again
        self.gate.set()
        self._clear()

    def _clear(self) -> None:
        self._config = _Config()
        self._rng = random.Random(self._config.seed)
        self._scripts: list[tuple[str, _Plan]] = []
        self._log: list[dict[str, Any]] = []
        self._seen_prefixes: set[bytes] = set()
        self._max_in_flight = self._in_flight
        self._minute = (0, 0)  # (clock minute, calls let through in it) for calls_per_minute

    def reset(self) -> None:
        with self._lock:
            self._clear()
        self.gate.set()

    def configure(self, updates: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(updates) - set(_CONFIG_CHECKS)
        if unknown:
            raise FakeOpenAIConfigError(f"unknown config keys: {', '.join(sorted(unknown))}")
        changes = {key: check(updates[key]) for key, check in _CONFIG_CHECKS.items() if key in updates}
        with self._lock:
            for key, value in changes.items():
                setattr(self._config, key, value)
            if "seed" in changes:
                self._rng = random.Random(changes["seed"])
            return self._config.as_dict()

    def config(self) -> dict[str, Any]:
        with self._lock:
            return self._config.as_dict()

    def settings(self) -> _Config:
        """A private copy of the current config for one request."""
        with self._lock:
            return copy.deepcopy(self._config)

    def add_script(self, kind: object, responses: object) -> int:
        if kind not in SCRIPT_KINDS:
            raise FakeOpenAIConfigError(f"script kind must be one of {', '.join(SCRIPT_KINDS)}, got {kind!r}")
        if isinstance(responses, str | bytes) or not isinstance(responses, Iterable):
            raise FakeOpenAIConfigError("script responses must be a list")
        plans = [_parse_script_entry(entry) for entry in responses]
        with self._lock:
            self._scripts.extend((str(kind), plan) for plan in plans)
            return len(self._scripts)

    def plan_for(self, kind: str, text: str = "") -> _Plan:
        """Consume the oldest matching scripted response (of this kind, and whose ``when`` the request's text
        contains), else draw a random fault."""
        with self._lock:
            for index, (script_kind, plan) in enumerate(self._scripts):
                if script_kind in (kind, "any") and (plan.when is None or plan.when in text):
                    del self._scripts[index]
                    return plan
            draw = self._rng.random()
            threshold = 0.0
            for fault in FAULTS:
                threshold += self._config.fault_rates.get(fault, 0.0)
                if draw < threshold:
                    return _Plan(fault=fault)
            return _Plan()

    def over_minute_cap(self, cap: int) -> float | None:
        """Count a call against this clock minute's cap; None if it may go ahead, else the seconds to the next
        minute (its Retry-After)."""
        now = time.time()
        minute = int(now // 60)
        with self._lock:
            counted = self._minute[1] if self._minute[0] == minute else 0
            if counted >= cap:
                return round((minute + 1) * 60 - now, 3) or 0.001
            self._minute = (minute, counted + 1)
            return None

    def cached_tokens(self, serialized: str) -> int:
        """Tokens of the longest block-aligned prefix seen before; remembers this."""
        hasher = hashlib.sha256()
        digests: list[bytes] = []
        for start in range(0, len(serialized) - CACHE_BLOCK_CHARS + 1, CACHE_BLOCK_CHARS):
            hasher.update(serialized[start : start + CACHE_BLOCK_CHARS].encode())
            digests.append(hasher.copy().digest())
        with self._lock:
            hits = 0
            for digest in digests:
                if digest not in self._seen_prefixes:
                    break
                hits += 1
            self._seen_prefixes.update(digests)
        return hits * CACHE_BLOCK_CHARS // CHARS_PER_TOKEN

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            entry["id"] = len(self._log) + 1
            self._log.append(entry)

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._log)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_kind = Counter(str(entry["kind"]) for entry in self._log)
            by_fault = Counter(entry["fault"] or "none" for entry in self._log)
            by_status = Counter(
                "no_response" if entry["status"] is None else str(entry["status"]) for entry in self._log
            )
            return {
                "requests": len(self._log),
                "by_kind": dict(by_kind),
                "by_fault": dict(by_fault),
                "by_status": dict(by_status),
                "prompt_tokens": sum(entry["prompt_tokens"] for entry in self._log),
                "cached_tokens": sum(entry["cached_tokens"] for entry in self._log),
                "completion_tokens": sum(entry["completion_tokens"] for entry in self._log),
                "in_flight": self._in_flight,
                "max_concurrent": self._max_in_flight,
                "scripts_pending": len(self._scripts),
                "ok_by_minute": dict(
                    sorted(Counter(int(e["time"] // 60) * 60 for e in self._log if e["status"] == 200).items())
                ),
            }


# --------------------------------------------------------------------------- "model"


@dataclass(frozen=True)
class _ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    kind: str


def _check_image_url(url: object) -> None:
    if not isinstance(url, str):
        raise _ApiError(
            400,
            "image_url.url must be a string.",
            param="messages",
            code="invalid_image_url",
        )
    if url.startswith(("https://", "http://")):
        return
    match = _DATA_URL_RE.match(url)
    if match is None:
        raise _ApiError(
            400,
            "Invalid image URL: expected a data:image/{png,jpeg,gif,webp};base64,... URL.",
            param="messages",
            code="invalid_image_url",
        )
    try:
        base64.b64decode(match.group(1), validate=True)
    except binascii.Error as exc:
        raise _ApiError(
            400,
            "Invalid base64 in image data URL.",
            param="messages",
            code="invalid_image_format",
        ) from exc


def _check_messages(messages: object) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise _ApiError(400, "'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _ApiError(
                400,
                f"Invalid {where}: expected an object with a valid 'role'.",
                param=where,
            )
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _ApiError(
                400,
                f"Invalid {where}.content: expected a string or an array.",
                param=where,
            )
        for part in content:
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _ApiError(400, f"Invalid content part in {where}.", param=where)
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise _ApiError(
                    400,
                    f"Invalid text part in {where}: 'text' must be a string.",
                    param=where,
                )
            if part["type"] == "image_url":
                image = part.get("image_url")
                _check_image_url(image.get("url") if isinstance(image, dict) else None)
    return messages


def _parse_chat_request(body: object) -> _ChatRequest:
    if not isinstance(body, dict):
        raise _ApiError(400, "The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _ApiError(400, "you must provide a model parameter", param="model")
    if body.get("stream"):
        raise _ApiError(400, "The fake OpenAI server does not support streaming.", param="stream")
    messages = _check_messages(body.get("messages"))
    response_format = body.get("response_format")
    schema = response_format.get("json_schema") if isinstance(response_format, dict) else None
    if (
        not isinstance(response_format, dict)
        or response_format.get("type") != "json_schema"
        or not isinstance(schema, dict)
    ):
        raise _ApiError(
            400,
            "The fake OpenAI server only answers "
            "response_format={'type': 'json_schema', ...} (use "
            "client.chat.completions.parse(response_format=<PydanticModel>)).",
            param="response_format",
        )
    name = schema.get("name")
    if not isinstance(name, str) or not name:
        raise _ApiError(
            400,
            "response_format.json_schema.name is required.",
            param="response_format",
        )
    return _ChatRequest(model=model, messages=messages, kind=name)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise _ApiError(
            400,
            "Invalid schema for response_format: the fake OpenAI server has no "
            f"model for {kind!r}; supported names are {', '.join(KINDS)}.",
            param="response_format",
            code="invalid_json_schema",
        )


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _serialize_messages(messages: list[dict[str, Any]]) -> str:
    """The prompt as the fake tokenizer sees it; an image costs IMAGE_TOKENS."""
    chunks: list[str] = []
    for message in messages:
        chunks.append(f"<|{message['role']}|>")
        content = message.get("content")
        if isinstance(content, str):
            chunks.append(content)
        elif isinstance(content, list):
            for part in content:
                if part["type"] == "text":
                    chunks.append(part["text"])
                elif part["type"] == "image_url":
                    digest = hashlib.sha256(str(part["image_url"]["url"]).encode()).hexdigest()[:16]
                    chunks.append(f"<|image:{digest}|>".ljust(IMAGE_TOKENS * CHARS_PER_TOKEN, "."))
                else:
                    chunks.append(json.dumps(part, sort_keys=True))
        if message.get("tool_calls"):
            chunks.append(json.dumps(message["tool_calls"], sort_keys=True))
        chunks.append("<|end|>")
    return "".join(chunks)


def _tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _answers(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
    matches = _ANSWERS_RE.findall(_content_text(last_user["content"])) if last_user else []
    if not matches:
        raise _ApiError(
            400,
            f"fake OpenAI: a {kind} request needs <answers>JSON</answers> in the last user message.",
            param="messages",
        )
    try:
        answers = json.loads(matches[-1])
    except json.JSONDecodeError as exc:
        raise _ApiError(400, f"fake OpenAI: <answers> is not valid JSON: {exc}", param="messages") from exc
    if isinstance(answers, dict):
        answers = [answers]
    if not isinstance(answers, list) or not answers:
        raise _ApiError(
            400,
            "fake OpenAI: <answers> must hold a non-empty JSON list.",
            param="messages",
        )
    for answer in answers:
        if (
            not isinstance(answer, dict)
            or isinstance(answer.get("number"), bool)
            or not isinstance(answer.get("number"), int)
            or not isinstance(answer.get("question"), str)
            or not isinstance(answer.get("answer"), str)
            or isinstance(answer.get("max_score"), bool)
            or not isinstance(answer.get("max_score"), int | float)
        ):
            raise _ApiError(
                400,
                "fake OpenAI: each <answers> item needs number (int), question "
                f"(str), answer (str) and max_score (number); got {answer!r}",
                param="messages",
            )
    if kind == "QuestionGrading" and len(answers) != 1:
        raise _ApiError(
            400,
            "fake OpenAI: a QuestionGrading request needs exactly one answer.",
            param="messages",
        )
    return answers


def is_instruction_attempt(text: str) -> bool:
    """Whether an answer tries to instruct the marker (prompt injection)."""
    return any(pattern.search(text) for pattern in _INSTRUCTION_PATTERNS)


_SENTENCE_SPLIT_RE: Final = re.compile(r"(?<=[.;!?])\s+")
POINT_PREFIX: Final = 5


def _same_word(a: str, b: str) -> bool:
    return a == b or (min(len(a), len(b)) >= POINT_PREFIX and a[:POINT_PREFIX] == b[:POINT_PREFIX])


def _content(text: str) -> list[str]:
    return [w.lower() for w in _WORD_RE.findall(text) if w.lower() not in _STOPWORDS and len(w) >= 3]


def judge_points(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The fake marker for a question with marking points (QuizMarker's grade-v2-points requests): deterministic. A
    point is met when at least half of its statement's content words (5-letter prefixes) are in the answer; the
    quote is the answer's sentence holding most of them. An instruction attempt meets nothing."""
    number = int(answer["number"])
    text = str(answer["answer"])
    words = [word for word in _WORD_RE.findall(text) if word.lower() not in _STOPWORDS]
    attempt = is_instruction_attempt(text)
    sentences = [s.strip() for s in _SENTENCE_SPLIT_RE.split(text) if s.strip()]
    decisions, met_names, missed_names = [], [], []
    for point in answer["points"]:
        wanted = _content(str(point["statement"]))
        per_sentence = [
            (sum(1 for w in wanted if any(_same_word(w, a) for a in _content(sentence))), sentence)
            for sentence in sentences
        ]
        found = sum(1 for w in wanted if any(_same_word(w, a) for a in _content(text)))
        met = not attempt and bool(wanted) and found * 2 >= len(wanted)
        quote = max(per_sentence, key=lambda item: item[0])[1] if met and per_sentence else ""
        decisions.append({"point": point["point"], "met": met, "quote": quote})
        (met_names if met else missed_names).append(str(point["statement"]))
    if attempt:
        feedback = "The answer contains instructions aimed at the marker instead of an answer, so it meets no point."
    elif not words:
        feedback = f"No answer was written for question {number}."
    else:
        feedback = f"Question {number}: {len(met_names)} of {len(decisions)} marking points made."
    return {
        "number": number,
        "points": decisions,
        "feedback": feedback,
        "confidence": 0.9 if attempt or len(words) >= SHORT_ANSWER_WORDS else 0.4,
        "instruction_attempt": attempt,
    }


def grade_answer(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The fake marker: deterministic. With marking points (``points`` in the answer), see :func:`judge_points`;
    without, it scores by the number of content words."""
    if isinstance(answer.get("points"), list):
        return judge_points(answer)
    number = int(answer["number"])
    max_score = answer["max_score"]
    text = str(answer["answer"])
    words = [word for word in _WORD_RE.findall(text) if word.lower() not in _STOPWORDS]
    confidence = 0.4 if len(words) < SHORT_ANSWER_WORDS else 0.9
    if is_instruction_attempt(text):
        return {
            "number": number,
            "score": 0,
            "max_score": max_score,
            "feedback": (
                "The answer contains instructions aimed at the marker instead of "
                "an answer to the question, so it receives no credit."
            ),
            "confidence": 0.9,
            "instruction_attempt": True,
        }
    raw = max_score * min(1.0, len(words) / FULL_MARKS_WORDS)
    score = min(float(max_score), math.floor(raw * 2 + 0.5) / 2)
    if not words:
        feedback = f"No answer was written for question {number}."
    elif score >= max_score:
        feedback = f"A full answer to question {number} that covers the key points in enough detail."
    elif score > 0:
        feedback = (
            f"A partial answer to question {number}: it is on the right lines "
            "but needs more detail and a specific example."
        )
    else:
        feedback = f"The answer to question {number} is too brief to earn credit; explain the point in full sentences."
    return {
        "number": number,
        "score": score,
        "max_score": max_score,
        "feedback": feedback,
        "confidence": confidence,
        "instruction_attempt": False,
    }


def _model_output(request: _ChatRequest, extraction: dict[str, Any]) -> dict[str, Any]:
    if request.kind == "PageExtraction":
        return copy.deepcopy(extraction)
    if request.kind == "SchemeDocument":  # a page of a quiz or mark scheme: script what it shows; else nothing found
        return {"title": None, "questions": []}
    results = [grade_answer(answer) for answer in _answers(request.messages, request.kind)]
    if request.kind == "QuestionGrading":
        return results[0]
    return {"results": results}


def _invalidate(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Well-formed JSON that breaks the contract of ``kind``.

    * ScriptGrading: the first result scores max_score + 1 (with marking
      points: leaves its first point undecided) and, with more than one
      answer, the last result is missing.
    * QuestionGrading: the score is max_score + 1 (with marking points: the
      first point is left undecided).
    * PageExtraction: the first question's legibility is 1.5 and the last
      question has no ``answer`` key (a required field).
    """
    broken = copy.deepcopy(payload)
    if kind == "ScriptGrading":
        results = broken["results"]
        if "points" in results[0]:
            results[0]["points"] = results[0]["points"][1:]  # a marking point left undecided
        else:
            results[0]["score"] = results[0]["max_score"] + 1
        if len(results) > 1:
            results.pop()
    elif kind == "QuestionGrading":
        if "points" in broken:
            broken["points"] = broken["points"][1:]
        else:
            broken["score"] = broken["max_score"] + 1
    elif kind == "SchemeDocument":
        broken.pop("questions", None)
    elif broken.get("questions"):
        broken["questions"][0]["legibility"] = 1.5
        broken["questions"][-1].pop("answer", None)
    else:
        broken.pop("questions", None)
    return broken


# --------------------------------------------------------------------------- HTTP


@dataclass
class _Reply:
    status: int | None  # None: hang up without answering
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _error_reply(error: _ApiError) -> _Reply:
    return _Reply(status=error.status, body=error.body, headers=error.headers)


def _retry_after_headers(seconds: float) -> dict[str, str]:
    text = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
    return {"Retry-After": text, "retry-after-ms": str(round(seconds * 1000))}


def _status_error(status: int, message: str | None, retry_after: float) -> _ApiError:
    if status == 429:
        return _ApiError(
            429,
            message
            or (
                "Rate limit reached for requests per min (RPM): Limit 500, "
                f"Used 500, Requested 1. Please try again in {retry_after:g}s."
            ),
            error_type="rate_limit_error",
            code="rate_limit_exceeded",
            headers=_retry_after_headers(retry_after),
        )
    if status >= 500:
        return _ApiError(
            status,
            message or "The server had an error while processing your request. Sorry about that!",
            error_type="server_error",
        )
    return _ApiError(status, message or HTTPStatus(status).phrase)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive or hung sockets."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "FakeOpenAI/1.0"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), fmt % args)

    # ---------------------------------------------------------------- routing

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            body = self._read_body()
            if path.startswith("/_control/"):
                self._send(self._control(method, path.removeprefix("/_control/"), body))
            elif path == "/v1/chat/completions" and method == "POST":
                self._chat_completions(body)
            elif path.startswith("/v1/models") and method == "GET":
                self._send(self._models(path))
            else:
                self._send(_error_reply(_ApiError(404, f"Invalid URL ({method} {self.path})")))
        except _ApiError as error:
            self._send(_error_reply(error))
        except Exception as exc:
            log.exception("fake OpenAI server error")
            self._send(
                _error_reply(
                    _ApiError(
                        500,
                        f"fake OpenAI internal error: {exc!r}",
                        error_type="server_error",
                    )
                )
            )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _json(body: bytes, *, empty: object) -> Any:
        if not body.strip():
            return empty
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _ApiError(400, f"We could not parse the JSON body of your request: {exc}") from exc

    def _check_auth(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise _ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key "
                "in an Authorization header using Bearer auth "
                "(i.e. Authorization: Bearer YOUR_KEY).",
                code="invalid_api_key",
            )

    # ---------------------------------------------------------------- /v1

    def _models(self, path: str) -> _Reply:
        self._check_auth()
        self._pause(self.server.state.settings().latency)
        models = [
            {
                "id": name,
                "object": "model",
                "created": _MODEL_CREATED,
                "owned_by": "system",
            }
            for name in MODELS
        ]
        if path == "/v1/models":
            return _Reply(200, {"object": "list", "data": models})
        wanted = path.removeprefix("/v1/models/")
        for model in models:
            if model["id"] == wanted:
                return _Reply(200, model)
        raise _ApiError(
            404,
            f"The model '{wanted}' does not exist",
            param="model",
            code="model_not_found",
        )

    def _chat_completions(self, raw: bytes) -> None:
        state = self.server.state
        settings = state.settings()
        entry: dict[str, Any] = {
            "time": time.time(),
            "kind": None,
            "model": None,
            "fault": None,
            "scripted": False,
            "status": None,
            "prompt_tokens": 0,
            "cached_tokens": 0,
            "completion_tokens": 0,
            "messages": None,
        }
        with state.in_flight():
            try:
                self._check_auth()
                request = _parse_chat_request(self._json(raw, empty=None))
                entry.update(kind=request.kind, model=request.model, messages=request.messages)
                _check_kind(request.kind)
                reply = self._answer(request, state, settings, entry)
            except _ApiError as error:
                reply = _error_reply(error)
            entry["status"] = reply.status
            state.record(entry)
            self._pause(settings.latency)
            # Held (FakeOpenAI.hold): recorded and in flight, not answered yet. Checked after the latency, so that a
            # request already waiting out its latency when hold() is called is held too, not answered a moment later.
            if not state.gate.is_set():
                state.gate.wait(settings.hang_seconds)
            if reply.status is None:
                self._pause(settings.hang_seconds)
                self.close_connection = True
                return
            self._send(reply)

    def _answer(
        self,
        request: _ChatRequest,
        state: _State,
        settings: _Config,
        entry: dict[str, Any],
    ) -> _Reply:
        serialized = _serialize_messages(request.messages)
        prompt_tokens = _tokens(serialized)
        entry["prompt_tokens"] = prompt_tokens
        wait = state.over_minute_cap(settings.calls_per_minute) if settings.calls_per_minute else None
        if wait is not None:
            entry["fault"] = "calls_per_minute"
            message = (
                f"Rate limit reached for requests per min (RPM): Limit {settings.calls_per_minute}, Used "
                f"{settings.calls_per_minute}, Requested 1. Please try again in {wait:g}s."
            )
            return _error_reply(_status_error(429, message, wait))
        payload = _model_output(request, settings.default_extraction)
        plan = state.plan_for(request.kind, "\n".join(_content_text(m.get("content")) for m in request.messages))
        entry.update(fault=plan.label, scripted=plan.scripted)
        if plan.status is not None:
            return _error_reply(_status_error(plan.status, plan.message, settings.retry_after))
        if plan.fault in ("429", "500"):
            return _error_reply(_status_error(int(plan.fault), None, settings.retry_after))
        if plan.fault == "hang":
            return _Reply(status=None)

        cached = state.cached_tokens(serialized)
        finish_reason = "stop"
        refusal: str | None = None
        content: str | None
        if plan.has_content:
            content = json.dumps(plan.content)
        elif plan.fault == "refusal":
            content, refusal = None, REFUSAL_TEXT
        else:
            if plan.fault == "invalid":
                payload = _invalidate(request.kind, payload)
            content = json.dumps(payload)
            if plan.fault in ("truncated", "length"):
                content = content[: len(content) // 2]
                finish_reason = "stop" if plan.fault == "truncated" else "length"
        completion_tokens = _tokens(content or refusal or "")
        entry.update(cached_tokens=cached, completion_tokens=completion_tokens)
        return _Reply(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": content,
                            "refusal": refusal,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {
                        "cached_tokens": cached,
                        "audio_tokens": 0,
                    },
                    "completion_tokens_details": {
                        "reasoning_tokens": 0,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                },
                "service_tier": "default",
                "system_fingerprint": "fp_fakeopenai",
            },
        )

    # ---------------------------------------------------------------- /_control

    def _control(self, method: str, action: str, raw: bytes) -> _Reply:
        state = self.server.state
        body = self._json(raw, empty={})
        try:
            if action == "reset" and method == "POST":
                state.reset()
                return _Reply(200, {"ok": True})
            if action == "config" and method == "GET":
                return _Reply(200, state.config())
            if action == "config" and method == "POST":
                if not isinstance(body, dict):
                    raise FakeOpenAIConfigError("config body must be a JSON object")
                return _Reply(200, state.configure(body))
            if action == "script" and method == "POST":
                if not isinstance(body, dict) or set(body) != {"kind", "responses"}:
                    raise FakeOpenAIConfigError('script body must be {"kind": ..., "responses": [...]}')
                return _Reply(200, {"pending": state.add_script(body["kind"], body["responses"])})
            if action == "requests" and method == "GET":
                return _Reply(200, {"requests": state.requests()})
            if action == "stats" and method == "GET":
                return _Reply(200, state.stats())
        except FakeOpenAIConfigError as exc:
            raise _ApiError(400, str(exc)) from exc
        raise _ApiError(404, f"Invalid URL ({method} {self.path})")

    # ---------------------------------------------------------------- output

    def _pause(self, seconds: float) -> None:
        """Sleep without holding any lock; cut short when the server stops."""
        if seconds > 0 and self.server.stopping.wait(seconds):
            self.close_connection = True

    def _send(self, reply: _Reply) -> None:
        if self.server.stopping.is_set() or reply.status is None:
            self.close_connection = True
            return
        data = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
            self.send_header("openai-processing-ms", "1")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


# --------------------------------------------------------------------------- public


class FakeOpenAI:
    """An OpenAI-compatible server on loopback, for ``openai.OpenAI(base_url=...)``.

    Use as a context manager or call :meth:`start` / :meth:`stop`.  The control
    methods work before :meth:`start` too.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already running")
        server = _Server((self.host, self._requested_port), self._state)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeOpenAI:{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Root URL of the server (control endpoints live under ``/_control``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` for ``openai.OpenAI``."""
        return f"{self.url}/v1"

    # ---------------------------------------------------------------- control

    def reset(self) -> None:
        """Clear scripts, config, the request log and the prompt-cache memory."""
        self._state.reset()

    def configure(
        self,
        *,
        latency: float | None = None,
        fault_rates: Mapping[str, float] | None = None,
        seed: int | None = None,
        retry_after: float | None = None,
        hang_seconds: float | None = None,
        default_extraction: Mapping[str, Any] | None = None,
        calls_per_minute: int | None = None,
    ) -> dict[str, Any]:
        """Update the given settings (``None`` leaves one as is); returns the config.

        ``fault_rates`` replaces the previous mapping; ``seed`` re-seeds the fault RNG.
        """
        given = {
            "latency": latency,
            "fault_rates": fault_rates,
            "seed": seed,
            "retry_after": retry_after,
            "hang_seconds": hang_seconds,
            "default_extraction": default_extraction,
            "calls_per_minute": calls_per_minute,
        }
        return self._state.configure({key: value for key, value in given.items() if value is not None})

    def config(self) -> dict[str, Any]:
        return self._state.config()

    def script(self, kind: str, responses: Iterable[Mapping[str, Any]]) -> int:
        """Queue responses for the next requests of ``kind`` (or ``"any"``).

        Returns the number of scripted responses now pending.  Each response is
        ``{"fault": name | "none"}``, ``{"json": value}`` (returned as the message
        content) or ``{"status": code, "message"?: text}``, each with an optional
        ``"when": text``: used only for a request whose messages contain that text
        (say ``"Page 2 of"``, when pages are read concurrently).
        """
        return self._state.add_script(kind, list(responses))

    def requests(self) -> list[dict[str, Any]]:
        """The chat completion requests received, oldest first."""
        return self._state.requests()

    def stats(self) -> dict[str, Any]:
        return self._state.stats()

    def hold(self) -> None:
        """Hold every answer until :meth:`release` (or ``hang_seconds``): requests are recorded and counted in flight
        meanwhile. A test waits for a request to arrive, acts while the call is surely still open (kill the worker,
        cancel the job), then releases — no latency to guess."""
        self._state.gate.clear()

    def release(self) -> None:
        """Answer the held requests, and every later one as usual."""
        self._state.gate.set()
