"""Log filter that keeps secrets out of log output."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    re.compile(r"(sk-[A-Za-z0-9_\-]{8})[A-Za-z0-9_\-]+"),  # OpenAI-style keys
    re.compile(r"(?i)(authorization:\s*(?:token|bearer)\s+)\S+"),
    re.compile(r"(?i)((?:password|secret|api_key|token)=)[^\s&]+"),
    re.compile(r"(://[^:/\s]+:)[^@\s]+(@)"),  # credentials inside URLs
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***" + (m.group(2) if m.lastindex and m.lastindex > 1 else ""), text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
