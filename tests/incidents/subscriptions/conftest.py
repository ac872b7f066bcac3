"""Fixtures of the subscription tests: components, an incident, Celery run eagerly, a local webhook sink."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from exchange_console.celery import app
from incidents import publishing
from incidents import services as incident_services
from incidents.models import Component, ComponentStatus, Incident
from incidents.subscriptions.tasks import on_public_change


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> Iterator[None]:
    """Forget the subscribe counts of the test client's address (they live in the real Redis)."""
    cache.delete("subscriptions:rate:127.0.0.1")
    yield
    cache.delete("subscriptions:rate:127.0.0.1")


@pytest.fixture
def eager() -> Iterator[None]:
    """Run tasks in the calling thread, as soon as they are enqueued (retries too, without waiting).

    Deliberate: these tests are about what is sent and how often, not the transport. The same
    tasks run in a real Celery worker on the real Redis in test_delivery_with_a_real_worker.py.
    """
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    # Propagating would turn an eager retry into an exception instead of the next attempt.
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def quiet(eager) -> Iterator[None]:
    """Stop notifying on public changes: the test makes and sends the deliveries itself."""
    publishing.forget(on_public_change)
    yield
    publishing.listen(on_public_change)


@pytest.fixture
def allow_private(settings) -> None:
    """The admin switch that lets webhooks reach the loopback sink."""
    settings.SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS = True


@pytest.fixture
def trading(db) -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def deposits(db) -> Component:
    return Component.objects.create(name="Deposits")


@pytest.fixture
def declare(commander, trading, django_capture_on_commit_callbacks):
    """Declare a public incident on trading, running what happens after commit (the notifications)."""

    def run(title: str = "Orders time out", **extra) -> Incident:
        extra.setdefault("components", {trading: ComponentStatus.MAJOR_OUTAGE})
        with django_capture_on_commit_callbacks(execute=True):
            return incident_services.declare_incident(title=title, by=commander, message="We are investigating.",
                                                      **extra)  # fmt: skip

    return run


@dataclass
class Sink:
    """A local HTTP server recording every request; it answers with the queued codes, then 200."""

    server: ThreadingHTTPServer
    requests: list[dict] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    delay: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/status"

    def bodies(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def sink() -> Iterator[Sink]:
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            found = state["sink"]
            found.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if found.delay:
                threading.Event().wait(found.delay)
            self.send_response(found.codes.pop(0) if found.codes else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["sink"] = Sink(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["sink"]
    server.shutdown()
    server.server_close()
