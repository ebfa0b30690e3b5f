"""Connections under load (issue 19, item 11): a process opens at most DATABASE_POOL_MAX_SIZE connections, and a
pooled connection always gets the right organization's search_path, whoever used it before.

The test suite itself runs without the pool (DATABASE_POOL defaults to off under tests, whose transactions wrap each
test); this runs a separate process with the production setting against the test database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.helpers import ROOT

SCRIPT = r"""
import json, threading
from django.db import connection
from django.conf import settings
from organizations.models import Organization

organizations = list(Organization.objects.filter(slug__in=["alpha", "beta"]))
connection.close()
seen, lock = [], threading.Lock()
start = threading.Barrier(6)

def work(n):
    start.wait()
    for i in range(20):
        organization = organizations[(n + i) % 2]
        connection.set_tenant(organization)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_schema(), pg_backend_pid()")
            schema, pid = cursor.fetchone()
        with lock:
            seen.append((organization.schema_name, schema, pid))
        connection.close()  # back to the pool, with this organization's search_path still set on the server

threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({
    "pool": settings.DATABASES["default"]["OPTIONS"].get("pool"),
    "checkouts": len(seen),
    "wrong_schema": [s for s in seen if s[0] != s[1]],
    "backends": len({pid for _, _, pid in seen}),
}))
"""


@pytest.mark.django_db
def test_a_process_holds_at_most_its_pool_and_every_checkout_has_its_organizations_search_path(personas):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "QUIZMARKER_TESTING": "true",
        "DATABASE_POOL": "true",
        "DATABASE_POOL_MIN_SIZE": "0",
        "DATABASE_POOL_MAX_SIZE": "2",
    }
    run = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["pool"]["max_size"] == 2 and result["pool"]["max_lifetime"] == 600.0
    assert result["checkouts"] == 120
    assert result["wrong_schema"] == []
    assert 1 <= result["backends"] <= 2, "six threads shared the pool's two connections"


@pytest.mark.parametrize(
    ("pool", "threads", "expected"), [("threads", 3, 7), ("threads", 24, 28), ("prefork", 2, None)]
)
def test_a_threads_worker_sizes_its_pool_from_its_threads(live_db, pool, threads, expected):
    # One connection per job thread plus four spares, from the worker's own --concurrency: a pool smaller than the
    # threads made jobs wait for a connection (make bench: ~2 s of queue wait in a 20-script batch). A prefork
    # worker keeps no pool.
    from quizmarker.celery import whoami
    from tests.conftest import WorkerProcess, worker_env

    queue = f"pool-{os.getpid()}-{pool}-{threads}"
    env = worker_env({"QUIZMARKER_TESTING": "true", "DATABASE_POOL": "true" if pool == "threads" else "false"})
    worker = WorkerProcess(env, name=queue, concurrency=threads, pool=pool, queues=queue)
    worker.start()
    try:
        assert whoami.apply_async(queue=queue).get(timeout=30)["database_pool_max_size"] == expected
    finally:
        worker.stop()
