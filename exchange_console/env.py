"""Typed readers for settings taken from the environment.

Every reader fails with ImproperlyConfigured and a message that says what to set,
so a misconfigured deployment stops at start-up instead of misbehaving later.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")
REDIS_SCHEMES = ("redis", "rediss")
SECRET_KEY_MIN_LENGTH = 50


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None) -> str:
    """Return the variable's text, or the default; fail if neither exists."""
    value = _raw(name, environ)
    if value is not None:
        return value
    if default is None:
        raise ImproperlyConfigured(f"{name} is not set. Set the environment variable {name}.")
    return default


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    """Return the variable read as a boolean word (true/false, 1/0, yes/no, on/off)."""
    value = _raw(name, environ)
    if value is None:
        return default
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean. Set {name} to true or false (also accepted: 1/0, yes/no, on/off)."
    )


def env_int(name: str, default: int, *, minimum: int | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Return the variable read as a whole number, at least `minimum` when given."""
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number. Set {name} to e.g. {default}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small. Set {name} to {minimum} or more.")
    return number


def env_list(name: str, default: list[str], *, environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the variable split on commas, blanks dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_database(
    name: str, *, default_sqlite_path: Path, conn_max_age: int, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return a DATABASES entry from a database URL (SQLite in var/ when unset)."""
    url = _raw(name, environ)
    if url is None:
        return sqlite_database(default_sqlite_path)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name}={url!r} is not a supported database URL. Set {name} to "
            "postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:////absolute/path.sqlite3 "
            "(or unset it for SQLite in var/)."
        )
    try:
        config = dict(dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=conn_max_age > 0))
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}={url!r} could not be read ({error}). Set {name} to a valid URL.") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return sqlite_database(Path(config["NAME"]))
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={url!r} names no database. Add the database name after the last '/'.")
    # A database that does not answer must fail a request (and /readyz) quickly, not hang it.
    config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    return config


def sqlite_database(path: Path) -> dict[str, Any]:
    """Return a DATABASES entry for SQLite tuned for several processes (WAL, busy timeout)."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets the web, worker, beat and engine processes read while one writes;
            # IMMEDIATE transactions take the write lock up front instead of failing mid-way.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(path.with_name(f"test-{path.name}"))},
    }


def env_redis_url(name: str, *, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the Redis URL if one is set, checked for a redis:// or rediss:// scheme."""
    url = _raw(name, environ)
    if url is None:
        return None
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in REDIS_SCHEMES:
        raise ImproperlyConfigured(
            f"{name}={url!r} is not a Redis URL. Set {name} to redis://HOST:PORT/DB "
            "(or unset it to run the embedded Redis)."
        )
    return url


def env_secret_key(name: str, *, production: bool, key_file: Path, environ: Mapping[str, str] | None = None) -> str:
    """Return SECRET_KEY: required in production, otherwise generated once into var/."""
    value = _raw(name, environ)
    hint = 'python -c "import secrets; print(secrets.token_urlsafe(64))"'
    if value is not None:
        if production and len(value) < SECRET_KEY_MIN_LENGTH:
            raise ImproperlyConfigured(
                f"{name} is too short for production ({len(value)} characters). "
                f"Set {name} to at least {SECRET_KEY_MIN_LENGTH} random characters, e.g. from: {hint}"
            )
        return value
    if production:
        raise ImproperlyConfigured(
            f"{name} is not set, and DJANGO_ENV=production requires it. "
            f"Set {name} to a long random string, e.g. from: {hint}"
        )
    return _local_secret_key(key_file)


def _local_secret_key(key_file: Path) -> str:
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    draft = key_file.with_name(f".{key_file.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(64))
    try:
        # link() is atomic and refuses to overwrite: when several processes start at
        # once, exactly one key wins and every process reads that one.
        os.link(draft, key_file)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return key_file.read_text().strip()
