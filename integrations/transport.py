"""The one door webhooks use to reach the outside world.

A receiver's host name is resolved here, at send time, and every address it resolves to must be a global one:
private, loopback, link-local (169.254.169.254, the cloud metadata service), shared (100.64.0.0/10), multicast and
reserved addresses are refused, so a name that points inside our network cannot be used to reach it. The connection
then goes to the address that was checked — never a second DNS lookup — with the name kept for the Host header,
TLS's SNI and certificate check. Loopback receivers are allowed only with ``WEBHOOKS_ALLOW_LOOPBACK`` (tests).

Failures come back as a ``DeliveryError`` whose ``category`` is what a person is shown ("refused", "timed out",
"TLS", "address not allowed", ...), never the exception's own text, which can carry internal detail.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

# What each category means, for the delivery log.
CATEGORIES = {
    "address not allowed": "The address resolves to a private, loopback or otherwise non-public network address.",
    "DNS": "The receiver's host name does not resolve.",
    "refused": "The receiver refused the connection.",
    "timed out": "The receiver did not answer in time.",
    "TLS": "The receiver's TLS certificate or handshake failed.",
    "connection failed": "The connection to the receiver failed.",
}


class DeliveryError(Exception):
    """A delivery that did not get an HTTP answer; ``category`` is a key of CATEGORIES."""

    def __init__(self, category: str):
        super().__init__(category)
        self.category = category

    @property
    def permanent(self) -> bool:
        """Retrying cannot help (the address is one we never send to)."""
        return self.category == "address not allowed"


def address_allowed(address: str) -> bool:
    """Whether we may connect to this IP address: a global one, or loopback when the setting allows it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return bool(settings.WEBHOOKS_ALLOW_LOOPBACK)
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (one lookup); a literal IP is itself."""
    try:
        return [ipaddress.ip_address(host.strip("[]")).compressed]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryError("DNS") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_address(host: str, port: int) -> str:
    """The address to connect to: refused unless every address the name has is allowed (an attacker's name may
    mix a public address with a private one)."""
    addresses = resolve(host, port)
    if not addresses or not all(address_allowed(a) for a in addresses):
        raise DeliveryError("address not allowed")
    return addresses[0]


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST the body and return the status code. Redirects are not followed (a receiver answers where it is)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    address = checked_address(host, port)
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    options: dict = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False, "maxsize": 1}
    if https:
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs=ssl.CERT_REQUIRED,
            ca_certs=certifi.where(),
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **options)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers={**headers, "Host": host_header}, redirect=False, preload_content=True
        )
        return response.status
    except SSLError as exc:
        raise DeliveryError("TLS") from exc
    except NewConnectionError as exc:  # before timeouts: urllib3 makes it a kind of ConnectTimeoutError
        refused = isinstance(exc.__cause__, ConnectionRefusedError)
        raise DeliveryError("refused" if refused else "connection failed") from exc
    except (ConnectTimeoutError, ReadTimeoutError, TimeoutError) as exc:
        raise DeliveryError("timed out") from exc
    except (ProtocolError, OSError) as exc:
        raise DeliveryError("connection failed") from exc
    finally:
        pool.close()
