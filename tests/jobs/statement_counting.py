"""An AI worker that counts the SQL statements it sends (tests/jobs/test_statement_budget.py):

    python -m tests.jobs.statement_counting ai -n NAME@%h ...   # the arguments of `python -m quizmarker.worker`

Every statement any of its database connections sends through Django's cursor is counted in a Redis hash
(``<REDIS_KEY_PREFIX>:statement-count``) under ``<who>:<kind>``: ``who`` is ``heartbeat`` for the heartbeat thread
(its beats follow the clock, not the job) and ``job`` for everything else; ``kind`` is the statement's first word
(``SET`` for django-tenants' ``SET search_path``). ``job:BEGIN`` counts transactions: the first statement a
connection sends inside an atomic block (their COMMIT is not a statement Django's cursor sees). ``tasks:ended``
counts the tasks that have returned, so a test knows when a job's last statement has been counted.
"""

from __future__ import annotations

import os
import sys
import threading

import redis

HASH_SUFFIX = "statement-count"

_client: redis.Redis | None = None
_in_transaction: set[int] = set()  # connections (by id) whose open transaction has been counted


def counts_key(prefix: str) -> str:
    return f"{prefix}:{HASH_SUFFIX}"


def _count(field: str) -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    _client.hincrby(counts_key(os.environ["REDIS_KEY_PREFIX"]), field, 1)


def _counting(execute, sql, params, many, context):
    who = "heartbeat" if threading.current_thread().name == "qm-heartbeats" else "job"
    connection = context["connection"]
    if connection.in_atomic_block and id(connection) not in _in_transaction:
        _in_transaction.add(id(connection))
        connection.on_commit(lambda: _in_transaction.discard(id(connection)))
        _count(f"{who}:BEGIN")
    elif not connection.in_atomic_block:
        _in_transaction.discard(id(connection))
    _count(f"{who}:{sql.split(None, 1)[0].upper()}")
    return execute(sql, params, many, context)


def _instrument(sender, connection, **kwargs) -> None:
    """Each new database connection of any thread counts its statements (a wrapper object outlives the pooled
    connections it hands out, so it is instrumented once)."""
    if _counting not in connection.execute_wrappers:
        connection.execute_wrappers.append(_counting)


def _task_ended(**kwargs) -> None:
    _count("tasks:ended")


if __name__ == "__main__":
    from celery.signals import task_postrun
    from django.db.backends.signals import connection_created

    connection_created.connect(_instrument, weak=False)
    task_postrun.connect(_task_ended, weak=False)
    from quizmarker.worker import main

    sys.exit(main(sys.argv[1:]))
