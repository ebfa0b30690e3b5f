"""Start a Celery worker of one role, with the queues, pool and concurrency quizmarker/queues.py gives that role:

    python -m quizmarker.worker ai            # reading, grading: queue default on AI_WORKER_THREADS (24) threads
    python -m quizmarker.worker housekeeping  # sweeper, email, webhooks: high, low; WORKER_CONCURRENCY (2) processes

The Procfile (so `make run`) and docker/compose.yml start their workers this way, so that no command line spells a
queue name. Any further arguments go to `celery worker` after the role's own and win over them: a second AI worker
on one host needs a name of its own (`python -m quizmarker.worker ai -n ai2@%h`).
"""

from __future__ import annotations

import os
import sys

from quizmarker.queues import WORKERS


def worker_argv(role: str, concurrency: int, extra: list[str]) -> list[str]:
    """`celery worker`'s arguments for a worker of ``role`` running ``concurrency`` tasks at once."""
    worker = WORKERS[role]
    options = ["-Q", ",".join(worker.queues), "--pool", worker.pool, "--concurrency", str(concurrency)]
    return ["worker", *options, "-n", f"{worker.node}@%h", "-l", "info", *extra]


def main(args: list[str]) -> int:
    if not args or args[0] not in WORKERS:
        print(__doc__.strip(), file=sys.stderr)
        return 64
    role, extra = args[0], args[1:]
    if not WORKERS[role].database_pool:
        os.environ["DATABASE_POOL"] = "false"  # before the settings are read
    from django.conf import settings

    from quizmarker.celery import app

    return app.worker_main(worker_argv(role, getattr(settings, WORKERS[role].concurrency_setting), extra)) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
