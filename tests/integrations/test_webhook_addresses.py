"""Webhook addresses (issue 19, item 10): names are resolved at send time, non-public addresses are refused, the
connection goes to the address that was checked, and failures are shown by category, never as raw exception text.

DNS is the outside world here, so it is the one thing faked (``socket.getaddrinfo`` for names ending in ``.test``);
receivers are real servers on loopback, allowed by the test-only WEBHOOKS_ALLOW_LOOPBACK setting.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError

from integrations import addresses, signing, transport, webhook_events
from integrations import delivery as deliveries
from integrations.models import WebhookDelivery, WebhookEndpoint
from tests.helpers import ROOT
from tests.integrations.receiver import Receiver

pytestmark = pytest.mark.django_db

_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def dns(monkeypatch):
    """Scripted answers for names ending in .test: name -> list of answers, one list per lookup (the last repeats)."""
    answers: dict[str, list[list[str]]] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".test"):
            lookups.append(host)
            script = answers[host]
            addresses = script.pop(0) if len(script) > 1 else script[0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


def _deliver_to(personas, url: str) -> WebhookDelivery:
    """One delivery to ``url``, stored as it is (what is checked here is sending, not registering)."""
    endpoint = WebhookEndpoint.objects.create(
        organization=personas.alpha, url=url, events=["job.completed"], secret=signing.new_secret()
    )
    [delivery] = webhook_events.emit("job.completed", personas.alpha, {"job_id": "x"}, endpoints=[endpoint])
    deliveries.deliver(delivery.pk)
    delivery.refresh_from_db()
    return delivery


@pytest.mark.parametrize(
    "address", ["10.1.2.3", "127.0.0.1", "169.254.169.254", "100.64.0.7", "192.168.1.1", "::1", "fd00::1"]
)
def test_a_name_that_resolves_to_a_non_public_address_is_refused_at_send_time(personas, dns, settings, address):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    answers, _ = dns
    answers["inside.test"] = [[address]]
    delivery = _deliver_to(personas, "http://inside.test:8080/hook")  # the name passes registration
    assert delivery.status == "failed", "never retried: the address is one we never send to"
    assert delivery.last_error.startswith("address not allowed:")
    assert delivery.attempts == 1 and delivery.response_code is None


def test_one_non_public_address_among_public_ones_is_enough_to_refuse(personas, dns):
    answers, _ = dns
    answers["mixed.test"] = [["93.184.216.34", "10.0.0.8"]]
    assert _deliver_to(personas, "https://mixed.test/hook").last_error.startswith("address not allowed:")


def test_the_connection_goes_to_the_address_that_was_checked(personas, dns):
    """A name that answers a safe address to the check and an internal one to a second lookup (DNS rebinding)
    reaches the checked address, and is looked up once."""
    answers, lookups = dns
    answers["rebind.test"] = [["127.0.0.1"], ["10.0.0.9"]]
    with Receiver() as receiver:
        port = receiver.server.server_port
        delivery = _deliver_to(personas, f"http://rebind.test:{port}/hook")
        assert delivery.status == "delivered", delivery.last_error
        [received] = receiver.received
    assert received.headers["Host"] == f"rebind.test:{port}"
    assert received.path == "/hook"
    assert lookups == ["rebind.test"]


def test_literal_non_public_addresses_are_refused_when_registered(settings):
    for url in ("https://10.0.0.5/hook", "https://169.254.169.254/latest", "https://100.64.1.1/", "http://[fd00::1]/"):
        with pytest.raises(ValidationError, match="non-public"):
            addresses.validate_url(url)
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    for url in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://[::1]:9/"):
        with pytest.raises(ValidationError, match="non-public"):
            addresses.validate_url(url)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_is_shown_as_refused(personas):
    delivery = _deliver_to(personas, f"http://127.0.0.1:{_closed_port()}/hook")
    assert delivery.status == "pending"  # retried later
    assert delivery.last_error == f"refused: {transport.CATEGORIES['refused']}"


def test_a_receiver_that_never_answers_is_shown_as_timed_out(personas, monkeypatch):
    monkeypatch.setattr(deliveries, "TIMEOUT_SECONDS", 0.3)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts connections, never answers
    try:
        delivery = _deliver_to(personas, f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
    finally:
        listener.close()
    assert delivery.last_error == f"timed out: {transport.CATEGORIES['timed out']}"


def test_a_tls_failure_is_shown_as_tls_not_as_the_exception(personas):
    with Receiver() as receiver:  # plain HTTP: the TLS handshake fails
        delivery = _deliver_to(personas, f"https://127.0.0.1:{receiver.server.server_port}/hook")
    assert delivery.last_error == f"TLS: {transport.CATEGORIES['TLS']}"
    assert "SSL" not in delivery.last_error and "Errno" not in delivery.last_error


def test_the_loopback_allowance_cannot_be_turned_on_in_production():
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "QUIZMARKER_TESTING": "false",
        "SECRET_KEY": "x7" * 30 + "-production-secret",
        "WEBHOOKS_ALLOW_LOOPBACK": "true",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "WEBHOOKS_ALLOW_LOOPBACK" in result.stderr


def test_a_loopback_receiver_is_refused_without_the_allowance(personas, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    with Receiver() as receiver:
        delivery = _deliver_to(personas, f"http://localhost:{receiver.server.server_port}/hook")
        assert receiver.received == []
    assert delivery.last_error.startswith("address not allowed:")
