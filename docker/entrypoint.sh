#!/bin/sh
# QuizMarker container entrypoint: wait for PostgreSQL, migrate (web only, and only when MIGRATE_ON_START is true),
# then replace this shell with the container's command (gunicorn, celery worker/beat/flower, manage.py ...).
#
#   QUIZMARKER_ROLE   web, worker, beat or flower; default: web when the command is gunicorn, else "other"
#   MIGRATE_ON_START  true/yes/on/1 to run `manage.py migrate_schemas --shared` then `--tenant` (role web only)
#   WAIT_FOR_DB       false to skip waiting for PostgreSQL (default true)
#   DB_WAIT_TIMEOUT   seconds to wait for PostgreSQL before giving up (default 60)
#   DATABASE_URL      read the way quizmarker/env.py reads it: DATABASE_URL_FILE wins, empty means unset
set -eu

APP_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
export APP_DIR

say() {
    printf '[entrypoint] %s\n' "$*" >&2
}

is_true() {
    case $(printf '%s' "${1:-}" | tr '[:upper:]' '[:lower:]') in
        1 | true | yes | on) return 0 ;;
        *) return 1 ;;
    esac
}

# Compose reads an .env line with an empty value and a trailing comment, such as .env.example's
#   ALLOWED_HOSTS=                   # default: BASE_DOMAIN, ...
# as the value "# default: BASE_DOMAIN, ...", where python-dotenv (and so `make run`) reads an empty value, which
# quizmarker/env.py takes as "not set". Unset such variables so that the same .env means the same thing here.
commented=$(python -c 'import os, re; print(" ".join(k for k, v in os.environ.items() if re.match(r"#\s", v) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)))')
for name in $commented; do
    say "treating $name as not set: its value is a comment from .env (see docker/README.md)"
    unset "$name"
done
# The same comment substituted into the command (e.g. --basic-auth=${FLOWER_BASIC_AUTH}) cannot be undone: refuse.
for arg in "$@"; do
    case $arg in
        *=\#[[:space:]]*)
            say "refusing to start: ${arg%%=*}= was given a comment from .env, not a value (see docker/README.md)"
            exit 64
            ;;
    esac
done

role=${QUIZMARKER_ROLE:-}
if [ -z "$role" ]; then
    case ${1:-} in
        gunicorn) role=web ;;
        *) role=other ;;
    esac
fi

if is_true "${WAIT_FOR_DB:-true}"; then
    say "waiting for PostgreSQL (role: $role)"
    python - <<'PY'
import os
import re
import sys
import time
from pathlib import Path

import psycopg
from dotenv import load_dotenv

# The same sources as quizmarker/settings/: the environment, then <app>/.env, then the built-in default.
load_dotenv(Path(os.environ["APP_DIR"]) / ".env", override=False)
file_path = os.environ.get("DATABASE_URL_FILE")
url = Path(file_path).read_text().strip() if file_path else os.environ.get("DATABASE_URL", "")
url = url or "postgres://postgres@127.0.0.1:5432/quizmarker"
# dj-database-url also accepts pgsql:// and postgis://; libpq knows only postgres:// and postgresql://.
url = re.sub(r"^(pgsql|postgis)://", "postgresql://", url)

deadline = time.monotonic() + float(os.environ.get("DB_WAIT_TIMEOUT") or 60)
while True:
    try:
        psycopg.connect(url, connect_timeout=3).close()
        break
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if time.monotonic() >= deadline:
            sys.exit(f"[entrypoint] PostgreSQL is still unreachable, giving up: {reason}")
        print(f"[entrypoint] PostgreSQL not ready yet: {reason}", file=sys.stderr, flush=True)
        time.sleep(2)
print("[entrypoint] PostgreSQL is up", file=sys.stderr, flush=True)
PY
fi

if [ "$role" = web ] && is_true "${MIGRATE_ON_START:-false}"; then
    say "migrating the shared schema, then every organization's schema"
    python - <<'PY'
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
from dotenv import load_dotenv

load_dotenv(Path(os.environ["APP_DIR"]) / ".env", override=False)
file_path = os.environ.get("DATABASE_URL_FILE")
url = Path(file_path).read_text().strip() if file_path else os.environ.get("DATABASE_URL", "")
url = re.sub(r"^(pgsql|postgis)://", "postgresql://", url or "postgres://postgres@127.0.0.1:5432/quizmarker")

manage = str(Path(os.environ["APP_DIR"]) / "manage.py")
# A session-level advisory lock, held while both commands run, so two web containers started together
# (docker compose up --scale web=2) migrate one after the other instead of racing.
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("SELECT pg_advisory_lock(hashtext('quizmarker:migrate_schemas'))")
    for scope in ("--shared", "--tenant"):
        subprocess.run([sys.executable, manage, "migrate_schemas", scope], check=True)
PY
fi

# Prometheus metrics (quizmarker/metrics.py): this container's processes count into their own folder of the shared
# metrics volume (PIDs repeat across containers, so never one folder for all), emptied when the container starts.
if [ -n "${PROMETHEUS_MULTIPROC_ROOT:-}" ]; then
    PROMETHEUS_MULTIPROC_DIR="$PROMETHEUS_MULTIPROC_ROOT/$(hostname)"
    rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    export PROMETHEUS_MULTIPROC_DIR
fi

exec "$@"
