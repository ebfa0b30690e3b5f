"""Emails drawn from a pair of templates: ``NAME.txt`` is the body, ``NAME.html`` its HTML alternative."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def templated_email(template: str, context: dict, *, subject: str, to: list[str]) -> EmailMultiAlternatives:
    """The message, not sent: the caller sends it (or hands it to the email job, which does)."""
    message = EmailMultiAlternatives(subject=subject, body=render_to_string(f"{template}.txt", context), to=to)
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message
