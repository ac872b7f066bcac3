"""Benchmark: the public status page under wrk, app-served and exported, against nginx serving the same bytes.

    .venv/bin/python benchmarks/status_page_load.py                        # 64 and 256 connections, 10 s each
    .venv/bin/python benchmarks/status_page_load.py --workers 1,2 --wait-quiet 60
    .venv/bin/python benchmarks/status_page_load.py --only app --workers 2 --seconds 20
    .venv/bin/python benchmarks/status_page_load.py --only nginx,export --repeat 3     # medians of 3 rounds

Needs Debian's wrk (`apt-get install -y wrk`, a benchmark-only tool) and nginx (/usr/sbin/nginx).

Everything is private, in a temporary directory: a SQLite database and an embedded Redis. The
page state is made through `incidents.services` (the console's own code): `bootstrap`'s demo
components, five public incidents resolved over the last 90 days with several updates each, one
active major outage, component status changes (so the 90-day uptime bars have history) and an
internal note. The services run with Django's clock moved back to when each thing happened.
Then `manage.py export_status_page` writes the static copy.

Targets, each answering `GET /` on 127.0.0.1:
- `nginx` (the reference ceiling): plain nginx serving the exported home page as a static file
  (the bytes the app serves: each target's body is compared with it);
- `export`: the static copy, through the shipped deploy/nginx/status-page.conf (only its
  `listen` and `root` rewritten) inside a generated nginx.conf like Debian's (worker_processes
  auto, sendfile, an access log; prefix, pid and logs in the temporary directory);
- `app Nw`: uvicorn started by the Procfile's `web` line itself (WEB_CONCURRENCY=N workers,
  its flags as written there), with DEBUG=false. `make run` starts 2 workers (the default here).
  The app answers the public pages from the exported copy in memory before Django
  (incidents/statuspage/fastpath.py, on unless STATUS_FAST_PATH=false);
- `django Nw` (only with `--only ...,django`; not judged by the bars): the same with
  STATUS_FAST_PATH=false, so every request goes through Django's request cycle (the cached view).

Before measuring, each target's `/` is fetched once: it must answer 200 with the overall status
text in the body (so wrk is not measuring errors); each body is compared with the reference's.
wrk runs `-t2 -cN -d<seconds>s --latency` (no Accept-Encoding, so no gzip anywhere; its default
2 s timeout counts as an error, and such requests are not in its latencies). Ratio = req/s /
nginx's req/s at the same connections in the same run. `others` is the rest of the machine's
busy cores during the measurement: other people's work (interrupts, mostly our own packets, are
left out). Read a row only together with it; `--wait-quiet` waits for a quiet moment first (as
dashboard_fanout.py does). wrk's two threads share the 2 cores with every server alike.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NGINX = Path("/usr/sbin/nginx")
WRK = "wrk"
SHIPPED_CONFIG = ROOT / "deploy" / "nginx" / "status-page.conf"
CONNECTIONS = (64, 256)
# Issue 7's bars.
APP_SHARE, APP_P99_MS, APP_CONNECTIONS = 0.10, 100.0, 256
EXPORT_SHARE = 0.90


# -- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, *, timeout: float, alive: Callable[[], bool]) -> None:
    """Wait until something accepts connections on the port; fail if the server died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if not alive():
            raise RuntimeError(f"the server on port {port} exited before listening")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a process in a session of its own, so stopping its group stops its children too."""
    with open(log, "ab") as output:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def family(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent busy so far (anyone's work, interrupts included)."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    return sum(times) - idle - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def interrupts() -> float:
    """CPU seconds spent in interrupts so far: on loopback, mostly the benchmark's own packets."""
    times = psutil.cpu_times()
    return getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def wait_quiet(longest: float, *, below: float = 0.25) -> None:
    """Wait (at most `longest` seconds) until the machine is busy with less than `below` of a core."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        before = machine_busy()
        time.sleep(2.0)
        if (machine_busy() - before) / 2.0 < below:
            return
    if longest:
        print(f"# the machine did not get quiet within {longest:g} s: measuring anyway", flush=True)


# -- the page state, made through the services ------------------------------------------------


def environment(directory: Path, redis_url: str) -> dict[str, str]:
    return dict(
        os.environ, VAR_DIR=str(directory / "var"), REDIS_URL=redis_url,
        DATABASE_URL=f"sqlite:///{directory / 'db.sqlite3'}", STATUS_EXPORT_DIR=str(directory / "status-export"),
        DJANGO_SETTINGS_MODULE="exchange_console.settings", DEBUG="false", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
    )  # fmt: skip


def manage(env: dict[str, str], *arguments: str) -> None:
    subprocess.run([sys.executable, "manage.py", *arguments], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


@dataclass(frozen=True)
class Story:
    """A public incident: when it began, what it hit, and its updates (minutes after the start, status, text)."""

    days_ago: float
    title: str
    hits: str  # "all", "trading:<n>", or a component's name
    status: str  # the components' status until it is resolved
    updates: tuple[tuple[int, str | None, str], ...]


STORIES = (
    Story(
        88,
        "Scheduled order database upgrade",
        "all",
        "under_maintenance",
        (
            (0, None, "We are upgrading the order database. Trading pauses for up to an hour."),
            (35, "monitoring", "The upgrade is complete and markets have reopened. We are watching the order flow."),
            (60, "resolved", "The maintenance is over; every market trades normally."),
        ),
    ),
    Story(
        41,
        "Slow order acknowledgements",
        "trading:0",
        "degraded_performance",
        (
            (0, None, "Order acknowledgements take up to **3 seconds**. We are investigating."),
            (25, "identified", "A saturated network link between the gateway and the matching engine."),
            (70, "monitoring", "Traffic moved to the standby link; acknowledgements are back under 10 ms."),
            (130, "resolved", "Resolved. We are adding capacity to the primary link."),
        ),
    ),
    Story(
        19,
        "Withdrawals delayed",
        "Deposits and withdrawals",
        "partial_outage",
        (
            (0, None, "Withdrawals are queued and not yet sent. Deposits are not affected."),
            (40, "identified", "A signing service stopped after a certificate rotation."),
            (95, "monitoring", "The signing service is back; the queue of withdrawals is draining."),
            (200, "monitoring", "Two thirds of the delayed withdrawals have been sent."),
            (300, "resolved", "Every delayed withdrawal has been sent. Nothing was lost."),
        ),
    ),
    Story(
        6,
        "API returning errors",
        "REST and WebSocket API",
        "major_outage",
        (
            (0, None, "Most API requests fail with 503. The website is affected too."),
            (12, "identified", "A configuration change removed the API servers from the load balancer."),
            (30, "monitoring", "The change is reverted and the API answers again."),
            (90, "resolved", "Resolved. Open orders were not affected."),
        ),
    ),
    Story(
        2,
        "Website slow to load",
        "Website",
        "degraded_performance",
        (
            (0, None, "Pages take several seconds to load. Trading through the API is not affected."),
            (20, "identified", "A cache node failed and the pages are rendered for every visitor."),
            (45, "resolved", "The cache is replaced; pages load normally."),
        ),
    ),
)
ACTIVE = Story(
    40 / 1440,
    "Orders rejected",
    "trading:1",
    "major_outage",
    (
        (0, None, "New orders are rejected with an internal error. Open orders are safe. We are investigating."),
        (15, "identified", "The risk check service lost its connection to the order database; we are restoring it."),
    ),
)


@contextlib.contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Move Django's clock (timezone.now and the model fields defaulting to it) to `moment`, 1 ms per reading."""
    from unittest import mock

    from django.apps import apps
    from django.utils import timezone

    real, ticks = timezone.now, itertools.count()

    def now() -> datetime:
        return moment + timedelta(milliseconds=next(ticks))

    fields = [f for model in apps.get_models() for f in model._meta.concrete_fields if f.default is real]
    for each in fields:
        each.default = now
        each.__dict__.pop("_get_default", None)  # a cached_property holding the default callable
    try:
        with mock.patch.object(timezone, "now", now):
            yield
    finally:
        for each in fields:
            each.default = real
            each.__dict__.pop("_get_default", None)


def setup_django(env: dict[str, str]) -> None:
    os.environ.update({key: env[key] for key in ("VAR_DIR", "REDIS_URL", "DATABASE_URL", "STATUS_EXPORT_DIR")})
    os.environ.update(DJANGO_SETTINGS_MODULE=env["DJANGO_SETTINGS_MODULE"], DEBUG="false", LOG_LEVEL="WARNING")
    import django

    django.setup()


def tell(story: Story, *, real_now: datetime) -> None:
    """Play a story through the services, each step at its own time (none after `real_now`)."""
    from django.contrib.auth import get_user_model

    from incidents import services

    commander = get_user_model().objects.get(username="demo-commander")
    started = real_now - timedelta(days=story.days_ago)
    hit = components_hit(story.hits)
    (_, _, first), *rest = story.updates
    with clock_at(started):
        incident = services.declare_incident(title=story.title, by=commander, message=first,
                                             components=dict.fromkeys(hit, story.status))  # fmt: skip
    for minutes, status, body in rest:
        with clock_at(started + timedelta(minutes=minutes)):
            back = dict.fromkeys(hit, "operational") if status == "resolved" else None
            services.post_update(incident=incident, body=body, status=status, components=back, by=commander)
    with clock_at(started + timedelta(minutes=rest[0][0] + 1)):
        services.add_note(incident=incident, body="Internal: pager escalated to the database team.", by=commander)


def components_hit(hits: str) -> list:
    from incidents.models import Component

    if hits == "all":
        return list(Component.objects.all())
    if hits.startswith("trading:"):
        return [list(Component.objects.filter(group__name="Trading").order_by("position"))[int(hits[8:])]]
    return [Component.objects.get(name=hits)]


def make_page_state(env: dict[str, str]) -> str:
    """Migrate, bootstrap, play the stories, export the static copy; return the page's overall status text."""
    manage(env, "migrate", "-v0")
    manage(env, "bootstrap")  # role groups, demo markets and components, demo users
    setup_django(env)
    from django.utils import timezone

    from incidents.statuspage import queries

    real_now = timezone.now()
    for story in (*STORIES, ACTIVE):
        tell(story, real_now=real_now)
    manage(env, "export_status_page")
    return queries.overall_status().description


# -- the servers ------------------------------------------------------------------------------


def nginx_config(prefix: Path, server: str) -> Path:
    """Write a top-level nginx.conf like Debian's around `server` (the http-level text), all paths under `prefix`."""
    temp = prefix / "temp"
    temp.mkdir(parents=True)
    config = prefix / "nginx.conf"
    config.write_text(f"""
daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 4096; }}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
{server}
}}
""")
    return config


def shipped_site(export_dir: Path, port: int) -> str:
    """The shipped server block with only its `listen` and `root` pointed at this run."""
    site = SHIPPED_CONFIG.read_text()
    for pattern, value in ((r"listen [^;]+;", f"listen 127.0.0.1:{port};"), (r"root [^;]+;", f"root {export_dir};")):
        site, count = re.subn(pattern, value, site, count=1)
        if count != 1:
            raise SystemExit(f"{SHIPPED_CONFIG} has no `{pattern}` directive to point at this run")
    return site


def reference_site(root: Path, port: int) -> str:
    return f"server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    index index.html;\n}}"


def start_nginx(prefix: Path, server: Callable[[int], str], env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = nginx_config(prefix, server(port))
    process = start([str(NGINX), "-p", str(prefix), "-c", str(config)], env, prefix / "nginx.out")
    wait_for_port(port, timeout=30, alive=lambda: process.poll() is None)
    return process, port


def procfile_web() -> str:
    """The Procfile's `web` command, exactly as written."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise SystemExit("the Procfile has no `web` line")


def start_app(workers: int, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    """Run the Procfile's `web` line through the shell, as honcho does, with the venv's python first on PATH."""
    port = free_port()
    path = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env = dict(env, WEB_HOST="127.0.0.1", WEB_PORT=str(port), WEB_CONCURRENCY=str(workers), PATH=path)
    process = start(["/bin/sh", "-c", f"exec {procfile_web()}"], env, log)
    wait_for_port(port, timeout=60, alive=lambda: process.poll() is None)
    time.sleep(1.0 + workers)  # every worker has imported the app
    return process, port


def fetch(port: int, path: str = "/") -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return response.status, response.read()


def check_page(name: str, port: int, overall: str) -> bytes:
    """Fetch `/` once: it must be a 200 with the overall status text in it."""
    status, body = fetch(port)
    if status != 200 or overall.encode() not in body:
        raise SystemExit(f"{name}: GET / answered {status} without {overall!r}; not measuring errors")
    return body


# -- wrk --------------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    connections: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    others: float = 0.0  # cores busy with other work during the measurement

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str, target: str, connections: int) -> Result:
    """Read req/s, the 50% and 99% latencies, socket errors and non-2xx/3xx answers from wrk's report."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{output}")
    latency = {pct: _ms(value, unit) for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$",
                                                                        output, re.MULTILINE)}  # fmt: skip
    errors = {kind: int(n) for kind, n in re.findall(r"(connect|read|write|timeout) (\d+)", output) if int(n)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors["non-2xx/3xx"] = int(non_2xx.group(1))
    nan = float("nan")
    return Result(target, connections, float(rate.group(1)), latency.get("50", nan), latency.get("99", nan), errors)


def _ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


def run_wrk(target: str, port: int, connections: int, seconds: float, server_pid: int) -> Result:
    """Run wrk against `/`; also take the CPU the server, wrk and everything else used meanwhile."""
    command = [WRK, "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", f"http://127.0.0.1:{port}/"]
    watched = family(server_pid)
    before, reaped, busy, irq = cpu_seconds(watched), reaped_cpu(), machine_busy(), interrupts()
    started = time.monotonic()
    finished = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    elapsed = time.monotonic() - started
    ours = cpu_seconds(watched) - before + reaped_cpu() - reaped + interrupts() - irq  # server, wrk, packets
    result = parse_wrk(finished.stdout, target, connections)
    result.others = max(0.0, (machine_busy() - busy - ours) / elapsed)
    return result


def reaped_cpu() -> float:
    """CPU seconds of our children that have exited (after wrk exits, its own are in there)."""
    usage = os.times()
    return usage.children_user + usage.children_system


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    pid: int
    kind: str  # nginx, export or app


def start_targets(
    directory: Path, env: dict[str, str], args: argparse.Namespace, stack: contextlib.ExitStack
) -> list[Target]:
    """Start the servers `--only` asks for (the reference nginx always: the ratios need it)."""
    page = Path(env["STATUS_EXPORT_DIR"]) / "current" / "index.html"
    (directory / "reference").mkdir()
    shutil.copyfile(page, directory / "reference" / "index.html")
    process, port = start_nginx(
        directory / "nginx-reference", lambda p: reference_site(directory / "reference", p), env
    )
    stack.callback(stop, process)
    targets = [Target("nginx (reference)", port, process.pid, "nginx")]
    if "export" in args.only:
        current = page.parent
        process, port = start_nginx(directory / "nginx-shipped", lambda p: shipped_site(current, p), env)
        stack.callback(stop, process)
        targets.append(Target("export, shipped conf", port, process.pid, "export"))
    return targets + start_apps(directory, env, args, stack)


def start_apps(
    directory: Path, env: dict[str, str], args: argparse.Namespace, stack: contextlib.ExitStack
) -> list[Target]:
    """The app as deployed (`app`) and, for comparison, with its status page fast path off (`django`)."""
    kinds = {"app": ("app, uvicorn {}w", {}), "django": ("django, uvicorn {}w", {"STATUS_FAST_PATH": "false"})}
    targets = []
    for kind, (name, extra) in kinds.items():
        for workers in args.workers if kind in args.only else []:
            process, port = start_app(workers, dict(env, **extra), directory / f"uvicorn-{kind}-{workers}.log")
            stack.callback(stop, process)
            targets.append(Target(name.format(workers), port, process.pid, kind))
    return targets


def check_targets(targets: list[Target], overall: str) -> None:
    """Every target answers `/` with a 200 and the overall status; say whether they all serve the same bytes."""
    bodies = {target.name: check_page(target.name, target.port, overall) for target in targets}
    reference = bodies[targets[0].name]
    for name, body in bodies.items():
        same = "the same bytes as the reference" if body == reference else _difference(body, reference)
        print(f"# {name}: GET / -> 200, {len(body):,} bytes, {overall!r} in it; {same}", flush=True)


def _difference(body: bytes, reference: bytes) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(body, reference, strict=False)) if a != b), min(len(body), len(reference))
    )
    return f"differs from the reference from byte {at} on: {body[max(0, at - 40) : at + 40]!r}"


def measure(targets: list[Target], args: argparse.Namespace) -> list[Result]:
    """wrk against every target at 64 connections, then at 256 (each after a quiet moment); `--repeat` rounds."""
    results = []
    for connections in [n for _ in range(args.repeat) for n in CONNECTIONS]:
        for target in targets:
            if target.kind not in args.only:
                continue
            wait_quiet(args.wait_quiet)
            results.append(run_wrk(target.name, target.port, connections, args.seconds, target.pid))
            print(line(results[-1], results), flush=True)
    return results


# -- output -----------------------------------------------------------------------------------

HEADER = f"{'target':24} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>8} {'ratio':>7} {'others':>6}"


def reference_rate(results: list[Result], connections: int) -> float | None:
    # The latest: while rounds are being measured, a row's reference is the one measured just before it.
    latest = (r.rate for r in reversed(results) if r.target.startswith("nginx") and r.connections == connections)
    return next(latest, None)


def line(result: Result, results: list[Result]) -> str:
    reference = reference_rate(results, result.connections)
    ratio = f"{result.rate / reference:.1%}" if reference else "-"
    return (
        f"{result.target:24} {result.connections:>5} {result.rate:>9,.0f} {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} "
        f"{result.error_count:>8,} {ratio:>7} {result.others:>6.2f}"
    )


def verdicts(results: list[Result]) -> list[str]:
    """Issue 7's bars, PASS or FAIL for every measured row they apply to."""
    lines = []
    for result in results:
        reference = reference_rate(results, result.connections)
        if not reference:
            continue
        share = result.rate / reference
        if result.target.startswith("app") and result.connections == APP_CONNECTIONS:
            ok = share >= APP_SHARE and result.p99_ms <= APP_P99_MS and result.error_count == 0
            lines.append(f"{_mark(ok)}  {result.target} at {result.connections}: {share:.1%} of nginx (bar >= "
                         f"{APP_SHARE:.0%}), p99 {result.p99_ms:.1f} ms (bar <= {APP_P99_MS:g}), "
                         f"{result.error_count} errors (bar 0) {_error_detail(result)}")  # fmt: skip
        if result.target.startswith("export"):
            ok = share >= EXPORT_SHARE
            lines.append(f"{_mark(ok)}  {result.target} at {result.connections}: {share:.1%} of nginx "
                         f"(bar >= {EXPORT_SHARE:.0%}) {_error_detail(result)}")  # fmt: skip
    return lines


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _error_detail(result: Result) -> str:
    return "(" + ", ".join(f"{kind} {n:,}" for kind, n in result.errors.items()) + ")" if result.errors else ""


def medians(results: list[Result]) -> list[Result]:
    """One row per target and connections: the median of each figure over the rounds, errors summed."""
    groups: dict[tuple[str, int], list[Result]] = {}
    for result in sorted(results, key=lambda r: r.connections):  # stable: targets keep their order
        groups.setdefault((result.target, result.connections), []).append(result)
    rows = []
    for (target, connections), rounds in groups.items():
        errors: Counter[str] = Counter()
        for each in rounds:
            errors.update(each.errors)
        figures = [statistics.median(getattr(r, name) for r in rounds) for name in ("rate", "p50_ms", "p99_ms")]
        rows.append(Result(target, connections, *figures, dict(errors), statistics.median(r.others for r in rounds)))
    return rows


def print_summary(results: list[Result], rounds: int) -> None:
    results = medians(results)
    over = f"medians of {rounds} interleaved rounds (errors summed); " if rounds > 1 else ""
    print(f"\n# {over}ratio = req/s / nginx (reference) req/s at the same connections; others = others' busy cores")
    print(HEADER)
    for result in results:
        print(line(result, results))
    print("\n# issue 7's bars: the app-served page >= 10% of nginx with p99 <= 100 ms and 0 errors at 256 "
          "connections; the exported copy via the shipped config >= 90% of nginx")  # fmt: skip
    for verdict in verdicts(results):
        print(verdict)
    for result in results:
        if result.errors:
            print(f"# errors of {result.target} at {result.connections}: {_error_detail(result)}")


# -- main -------------------------------------------------------------------------------------


def procfile_workers() -> int:
    """The uvicorn workers `make run` starts: the Procfile's WEB_CONCURRENCY default."""
    found = re.search(r"\$\{WEB_CONCURRENCY:-(\d+)\}", procfile_web())
    return int(found.group(1)) if found else 1


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk's duration per target and connection count")
    parser.add_argument(
        "--workers",
        default=str(procfile_workers()),
        help="comma-separated uvicorn worker counts (default: what `make run` starts)",
    )
    parser.add_argument(
        "--only",
        default="nginx,export,app",
        help="comma-separated targets to measure: nginx, export, app (nginx serves anyway)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for others' work to take < 0.25 core",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every measurement, interleaved; medians")
    args = parser.parse_args()
    args.workers = [int(n) for n in args.workers.split(",")]
    args.only = set(args.only.split(","))
    if unknown := args.only - {"nginx", "export", "app", "django"}:
        parser.error(f"--only: unknown target(s) {', '.join(sorted(unknown))}; use nginx, export, app, django")
    return args


def main() -> None:
    args = arguments()
    for tool in (str(NGINX), WRK):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: `apt-get install -y nginx wrk`")
    version = subprocess.run([WRK, "--version"], capture_output=True, text=True).stdout.split("[")[0].strip()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus, {version}, -t2 -c64/-c256 -d{args.seconds:g}s --latency", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="status-load-") as name:
        directory = Path(name)
        directory.chmod(0o711)  # nginx's workers reach the files below by path
        results = run(directory, args)
    print_summary(results, args.repeat)


def run(directory: Path, args: argparse.Namespace) -> list[Result]:
    from exchange_console.embedded_redis import EmbeddedRedis

    redis_server = EmbeddedRedis(directory / "redis")
    redis_server.ensure_daemon()
    try:
        env = environment(directory, redis_server.url)
        overall = make_page_state(env)
        with contextlib.ExitStack() as stack:
            targets = start_targets(directory, env, args, stack)
            check_targets(targets, overall)
            return measure(targets, args)
    finally:
        redis_server.stop()


if __name__ == "__main__":
    main()
