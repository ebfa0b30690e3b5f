"""The message broker (Redis): the transport every Celery connection uses, and whether the broker answers right now.

The transport is kombu's Redis transport with one workaround, for an upstream bug of celery 5.7.0 / kombu 5.7.0 (the
newest on PyPI when this was written; celery 5.6.3 did not close the connection again):

    When a worker loses the broker while it holds an unacknowledged message (every running job: acks_late), celery's
    Consumer.on_connection_error_after_connected first collect()s the connection, which detaches its transport
    (transport.client = None), and then close()s it. Closing the channel tries to hand the unacknowledged messages
    back to Redis, which builds a new Redis client from transport.client: AttributeError("'NoneType' object has no
    attribute 'hostname'") in kombu.transport.redis Channel._connparams, which is not a connection error, so the
    worker stops with "Unrecoverable error", whatever its pool. A job thread acknowledging a message after that
    meets the same AttributeError.

A channel whose connection has been collected cannot reach Redis at all. So here it does not try: closing it leaves
its unacknowledged messages where they are (in Redis's "unacked" hash, which hands them back after the visibility
timeout, if Redis still has them), and acknowledging or rejecting on it raises a connection error, which celery logs
("Couldn't ack") and survives. Neither can run a job twice: a message that comes back finds its job finished or
handed to a newer message (jobs.running.execute), and a job whose message is lost is republished by the sweeper
(jobs.housekeeping). tests/jobs/test_broker_transport.py reproduces the bug with a plain Celery app, and fails once
upstream no longer needs this, so the workaround can be removed.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings
from kombu.transport import redis as kombu_redis

from quizmarker.errors import Unavailable

logger = logging.getLogger(__name__)

TRANSPORT = "quizmarker.broker:Transport"


class Channel(kombu_redis.Channel):
    def _detached(self) -> bool:
        return self.connection is None or self.connection.client is None

    def close(self):
        if self._detached() and not self.closed:
            self.qos.restore_at_shutdown = False  # nothing can be handed back without a connection (see above)
        super().close()

    def _refuse_if_detached(self, action: str, delivery_tag) -> None:
        if self._detached():
            raise redis.exceptions.ConnectionError(
                f"cannot {action} message {delivery_tag}: its broker connection was lost (Redis keeps it unacked and "
                "hands it back after the visibility timeout, if it still has it)"
            )

    def basic_ack(self, delivery_tag, multiple=False):
        self._refuse_if_detached("acknowledge", delivery_tag)
        return super().basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag, requeue=False):
        self._refuse_if_detached("reject", delivery_tag)
        return super().basic_reject(delivery_tag, requeue=requeue)


class Transport(kombu_redis.Transport):
    Channel = Channel


# --- Is the broker up? ------------------------------------------------------------------------------------------------

# A broker found down is taken as down for this long in each process, so that while it is away each page costs a
# dictionary lookup, not a connection attempt. A broker found up is asked again next time (one PING), and so is one
# found down when new work is refused for it (require_broker): it may be back.
DOWN_SECONDS = 2.0
_state_lock = threading.Lock()
_down_since: dict[str, float] = {}  # broker URL -> when it was found down (time.monotonic())
_clients: dict[str, redis.Redis] = {}


def _client(url: str) -> redis.Redis:
    with _state_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        return _clients[url]


def broker_up(*, fresh: bool = False) -> bool:
    """Whether the broker answers a PING within half a second (``fresh``: ask even if it was just found down)."""
    url = settings.CELERY_BROKER_URL
    with _state_lock:
        down_since = _down_since.get(url)
    if not fresh and down_since is not None and time.monotonic() - down_since < DOWN_SECONDS:
        return False
    try:
        up = bool(_client(url).ping())
    except redis.RedisError:
        up = False
    with _state_lock:
        if up:
            _down_since.pop(url, None)
        else:
            _down_since[url] = time.monotonic()
    return up


def note_broker_down() -> None:
    """A publish just failed: say "down" at once, without asking."""
    with _state_lock:
        _down_since[settings.CELERY_BROKER_URL] = time.monotonic()


PAUSED = (
    "Processing is paused: the job queue is not answering, so this was not accepted. Try again in a minute; "
    "work accepted earlier carries on by itself once the queue is back."
)
RETRY_AFTER_SECONDS = 30


def require_broker() -> None:
    """Refuse new work (503 with Retry-After) while the broker is down, before anything is stored or created."""
    if not broker_up(fresh=True):
        raise Unavailable(PAUSED, code="SERVICE_UNAVAILABLE", retry_after=RETRY_AFTER_SECONDS)


# --- Did the broker lose its messages? --------------------------------------------------------------------------------

MEMORY_KEY = "quizmarker:broker-memory"  # (under the broker's global key prefix)
START_MARGIN_SECONDS = 2.0


def broker_forgot_since() -> float | None:
    """If the broker has lost what it held since anyone last asked (restarted without persistence, or failed over to
    an empty server): the time (a Unix time, by the broker's clock) before which a message may have been lost. None if
    it remembers (a key this sets is still there).

    That time is the broker's start plus START_MARGIN_SECONDS: its uptime is counted in whole seconds and the hosts
    that stamp the jobs' enqueue times keep clocks of their own, so a cut-off at the start itself could miss a message
    published a moment before the restart (its job would then wait 30 minutes for the sweeper's last rule).
    Publishing again a job whose message did survive is harmless: the job belongs to its newest message, and a worker
    drops the older one. (A FLUSHALL without a restart is not seen here; the sweeper's 30-minute rule catches what it
    lost.) Raises redis.RedisError while the broker is down."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        if not client.set(f"{options.get('global_keyprefix', '')}{MEMORY_KEY}", int(time.time()), nx=True):
            return None
        seconds, micros = client.time()
        started = seconds + micros / 1_000_000 - int(client.info("server")["uptime_in_seconds"])
        return started + START_MARGIN_SECONDS
    finally:
        client.close()
