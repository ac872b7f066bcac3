"""Run the project's real processes (uvicorn, celery, scripts) against the test database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

from exchange_console.paths import BASE_DIR


def database_url() -> str:
    """Return a DATABASE_URL naming the database the tests run on (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """Return the environment for a child process sharing our database and Redis."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="exchange_console.settings",
        PYTHONUNBUFFERED="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}:\n{_output(process)}")
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not ready after {timeout} s" + (f":\n{_output(process)}" if process else ""))


def _output(process: subprocess.Popen) -> str:
    with contextlib.suppress(Exception):
        process.kill()
        out, _ = process.communicate(timeout=5)
        return out.decode(errors="replace")[-4000:] if out else ""
    return ""


@contextlib.contextmanager
def running(command: list[str], *, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Start a child process (output captured); stop it and reap it on exit."""
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=env or child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def asgi_server(**env: str) -> Iterator[str]:
    """Serve the project under uvicorn, as `make run` does; yield its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "exchange_console.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--lifespan", "off", "--ws-per-message-deflate", "false", "--log-level", "warning",
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    with running(command, env=child_env(DEBUG="false", **env)) as process:
        wait_for(lambda: _answers(f"{base_url}/healthz"), timeout=30, what="uvicorn", process=process)
        yield base_url


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own loopback server)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
