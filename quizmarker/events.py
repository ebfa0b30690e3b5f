"""How one app tells the others that something happened: a Django signal sent once the transaction commits.

The publishing app defines its signals (``jobs.events``, ``grading.events``) and knows nothing of who listens; the
listening apps connect their receivers in their ``AppConfig.ready()``. A signal is sent after the commit, so a
receiver never sees a change that was rolled back and never runs inside (or slows, or fails) the transaction that
made it; each receiver runs on its own (``send_robust``: one that raises is logged and the others still run).
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal


def send_on_commit(signal: Signal, sender, **arguments) -> None:
    """Send ``signal`` with ``arguments`` once the current transaction commits (at once outside one); never if it
    rolls back. Pass ids and strings, not model instances: a receiver reads what it needs after the commit."""
    transaction.on_commit(lambda: signal.send_robust(sender, **arguments), robust=True)
