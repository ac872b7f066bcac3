"""`make run`: bring every process up on one machine, and all of them down on Ctrl-C.

Starts the embedded Redis when REDIS_URL is unset, migrates, creates the role groups and
demo users, then runs the Procfile's processes under honcho.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from exchange_console.embedded_redis import EmbeddedRedis
from exchange_console.paths import BASE_DIR, VAR_DIR


def prepare_database() -> bool:
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("bootstrap")
    call_command("export_status_page")  # the static copy exists before the first public change
    if settings.PRODUCTION:  # production serves hashed copies, which collectstatic makes
        call_command("collectstatic", interactive=False, verbosity=0)
    return settings.PRODUCTION


def procfile_processes(production: bool) -> list[str]:
    """The Procfile's process names to start: the demo simulator only in development, unless SIMULATE=0."""
    names = [line.split(":", 1)[0] for line in (BASE_DIR / "Procfile").read_text().splitlines() if ":" in line]
    if production or os.environ.get("SIMULATE", "1") == "0":
        names.remove("simulator")
    return names


def run_procfile(processes: list[str]) -> int:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # The Procfile says `python`, `celery`, `uvicorn`: the ones installed beside us.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", str(BASE_DIR / "Procfile"), "-d", str(BASE_DIR), *processes],
        env=env,
    )
    # Ctrl-C reaches honcho too (same process group); it stops its children, we wait for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: honcho.terminate())
    return honcho.wait()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_console.settings")
    redis_process = None
    if not os.environ.get("REDIS_URL"):
        server = EmbeddedRedis(VAR_DIR / "redis")
        if not server.is_up():
            redis_process = server.spawn()
        os.environ["REDIS_URL"] = server.url
        print(f"Embedded Redis at {server.url} (set REDIS_URL to use another).", flush=True)
    try:
        production = prepare_database()
        print("Console: http://127.0.0.1:{} (Ctrl-C stops everything)".format(os.environ.get("WEB_PORT", "8000")))
        return run_procfile(procfile_processes(production))
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
            server.stop()  # a Redis drill may have restarted it as a daemon: stop that one too


if __name__ == "__main__":
    sys.exit(main())
