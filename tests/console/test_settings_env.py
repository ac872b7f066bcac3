"""The settings helpers: missing or malformed values stop start-up with a fix-it message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from exchange_console.embedded_redis import EmbeddedRedis
from exchange_console.env import (
    env_bool,
    env_database,
    env_int,
    env_list,
    env_redis_url,
    env_secret_key,
    env_str,
)
from exchange_console.paths import BASE_DIR


def test_it_names_the_missing_variable_when_a_required_one_is_unset():
    with pytest.raises(ImproperlyConfigured, match=r"NEEDED is not set\. Set the environment variable NEEDED"):
        env_str("NEEDED", environ={})


def test_it_treats_a_blank_value_as_unset():
    assert env_str("NAME", "fallback", environ={"NAME": "  "}) == "fallback"


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("1", True), ("ON", True), ("no", False), ("0", False)])
def test_it_reads_boolean_words(text, expected):
    assert env_bool("DEBUG", not expected, environ={"DEBUG": text}) is expected


def test_it_rejects_a_boolean_it_cannot_read_and_says_what_to_write():
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a boolean. Set DEBUG to true or false"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})


def test_it_rejects_a_number_it_cannot_read():
    with pytest.raises(ImproperlyConfigured, match=r"AXES_FAILURE_LIMIT='five' is not a whole number"):
        env_int("AXES_FAILURE_LIMIT", 5, environ={"AXES_FAILURE_LIMIT": "five"})


def test_it_rejects_a_number_below_the_minimum():
    with pytest.raises(ImproperlyConfigured, match="Set AXES_FAILURE_LIMIT to 1 or more"):
        env_int("AXES_FAILURE_LIMIT", 5, minimum=1, environ={"AXES_FAILURE_LIMIT": "0"})


def test_it_splits_lists_on_commas():
    assert env_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": "a.example, b.example,,"}) == [
        "a.example",
        "b.example",
    ]


def test_it_uses_sqlite_in_var_when_no_database_url_is_set(tmp_path):
    config = env_database("DATABASE_URL", default_sqlite_path=tmp_path / "db.sqlite3", conn_max_age=0, environ={})
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_it_reads_a_postgres_url(tmp_path):
    environ = {"DATABASE_URL": "postgres://ops:secret@db.internal:5433/console"}
    config = env_database("DATABASE_URL", default_sqlite_path=tmp_path / "x", conn_max_age=0, environ=environ)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == ("db.internal", 5433, "console", "ops")


def test_it_rejects_a_database_url_of_an_unsupported_kind(tmp_path):
    environ = {"DATABASE_URL": "mongodb://localhost/console"}
    with pytest.raises(
        ImproperlyConfigured, match=r"is not a supported database URL\. Set DATABASE_URL to postgres://"
    ):
        env_database("DATABASE_URL", default_sqlite_path=tmp_path / "x", conn_max_age=0, environ=environ)


def test_it_rejects_a_postgres_url_without_a_database_name(tmp_path):
    environ = {"DATABASE_URL": "postgres://ops@db.internal:5432"}
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        env_database("DATABASE_URL", default_sqlite_path=tmp_path / "x", conn_max_age=0, environ=environ)


def test_it_rejects_a_redis_url_that_is_not_one():
    with pytest.raises(ImproperlyConfigured, match=r"is not a Redis URL\. Set REDIS_URL to redis://HOST:PORT/DB"):
        env_redis_url("REDIS_URL", environ={"REDIS_URL": "127.0.0.1:6379"})


def test_it_returns_none_for_redis_when_unset_so_the_embedded_one_starts():
    assert env_redis_url("REDIS_URL", environ={}) is None


def test_it_requires_a_secret_key_in_production(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set, and DJANGO_ENV=production requires it"):
        env_secret_key("SECRET_KEY", production=True, key_file=tmp_path / "key", environ={})
    assert not (tmp_path / "key").exists()


def test_it_refuses_a_short_secret_key_in_production(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="too short for production"):
        env_secret_key("SECRET_KEY", production=True, key_file=tmp_path / "key", environ={"SECRET_KEY": "abc"})


def test_it_generates_a_local_secret_key_once_and_keeps_it_private(tmp_path):
    key_file = tmp_path / "var" / "secret_key"
    first = env_secret_key("SECRET_KEY", production=False, key_file=key_file, environ={})
    second = env_secret_key("SECRET_KEY", production=False, key_file=key_file, environ={})
    assert first == second
    assert len(first) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600


PRODUCTION_SERVICES = {
    "DATABASE_URL": "postgres://exchange@db.internal:5432/exchange",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "STATUS_PAGE_URL": "https://status.example.com",
}


def run_check(**env: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if key not in ("DJANGO_ENV", "SECRET_KEY", "DEBUG")}
    environ.update(PRODUCTION_SERVICES)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_production_settings_refuse_to_start_without_allowed_hosts():
    result = run_check(DJANGO_ENV="production", SECRET_KEY="x" * 64, ALLOWED_HOSTS="")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set, and DJANGO_ENV=production requires it" in result.stderr


def test_deploy_checks_are_clean_with_production_settings():
    result = run_check(DJANGO_ENV="production", SECRET_KEY="k" * 20 + "Zq8-vW3" * 8, ALLOWED_HOSTS="status.example.com")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_checks_warn_when_production_runs_on_the_single_machine_defaults(tmp_path):
    # given production settings without DATABASE_URL and REDIS_URL (an empty value counts as unset)
    try:
        result = run_check(
            DJANGO_ENV="production", SECRET_KEY="k" * 64, ALLOWED_HOSTS="status.example.com",
            DATABASE_URL="", REDIS_URL="", VAR_DIR=str(tmp_path),
        )  # fmt: skip
    finally:
        EmbeddedRedis(tmp_path / "redis").stop()  # the settings started one for this run
    # then the check names both and says what to set
    assert result.returncode != 0
    assert "exchange_console.W001" in result.stderr
    assert "Set DATABASE_URL to a PostgreSQL database" in result.stderr
    assert "exchange_console.W002" in result.stderr
    assert "Set REDIS_URL" in result.stderr
