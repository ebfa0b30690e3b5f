"""Settings come from the environment, fail loudly on bad values, and production mode is deploy-clean."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from quizmarker.env import env_bool, env_choice, env_int

ROOT = Path(__file__).resolve().parents[2]


def test_a_misspelt_boolean_stops_start_up_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "ture")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='ture' is not a boolean"):
        env_bool("DEBUG", False)


def test_a_number_below_its_minimum_is_refused(monkeypatch):
    monkeypatch.setenv("JOB_MAX_RETRIES", "-1")
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env_int("JOB_MAX_RETRIES", 3, minimum=0)


def test_an_unknown_choice_lists_the_allowed_values(monkeypatch):
    monkeypatch.setenv("QUIZMARKER_AI_PROVIDER", "gemini")
    with pytest.raises(ImproperlyConfigured, match="local, openai"):
        env_choice("QUIZMARKER_AI_PROVIDER", "local", {"local", "openai"})


def test_an_empty_variable_means_the_default(monkeypatch):
    monkeypatch.setenv("JOB_MAX_RETRIES", "")
    assert env_int("JOB_MAX_RETRIES", 3) == 3


def test_secrets_can_come_from_files(monkeypatch, tmp_path):
    secret = tmp_path / "n"
    secret.write_text("7\n")
    monkeypatch.setenv("JOB_MAX_RETRIES_FILE", str(secret))
    assert env_int("JOB_MAX_RETRIES", 3) == 7


def _manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "QUIZMARKER_TESTING", "SECRET_KEY"}}
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_production_settings_pass_check_deploy_without_warnings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        QUIZMARKER_TESTING="false",
        SECRET_KEY="x7" * 30 + "-production-secret",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="false", QUIZMARKER_TESTING="false")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


PRINT_STORAGE = (
    "from django.core.files.storage import storages; w = storages['default']; "
    "print(type(w).__module__, type(w).__name__, w.bucket_name, w.endpoint_url, w.location, w.default_acl)"
)


def test_file_storage_s3_keeps_files_in_the_configured_bucket():
    result = _manage(
        "shell",
        "-c",
        PRINT_STORAGE,
        DEBUG="true",
        FILE_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="qm-scripts",
        AWS_S3_ENDPOINT_URL="http://minio.internal:9000",
        AWS_S3_PREFIX="acme",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last == "storages.backends.s3 S3Storage qm-scripts http://minio.internal:9000 acme None"


def test_file_storage_s3_without_a_bucket_says_which_variable_is_missing():
    result = _manage("check", DEBUG="true", FILE_STORAGE="s3", AWS_STORAGE_BUCKET_NAME="")
    assert result.returncode != 0
    assert "The environment variable AWS_STORAGE_BUCKET_NAME is required" in result.stderr
