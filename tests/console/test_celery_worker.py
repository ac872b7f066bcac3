"""A Celery task sent from this process runs in a real worker process and returns its result."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from kombu import Exchange, Queue

from console.tasks import report_worker_task
from exchange_console.celery import app
from tests.support.processes import running, wait_for

TIMEOUT_SECONDS = 60  # a failure bound: a worker starts in seconds, slower on a loaded machine


def worker_command(queue: str) -> list[str]:
    # A unique queue and name: the worker cannot take tasks of other runs sharing this Redis.
    return [
        sys.executable, "-m", "celery", "-A", "exchange_console", "worker", "--pool", "solo", "--concurrency", "1",
        "--without-gossip", "--without-mingle", "--loglevel", "WARNING", "-n", f"{queue}@%h", "-Q", queue,
    ]  # fmt: skip


@contextlib.contextmanager
def own_queue() -> Iterator[str]:
    """Give a queue name no other run uses; delete the queue and its bindings from Redis on exit."""
    name = f"test-{uuid.uuid4().hex}"
    try:
        yield name
    finally:
        with app.connection_for_write() as connection:
            # As Celery creates a missing queue; declared here too, so kombu knows which bindings to delete.
            queue = Queue(name, Exchange(name), routing_key=name)(connection.default_channel)
            queue.declare()
            queue.delete()


@pytest.mark.django_db(transaction=True)  # the worker is another process: it must see committed data
def test_a_task_sent_from_here_runs_in_a_real_worker_process_and_returns_its_result():
    # given a worker consuming a queue of its own
    with own_queue() as queue, running(worker_command(queue)) as worker:
        # when a task is sent to that queue
        result = report_worker_task.apply_async(queue=queue)
        try:
            wait_for(result.ready, timeout=TIMEOUT_SECONDS, what="celery worker", process=worker)
            report = result.get(timeout=5)
        finally:
            result.forget()
    # then the worker process ran it, reached the database and said so
    assert report["database"] == "ok"
    assert report["pid"] != os.getpid()
    assert report["pid"] == worker.pid
    assert report["host"] == socket.gethostname()
    assert timezone.now() - datetime.fromisoformat(report["at"]) < timedelta(seconds=TIMEOUT_SECONDS)
