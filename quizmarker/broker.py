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
handed to a newer message (jobs.services.execute), and a job whose message is lost is republished by the sweeper
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

# The answer is kept this long in each process, so that a burst of requests costs one round trip, and a down broker
# costs each request nothing but a dictionary lookup.
STATE_SECONDS = 2.0
_state_lock = threading.Lock()
_state: dict[str, tuple[bool, float]] = {}  # broker URL -> (up, when it was asked: time.monotonic())


def broker_up(*, fresh: bool = False) -> bool:
    """Whether the broker answers a PING within half a second (asked at most every STATE_SECONDS per process)."""
    url = settings.CELERY_BROKER_URL
    now = time.monotonic()
    with _state_lock:
        known = _state.get(url)
    if known is not None and not fresh and now - known[1] < STATE_SECONDS:
        return known[0]
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        up = bool(client.ping())
    except redis.RedisError:
        up = False
    finally:
        client.close()
    with _state_lock:
        _state[url] = (up, time.monotonic())
    return up


def note_broker_down() -> None:
    """A publish just failed: say "down" at once instead of waiting for the next PING."""
    with _state_lock:
        _state[settings.CELERY_BROKER_URL] = (False, time.monotonic())
