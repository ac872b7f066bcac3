"""Run the project's real processes (uvicorn, celery, scripts) against the test database."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

from exchange_console.embedded_redis import EmbeddedRedis
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
        stop(process, timeout=10)


def stop(process: subprocess.Popen, *, timeout: float) -> int:
    """Ask a child to stop (SIGTERM, after SIGCONT in case a test stopped it); kill it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class OutputLines:
    """Read a child's output line by line in a thread, so a test can wait for a line with a time limit."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self._lines.put(raw.decode(errors="replace").rstrip("\r\n"))
        self._lines.put(None)  # the process closed its output: it has ended

    def expect(self, prefix: str, *, timeout: float, what: str) -> str:
        """Return the rest of the next line starting with `prefix`; raise if none comes in time."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"{what}: no line {prefix!r} after {timeout} s:\n{self.transcript()}") from None
            if line is None:
                self._lines.put(None)  # keep the end visible to later calls
                raise RuntimeError(f"{what}: the process ended before printing {prefix!r}:\n{self.transcript()}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :]

    def transcript(self) -> str:
        return "\n".join(self.seen[-50:])


@contextlib.contextmanager
def private_redis(directory: Path) -> Iterator[EmbeddedRedis]:
    """Give an embedded Redis kept in `directory` (started by the caller); make sure it is gone on exit."""
    server = EmbeddedRedis(directory)
    try:
        yield server
    finally:
        pid = _pid_in(server.pid_file)
        server.stop()
        if pid is not None:
            # SHUTDOWN can be refused or lost on a loaded machine; a leftover daemon would outlive the run.
            with contextlib.suppress(TimeoutError):
                wait_for(lambda: not _alive(pid), timeout=10, what=f"redis-server {pid} to exit")
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _pid_in(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the number now belongs to someone else's process
        return False
    # A daemon that exited stays a zombie until init reaps it, which can take a second.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


@contextlib.contextmanager
def asgi_server(**env: str) -> Iterator[str]:
    """Serve the project under uvicorn, as `make run` does; yield its base URL.

    Its static copy of the status page (what `fastpath` serves before Django) goes to a folder of
    its own: VAR_DIR's is the developer's `make run` copy, whose pages would answer instead.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "exchange_console.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--lifespan", "off", "--ws-per-message-deflate", "false", "--log-level", "warning",
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="status-export-") as export:
        env = {"STATUS_EXPORT_DIR": export, **env}
        with running(command, env=child_env(DEBUG="false", **env)) as process:
            wait_for(lambda: _answers(f"{base_url}/healthz"), timeout=30, what="uvicorn", process=process)
            yield base_url


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own loopback server)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
