"""Benchmark: one public incident notifying N webhook and N email subscribers through the real Celery workers.

    .venv/bin/python benchmarks/notification_fanout.py                        # 10,000 of each
    .venv/bin/python benchmarks/notification_fanout.py --only webhooks --concurrency 4
    .venv/bin/python benchmarks/notification_fanout.py --database-url postgres://postgres@127.0.0.1:5432/test

Issue 7's bars: 10,000 webhooks delivered in at most 30 s, 10,000 emails in at most 60 s, every
message exactly once. The processes are the Procfile's Celery worker on a private SQLite database
(or a scratch PostgreSQL database created next to the one named, and dropped after) and a private
embedded Redis. The sinks run in processes of their own: an asyncio HTTP server answering 200 that
checks each request's HMAC signature with its subscriber's secret, and an aiosmtpd server; both
count messages per subscriber. The clock starts just before `declare_incident` (whose commit makes
the real publishing listener enqueue the notification) and stops, per channel, when the sink has
seen all N subscribers. The reference, measured in the same run, is the sinks' raw rate: N
pre-signed POSTs from one process over keep-alive connections with the pipeline's concurrency, and
N pre-rendered emails over one SMTP connection with smtplib.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import multiprocessing
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARS = {"webhooks": 30.0, "emails": 60.0}
CHANNELS = ("webhooks", "emails")
DOMAIN = "bench.example"
SETTLE_SECONDS = 2.0  # after the last message, how long late duplicates may still arrive
# The sinks' shared counters (one writer: the sink's event loop; the benchmark only reads).
UNIQUE, DUPLICATE, INVALID, UNKNOWN, FIRST_NS, LAST_NS = range(6)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

Counters = Any  # a multiprocessing Array of six signed 64-bit integers


# -- the sinks (each in a process of its own) -------------------------------------------------------


def count(counters: Counters, seen: set[Any], key: Any, *, valid: bool) -> None:
    """Count one message to `key`: unique, duplicate or invalid, and when the first and last came."""
    now = time.time_ns()
    counters[FIRST_NS] = counters[FIRST_NS] or now
    counters[LAST_NS] = now
    if not valid:
        counters[INVALID] += 1
    elif key in seen:
        counters[DUPLICATE] += 1
    else:
        seen.add(key)
        counters[UNIQUE] += 1


class HookSink:
    """Checks each POST to /hook/<n> against subscriber n's secret, as a receiver would."""

    def __init__(self, keys: dict[int, bytes], counters: Counters) -> None:
        self.keys, self.counters, self.seen = keys, counters, set()

    def record(self, head: str, body: bytes) -> None:
        lines = head.split("\r\n")
        path = lines[0].split(" ")[1]
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        number = int(path.rsplit("/", 1)[1]) if path.startswith("/hook/") else -1
        key = self.keys.get(number)
        if key is None:
            self.counters[UNKNOWN] += 1
            return
        timestamp = headers.get("x-webhook-timestamp", "").encode()
        expected = "sha256=" + hmac.new(key, timestamp + b"." + body, hashlib.sha256).hexdigest()
        count(
            self.counters,
            self.seen,
            number,
            valid=hmac.compare_digest(expected, headers.get("x-webhook-signature", "")),
        )


class HookProtocol(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive server: Content-Length bodies, always 200."""

    def __init__(self, sink: HookSink) -> None:
        self.sink, self.buffer = sink, b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1")
            length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                           if line.lower().startswith("content-length:")), 0)  # fmt: skip
            if len(self.buffer) < end + 4 + length:
                return
            body, self.buffer = self.buffer[end + 4 : end + 4 + length], self.buffer[end + 4 + length :]
            self.sink.record(head, body)
            self.transport.write(OK)


def serve_hooks(port: int, secrets_file: str, counters: Counters, ready: Any, stop: Any) -> None:
    """Run the HTTP sink until `stop` is set (the target of a sink process)."""
    keys = {int(number): secret.encode() for number, secret in json.loads(Path(secrets_file).read_text()).items()}
    sink = HookSink(keys, counters)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: HookProtocol(sink), "127.0.0.1", port,
                                                                backlog=1024)  # fmt: skip
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        server.close()

    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve())


class MailSink:
    """An aiosmtpd handler counting messages per recipient; one without List-Unsubscribe is invalid."""

    def __init__(self, addresses: set[str], counters: Counters) -> None:
        self.addresses, self.counters, self.seen = addresses, counters, set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        valid = b"\nList-Unsubscribe:" in envelope.original_content
        for recipient in envelope.rcpt_tos:
            if recipient.lower() in self.addresses:
                count(self.counters, self.seen, recipient.lower(), valid=valid)
            else:
                self.counters[UNKNOWN] += 1
        return "250 OK"


def serve_mail(port: int, subscribers: int, counters: Counters, ready: Any, stop: Any) -> None:
    """Run the SMTP sink until `stop` is set (the target of a sink process)."""
    from aiosmtpd.controller import Controller

    controller = Controller(MailSink(set(email_addresses(subscribers)), counters), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


@contextlib.contextmanager
def running_sink(target: Callable[..., None], *arguments: Any) -> Iterator[Counters]:
    """Run a sink in a process of its own; yield its live counters."""
    context = multiprocessing.get_context("spawn")
    counters, ready, stop = context.Array("q", 6, lock=False), context.Event(), context.Event()
    process = context.Process(target=target, args=(*arguments, counters, ready, stop), daemon=True)
    process.start()
    try:
        if not ready.wait(30):
            raise SystemExit(f"the sink {target.__name__} did not start")
        yield counters
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.terminate()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def email_addresses(subscribers: int) -> list[str]:
    return [f"subscriber-{number:05d}@{DOMAIN}" for number in range(subscribers)]


# -- the machine, the database and the processes ----------------------------------------------------


def cpu_idle(seconds: float = 2.0) -> float:
    """Return the fraction of CPU time the machine spent idle over `seconds`."""

    def sample() -> tuple[int, int]:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)

    (idle_before, total_before), _, (idle_after, total_after) = sample(), time.sleep(seconds), sample()
    return (idle_after - idle_before) / max(1, total_after - total_before)


def wait_quiet(timeout: float, *, idle: float = 0.85) -> None:
    """Wait up to `timeout` seconds for the machine to be mostly idle (others run tests here)."""
    deadline = time.monotonic() + timeout
    while (found := cpu_idle()) < idle and time.monotonic() < deadline:
        print(f"  waiting for quiet: CPU {100 * found:.0f}% idle", flush=True)
        time.sleep(3)
    print(f"CPU {100 * found:.0f}% idle before the run ({os.cpu_count()} cores)", flush=True)


@contextlib.contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    """Create a database of our own next to the one `url` names (never touching it); drop it after."""
    import psycopg

    name = f"bench_notify_{os.getpid()}"
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(scheme="postgresql")), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(urlunsplit(parts._replace(scheme="postgresql")), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(directory: Path, redis_url: str, database_url: str, smtp_port: int) -> dict[str, str]:
    return dict(
        os.environ, VAR_DIR=str(directory), REDIS_URL=redis_url, DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="exchange_console.settings", PYTHONUNBUFFERED="1",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port), SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS="true",
    )  # fmt: skip


def start_worker(env: dict[str, str], concurrency: int, log: Path) -> subprocess.Popen:
    """Start the Procfile's worker line (log level INFO, as there) and wait until it is ready."""
    command = [sys.executable, "-m", "celery", "-A", "exchange_console", "worker", "--loglevel", "INFO",
               "--concurrency", str(concurrency), "--without-gossip", "--without-mingle"]  # fmt: skip
    worker = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while b" ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the Celery worker did not start; see {log}")
        time.sleep(0.2)
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


# -- the workload -----------------------------------------------------------------------------------


def create_subscribers(*, webhooks: int, emails: int, hook_port: int, directory: Path) -> Path:
    """Create the subscribers as the services leave them (secrets, tokens, confirmed); return the secrets file."""
    from django.utils import timezone

    from incidents.subscriptions.models import EmailSubscriber, WebhookSubscriber, new_token

    keys = {number: new_token() for number in range(webhooks)}
    WebhookSubscriber.objects.bulk_create(
        [WebhookSubscriber(url=f"http://127.0.0.1:{hook_port}/hook/{number}", secret=secret,
                           contact_email=f"hook-{number:05d}@{DOMAIN}") for number, secret in keys.items()],
        batch_size=1000,
    )  # fmt: skip
    now = timezone.now()
    EmailSubscriber.objects.bulk_create(
        [EmailSubscriber(email=address, confirmed_at=now) for address in email_addresses(emails)], batch_size=1000
    )
    secrets_file = directory / "webhook-secrets.json"
    secrets_file.write_text(json.dumps(keys))
    return secrets_file


def declare() -> int:
    """Declare a public incident with a first update; its commit enqueues the notification. Return its id."""
    from incidents import services

    message = "Withdrawals are delayed; deposits and trading are not affected."
    return services.declare_incident(title="Withdrawals delayed", by=None, message=message).pk


def wait_delivered(sinks: dict[str, Counters], expected: dict[str, int], started: float) -> dict[str, float | None]:
    """Poll the sinks until each has seen all its subscribers (or three times its bar); return the seconds."""
    done: dict[str, float | None] = dict.fromkeys(sinks)
    deadline = started + 3 * max(BARS[channel] for channel in sinks)
    while any(done[channel] is None for channel in sinks) and time.perf_counter() < deadline:
        for channel, counters in sinks.items():
            if done[channel] is None and counters[UNIQUE] >= expected[channel]:
                done[channel] = time.perf_counter() - started
        time.sleep(0.02)
    return done


def delivery_log(incident_id: int, *, timeout: float = 20.0) -> dict[str, dict[str, int]]:
    """Return the message's delivery rows by channel and status, once none is queued or sending."""
    from django.db.models import Count, Max

    from incidents.subscriptions.models import Delivery

    rows = Delivery.objects.filter(message__incident_id=incident_id)
    deadline = time.monotonic() + timeout
    while rows.filter(status__in=["queued", "sending"]).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    log: dict[str, dict[str, int]] = {"email": {}, "webhook": {}}
    for row in rows.values("channel", "status").annotate(count=Count("id"), attempts=Max("attempts")):
        log[row["channel"]][row["status"]] = row["count"]
        log[row["channel"]]["max attempts"] = max(row["attempts"], log[row["channel"]].get("max attempts", 0))
    return log


# -- the references ---------------------------------------------------------------------------------


def signed_posts(incident_id: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """Build the pipeline's own bodies and signatures, one per webhook subscriber, before the clock starts."""
    from incidents.subscriptions import payloads, services, signing
    from incidents.subscriptions.models import Message, WebhookSubscriber

    payload = Message.objects.filter(incident_id=incident_id).first().payload
    posts = []
    for webhook in WebhookSubscriber.objects.order_by("pk"):
        body = payloads.webhook_body(payload, unsubscribe_url=services.unsubscribe_url(webhook))
        headers = {"Content-Type": "application/json",
                   **signing.webhook_headers(secret=webhook.secret, timestamp=int(time.time()), body=body)}  # fmt: skip
        posts.append((urlsplit(webhook.url).path, body, headers))
    return posts


def reference_webhooks(posts: list[tuple[str, bytes, dict[str, str]]], port: int, counters: Counters,
                       threads: int) -> float:  # fmt: skip
    """POST everything from `threads` threads over kept-alive connections; return the seconds."""
    import urllib3

    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=threads, block=True)

    def post(item: tuple[str, bytes, dict[str, str]]) -> int:
        return pool.urlopen("POST", item[0], body=item[1], headers=item[2], retries=False).status

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as executor:
        statuses = set(executor.map(post, posts))
    elapsed = time.perf_counter() - started
    if statuses != {200} or counters[UNIQUE] != len(posts):
        raise SystemExit(f"the reference POSTs did not all arrive: {statuses}, {counters[UNIQUE]}/{len(posts)}")
    return elapsed


def rendered_email(incident_id: int) -> bytes:
    """Render one of the pipeline's own emails (to the first subscriber) as bytes."""
    from incidents.subscriptions.delivery import notification_email
    from incidents.subscriptions.models import Delivery

    delivery = Delivery.objects.filter(message__incident_id=incident_id, channel="email").order_by("pk").first()
    return notification_email(delivery).message().as_bytes(linesep="\r\n")


def reference_emails(message: bytes, addresses: list[str], port: int, counters: Counters) -> float:
    """Send the rendered email to every address over one SMTP connection; return the seconds."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for address in addresses:
            connection.sendmail("status@localhost", [address], message)
    elapsed = time.perf_counter() - started
    if counters[UNIQUE] != len(addresses):
        raise SystemExit(f"the reference emails did not all arrive: {list(counters)} of {len(addresses)}")
    return elapsed


def measure_references(incident_id: int, counts: dict[str, int], *, secrets_file: Path, threads: int) -> dict:
    """Time the sinks' raw rate with fresh sinks: the pipeline's bodies, sent by a plain client."""
    seconds: dict[str, float] = {}
    if counts["webhooks"]:
        posts, port = signed_posts(incident_id), free_port()
        with running_sink(serve_hooks, port, str(secrets_file)) as counters:
            seconds["webhooks"] = reference_webhooks(posts, port, counters, threads)
    if counts["emails"]:
        message, port = rendered_email(incident_id), free_port()
        with running_sink(serve_mail, port, counts["emails"]) as counters:
            seconds["emails"] = reference_emails(message, email_addresses(counts["emails"]), port, counters)
    return seconds


# -- the run ----------------------------------------------------------------------------------------


def measure(counts: dict[str, int], ports: dict[str, int], secrets_file: Path) -> dict:
    """Declare the incident and time its delivery to the sinks; return what the sinks and the log say."""
    with (running_sink(serve_hooks, ports["webhooks"], str(secrets_file)) as hooks,
          running_sink(serve_mail, ports["emails"], counts["emails"]) as mails):  # fmt: skip
        sinks = {channel: sink for channel, sink in zip(CHANNELS, (hooks, mails), strict=True) if counts[channel]}
        started, started_ns = time.perf_counter(), time.time_ns()
        incident_id = declare()
        seconds = wait_delivered(sinks, counts, started)
        time.sleep(SETTLE_SECONDS)
        seen = {channel: list(counters) for channel, counters in sinks.items()}
    log = delivery_log(incident_id)
    return {"incident": incident_id, "seconds": seconds, "seen": seen, "log": log, "started_ns": started_ns}


def run(directory: Path, redis_url: str, database_url: str, arguments: argparse.Namespace) -> None:
    ports = {"webhooks": free_port(), "emails": free_port()}
    env = environment(directory, redis_url, database_url, ports["emails"])
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    setup_django(env)
    n = arguments.subscribers
    counts = {channel: n if arguments.only in (None, channel) else 0 for channel in CHANNELS}
    secrets_file = create_subscribers(webhooks=counts["webhooks"], emails=counts["emails"],
                                      hook_port=ports["webhooks"], directory=directory)  # fmt: skip
    worker = start_worker(env, arguments.concurrency, directory / "worker.log")
    try:
        result = measure(counts, ports, secrets_file)
    finally:
        stop_worker(worker)
    from incidents.subscriptions.delivery import WEBHOOK_THREADS

    threads = arguments.concurrency * WEBHOOK_THREADS
    references = measure_references(result["incident"], counts, secrets_file=secrets_file, threads=threads)
    report(result, references, counts, threads=threads)
    report_task_times(directory / "worker.log")
    if arguments.keep_logs:
        print((directory / "worker.log").read_text()[-4000:])


# -- the report -------------------------------------------------------------------------------------


def exactly_once(seen: list[int], log: dict[str, int], expected: int) -> bool:
    clean = seen[DUPLICATE] == seen[INVALID] == seen[UNKNOWN] == 0
    return clean and seen[UNIQUE] == expected and log.get("sent") == expected and sum(
        value for status, value in log.items() if status != "max attempts") == expected  # fmt: skip


def report_channel(channel: str, result: dict, reference: float, expected: int, *, threads: int) -> bool:
    """Print one channel's figures and verdicts; return whether both bars are met."""
    seconds, seen = result["seconds"][channel], result["seen"][channel]
    log = result["log"]["webhook" if channel == "webhooks" else "email"]
    first = (seen[FIRST_NS] - result["started_ns"]) / 1e9 if seen[FIRST_NS] else float("nan")
    taken = seconds if seconds is not None else float("inf")
    if seconds is None:
        print(f"{channel}: {expected} subscribers, NOT all delivered: {seen[UNIQUE]} after {3 * BARS[channel]:g} s")
    else:
        print(f"{channel}: {expected} subscribers, all delivered in {seconds:.2f} s ({expected / seconds:,.0f} msg/s)")
    print(f"  first arrived {first:.2f} s after the declaration; sink: {seen[UNIQUE]} unique, "
          f"{seen[DUPLICATE]} duplicates, {seen[INVALID]} invalid, {seen[UNKNOWN]} unknown")  # fmt: skip
    print(f"  delivery log: {', '.join(f'{status} {value}' for status, value in sorted(log.items()))}")
    how = f"{threads} threads, keep-alive POSTs" if channel == "webhooks" else "smtplib, one connection"
    print(f"  reference (the sink's raw rate; {how}): {reference:.2f} s ({expected / reference:,.0f} msg/s); "
          f"pipeline / reference: {taken / reference:.1f}x the time")  # fmt: skip
    in_time, once = taken <= BARS[channel], exactly_once(seen, log, expected)
    print(f"  bar <= {BARS[channel]:g} s: {'PASS' if in_time else 'FAIL'}; exactly once: {'PASS' if once else 'FAIL'}")
    return in_time and once


def report(result: dict, references: dict[str, float], counts: dict[str, int], *, threads: int) -> None:
    verdicts = [report_channel(channel, result, references[channel], counts[channel], threads=threads)
                for channel in CHANNELS if counts[channel]]  # fmt: skip
    print(f"overall: {'PASS' if all(verdicts) else 'FAIL'}")


def report_task_times(log: Path) -> None:
    """Print where the worker's time went: tasks run, total and longest seconds per task name."""
    times: dict[str, list[float]] = {}
    for match in re.finditer(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([\d.]+)s", log.read_text()):
        times.setdefault(match[1], []).append(float(match[2]))
    for name, seconds in sorted(times.items()):
        print(f"worker: {name} x{len(seconds)}, {sum(seconds):.2f} s in all, longest {max(seconds):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000, help="of each kind (default 10,000)")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (the Procfile's 2)")
    parser.add_argument("--only", choices=CHANNELS, help="one kind of subscriber only")
    parser.add_argument("--database-url", help="a PostgreSQL URL; a scratch database is made next to it")
    parser.add_argument("--wait-quiet", type=float, default=120, metavar="N",
                        help="wait up to N seconds for the machine to be idle first (default 120)")  # fmt: skip
    parser.add_argument("--keep-logs", action="store_true", help="print the end of the worker's log")
    arguments = parser.parse_args()
    print(f"notification fan-out: {arguments.subscribers} subscribers per kind, worker --concurrency "
          f"{arguments.concurrency}, {'PostgreSQL' if arguments.database_url else 'SQLite'}", flush=True)  # fmt: skip
    wait_quiet(arguments.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="notification-fanout-") as name:
        run_in(Path(name), arguments)


def run_in(directory: Path, arguments: argparse.Namespace) -> None:
    with database(arguments.database_url, directory) as database_url, redis(directory) as redis_url:
        run(directory, redis_url, database_url, arguments)


@contextlib.contextmanager
def database(url: str | None, directory: Path) -> Iterator[str]:
    if url is None:
        yield f"sqlite:///{directory / 'db.sqlite3'}"
        return
    with scratch_postgres(url) as scratch:
        yield scratch


@contextlib.contextmanager
def redis(directory: Path) -> Iterator[str]:
    """Run a private embedded Redis in `directory`."""
    from exchange_console.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(directory / "redis")
    (directory / "redis").mkdir()
    process = server.spawn()
    try:
        yield server.url
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
