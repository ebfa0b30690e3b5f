"""Flower runs with `make run`: the Procfile's flower line serves on loopback behind basic auth, and the credentials
are generated once (kept in .env) by scripts/devstack.py, which also points the admin's Flower links at it."""

from __future__ import annotations

import base64
import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
from dotenv import dotenv_values

from tests.helpers import ROOT, wait_until
from tests.quizmarker.test_supervise import supervising

sys.path.insert(0, str(ROOT / "scripts"))
import devstack  # noqa: E402  (scripts/devstack.py)


def status_of(url: str, credentials: str | None = None) -> int | None:
    request = urllib.request.Request(url)  # noqa: S310 - loopback
    if credentials:
        request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_the_procfile_starts_flower_on_loopback_behind_basic_auth(tmp_path):
    line = next(row for row in (ROOT / "Procfile").read_text().splitlines() if row.startswith("flower:"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/workers"
    with supervising(
        tmp_path,
        line + "\n",
        FLOWER_PORT=str(port),
        FLOWER_BASIC_AUTH="ops:s3cret-for-the-test",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=str(ROOT),  # the supervisor runs the line in the Procfile's folder, here tmp_path
    ) as (_, lines):
        seen: list[str] = []
        try:
            wait_until(lambda: status_of(url) is not None, timeout=90, interval=0.5, what="Flower to answer")
        except AssertionError:
            while not lines.empty():
                seen.append(lines.get())
            raise AssertionError("Flower did not answer:\n" + "\n".join(map(str, seen[-30:]))) from None
        assert status_of(url) == 401, "no password, no page"
        assert status_of(url, "ops:wrong") == 401
        assert status_of(url, "ops:s3cret-for-the-test") == 200
        listening = {
            c.laddr.ip
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert listening == {"127.0.0.1"}, "Flower listens on loopback only"


def test_make_run_generates_flower_credentials_once_and_keeps_them_in_dot_env(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=true")  # no newline at the end, as a hand-edited file may have
    env: dict[str, str] = {}
    credentials = devstack.ensure_flower_credentials(env, env_file)
    user, _, password = credentials.partition(":")
    assert user == "ops" and len(password) >= 20
    assert dotenv_values(env_file) == {"DEBUG": "true", "FLOWER_BASIC_AUTH": credentials}
    assert env["FLOWER_BASIC_AUTH"] == credentials
    assert env["FLOWER_URL"] == "http://localhost:5555", "the admin's job pages link to this Flower"

    # The next `make run` reads .env into its environment: the same credentials, nothing written again.
    written = env_file.read_text()
    again = dict(dotenv_values(env_file))
    assert devstack.ensure_flower_credentials(again, env_file) == credentials
    assert env_file.read_text() == written

    # Credentials set by the person win, and so does their Flower address.
    mine = {"FLOWER_BASIC_AUTH": "me:mine", "FLOWER_PORT": "5600"}
    assert devstack.ensure_flower_credentials(mine, tmp_path / "other.env") == "me:mine"
    assert mine["FLOWER_URL"] == "http://localhost:5600"
    assert not (tmp_path / "other.env").exists()
