"""The dashboard's websocket: who may listen, what they hear, and a slow client holding up no one."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from engine.consumers import HealthConsumer, HealthHub
from engine.health import HealthPublisher
from exchange_console.asgi import application
from tests.console.test_role_matrix import ws_headers  # noqa: F401 (a fixture)
from tests.support.engine import unique_shard
from tests.support.health import SCHEMA

pytestmark = [pytest.mark.timeout(60), pytest.mark.django_db(transaction=True)]

PATH = "/ws/engine/health/"
STATUS = {"state": "running", "worker_pid": 42, "heartbeat_age": 0.05, "uptime": 12.5, "restarts": 0, "time": 0.0}


async def connect(headers) -> tuple[bool, WebsocketCommunicator]:
    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return connected, communicator


async def subscribed() -> HealthHub:
    hub = HealthHub.current()
    await asyncio.wait_for(hub.subscribed.wait(), 5)
    return hub


def publisher(shard: str) -> HealthPublisher:
    return HealthPublisher(shard, redis.Redis.from_url(settings.REDIS_URL))


async def receive(communicator: WebsocketCommunicator, shard: str, kind: str) -> dict:
    """The next message of `kind` about `shard` (others, from other tests' engines, are skipped)."""
    async with asyncio.timeout(5):
        while True:
            message = json.loads(await communicator.receive_from(timeout=5))
            if message["shard"] == shard and message["type"] == kind:
                return message


@pytest.mark.parametrize("name", ["anonymous", "outsider"])
async def test_it_refuses_anonymous_visitors_and_users_without_a_role(ws_headers, name):  # noqa: F811
    connected, communicator = await connect(await sync_to_async(ws_headers)(name))
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_a_foreign_origin(ws_headers):  # noqa: F811
    connected, communicator = await connect(await sync_to_async(ws_headers)("viewer", origin="https://evil.example"))
    assert not connected
    await communicator.disconnect()


async def test_a_viewer_receives_numbered_status_metrics_and_events_that_match_the_schema(ws_headers):  # noqa: F811
    shard = unique_shard()
    connected, communicator = await connect(await sync_to_async(ws_headers)("viewer"))
    assert connected
    await subscribed()
    producer = publisher(shard)
    try:
        producer.publish("status", {**STATUS, "time": 1.0})
        producer.publish("metrics", METRICS)
        producer.publish("event", EVENT)
        status = await receive(communicator, shard, "status")
        metrics = await receive(communicator, shard, "metrics")
        event = await receive(communicator, shard, "event")
    finally:
        producer.close()
        await communicator.disconnect()
    for message in (status, metrics, event):
        SCHEMA.validate(message)
    assert [status["seq"], metrics["seq"], event["seq"]] == [1, 2, 3]
    assert status["data"]["state"] == "running"
    assert metrics["data"]["markets"]["BTC-USD"]["best_bid"] == 9_000


async def test_a_new_dashboard_first_gets_the_latest_status_and_metrics(ws_headers):  # noqa: F811
    shard = unique_shard()
    headers = await sync_to_async(ws_headers)("viewer")
    _, first = await connect(headers)
    await subscribed()
    producer = publisher(shard)
    try:
        producer.publish("metrics", METRICS)
        producer.publish("status", STATUS)
        await receive(first, shard, "status")
        _, second = await connect(headers)
        metrics = await receive(second, shard, "metrics")
        status = await receive(second, shard, "status")
    finally:
        producer.close()
        await first.disconnect()
        await second.disconnect()
    assert (metrics["seq"], status["seq"]) == (1, 2)


async def test_what_a_client_sends_is_ignored(ws_headers):  # noqa: F811
    connected, communicator = await connect(await sync_to_async(ws_headers)("commander"))
    assert connected
    await communicator.send_to(text_data='{"type": "mode", "symbol": "BTC-USD", "mode": "halted"}')
    assert await communicator.receive_nothing(timeout=0.3, interval=0.05)  # no answer, no error, still open
    await communicator.disconnect()


async def test_a_client_whose_socket_is_full_is_skipped_while_the_others_keep_receiving():
    hub = HealthHub()
    fast, slow = Socket(), Socket(blocked=True)
    hub.sockets.update({fast, slow})
    for number in range(3):
        hub.broadcast(f'{{"v":1,"type":"status","seq":{number + 1},"ts":0,"shard":"s","data":{{}}}}', **STATUS_OF_S)
    assert len(fast.sent) == 3
    assert len(slow.sent) == 1  # its first message waits in a full socket: the next two were skipped
    assert hub.skipped == 2
    slow.unblock()
    await asyncio.sleep(0.01)
    hub.broadcast('{"v":1,"type":"status","seq":4,"ts":0,"shard":"s","data":{}}', **STATUS_OF_S)
    assert len(slow.sent) == 2
    assert len(fast.sent) == 4


STATUS_OF_S = {"kind": "status", "shard": "s"}


class Socket(HealthConsumer):
    """A dashboard socket whose ASGI send can be made to wait, like a client on a slow network."""

    def __init__(self, *, blocked: bool = False) -> None:
        super().__init__()
        self.writing = None
        self.send_frame = self.base_send
        self.sent: list[str] = []
        self.room = asyncio.Event()
        if not blocked:
            self.room.set()

    def unblock(self) -> None:
        self.room.set()

    async def base_send(self, message: dict) -> None:
        self.sent.append(message["text"])
        if not self.room.is_set():
            await self.room.wait()


METRICS = {
    "shard": "x", "time": 1.0, "interval": 1.0, "pid": 42, "uptime": 3.0, "rss_bytes": 1, "cpu_percent": 0.0,
    "last_sequence": 7, "journal_bytes": 10, "snapshot_sequence": 0, "snapshot_age": 1.0, "queue_depth": 0,
    "commands": 1, "accepted": 1, "rejected": 0, "trades": 0, "volume": 0, "commands_per_s": 1.0,
    "trades_per_s": 0.0, "latency_us": {"count": 1, "p50": 300.0, "p99": 300.0, "p999": 300.0, "max": 300.0},
    "markets": {"BTC-USD": {
        "mode": "open", "tick_size": "0.01", "lot_size": "0.001", "commands": 1, "accepted": 1, "rejected": 0,
        "trades": 0, "volume": 0, "commands_per_s": 1.0, "trades_per_s": 0.0, "best_bid": 9_000, "best_ask": None,
        "spread": None, "last_price": None, "resting": 1, "depth": {"bids": [[9_000, 3]], "asks": []},
        "latency_us": {"count": 1, "p50": 300.0, "p99": 300.0, "p999": 300.0, "max": 300.0},
    }},
}  # fmt: skip
EVENT = {
    "id": 1, "at": "2026-11-23T10:00:00+00:00", "shard": "x", "kind": "crashed", "severity": "critical",
    "message": "worker 42 killed by signal SIGKILL", "detail": {"pid": 42}, "actor": None, "reason": "",
}  # fmt: skip
