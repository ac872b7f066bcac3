"""The live dashboard's websocket, `/ws/engine/health/`: one subscription per process, one text per message.

A consumer per client in the Channels group costs a channel, a queue and a handler call for
every client and every message: measured here, that design collapses near 1,000 clients
(PERF_NOTES.md). Instead each web process has one `HealthHub` per event loop. It alone joins
the `engine.health` group; each message arrives as the producer's JSON text (serialized once,
`engine.health.frame`) and the hub writes that same text to every connected socket.

A client whose socket is full (a slow network) must not hold up the others: the hub writes
to it only when its previous message is out, and skips it otherwise. The messages' sequence
numbers tell such a client what it missed; it fills the gap from the REST API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.sessions import InstanceSessionWrapper

from console.permissions import Capability, can
from engine.health import HEALTH_GROUP, MESSAGE_TYPE

logger = logging.getLogger("engine.consumers")

RESUBSCRIBE_DELAY = 1.0  # seconds before the hub tries the channel layer again after an error


class HealthHub:
    """One event loop's subscription to `engine.health`, fanned out to its dashboard sockets."""

    hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HealthHub] = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self.sockets: set[HealthConsumer] = set()
        self.latest: dict[tuple[str, str], str] = {}  # (shard, type) -> its latest status and metrics text
        self.task: asyncio.Task | None = None
        self.subscribed = asyncio.Event()  # set while the hub is in the group
        self.delivered = 0
        self.skipped = 0

    @classmethod
    def current(cls) -> HealthHub:
        loop = asyncio.get_running_loop()
        hub = cls.hubs.get(loop)
        if hub is None:
            hub = cls.hubs[loop] = cls()
        return hub

    def join(self, socket: HealthConsumer) -> None:
        self.sockets.add(socket)
        for text in list(self.latest.values()):  # what the dashboard shows until the next messages
            socket.deliver(text)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._listen(), name="engine-health-hub")

    def leave(self, socket: HealthConsumer) -> None:
        self.sockets.discard(socket)
        if not self.sockets and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _listen(self) -> None:
        layer = get_channel_layer()
        if layer is None:
            logger.error("engine health: no channel layer configured; dashboards get no live data")
            return
        while True:
            channel = None
            try:
                channel = await layer.new_channel()
                await layer.group_add(HEALTH_GROUP, channel)
                self.subscribed.set()
                while True:
                    message = await layer.receive(channel)
                    if message.get("type") == MESSAGE_TYPE:
                        self.broadcast(message["text"], kind=message["kind"], shard=message["shard"])
            except asyncio.CancelledError:
                self.subscribed.clear()
                if channel is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(layer.group_discard(HEALTH_GROUP, channel))
                raise
            except Exception as error:  # Redis away: the dashboards turn stale and refill when it is back
                self.subscribed.clear()
                logger.warning("engine health: channel layer error (%s); subscribing again", error)
                await asyncio.sleep(RESUBSCRIBE_DELAY)

    def broadcast(self, text: str, *, kind: str, shard: str) -> None:
        """Write one message to every socket that can take it now."""
        if kind in ("status", "metrics"):
            self.latest[(shard, kind)] = text
        for socket in list(self.sockets):
            if socket.deliver(text):
                self.delivered += 1
            else:
                self.skipped += 1


class HealthConsumer(AsyncWebsocketConsumer):
    """A dashboard's socket: viewers and up, fed by the hub, saying nothing back."""

    # The hub subscribes for everyone; a consumer of its own would cost a channel per client.
    channel_layer_alias = "none: engine.consumers.HealthHub subscribes"
    capability = Capability.VIEW_CONSOLE

    async def connect(self) -> None:
        self.writing: asyncio.Future | None = None
        self.hub: HealthHub | None = None
        self.send_frame = _server_send(self.base_send)
        if not await database_sync_to_async(can)(self.scope.get("user"), self.capability):
            await self.close()  # before accept(): the handshake is answered 403
            return
        await self.accept()
        self.hub = HealthHub.current()
        self.hub.join(self)

    async def disconnect(self, code: int) -> None:
        if self.hub is not None:
            self.hub.leave(self)
        if self.writing is not None:
            self.writing.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Clients only listen; what they send is ignored (controls go through the API, with CSRF)."""

    def deliver(self, text: str) -> bool:
        """Start writing `text`; return False if the previous message is still being written."""
        if self.writing is not None:
            return False
        sending = self.send_frame({"type": "websocket.send", "text": text})
        try:
            # Run the send up to its first suspension: with room in the socket's buffer it
            # completes right here, which costs no task (a task per client per message is
            # what the Channels group design pays).
            waiting = sending.send(None)
        except StopIteration:
            return True
        except Exception:  # the connection is gone; its disconnect is on its way
            return False
        self.writing = asyncio.ensure_future(_finish(sending, waiting))
        self.writing.add_done_callback(self._written)
        return True

    def _written(self, future: asyncio.Future) -> None:
        self.writing = None


def _server_send(send: Callable[[dict], Awaitable[None]]) -> Callable[[dict], Awaitable[None]]:
    """The server's own send, from under Channels' session middleware, for the hub's frames.

    `AuthMiddlewareStack` wraps every send to save the session with an HTTP response; for a
    websocket frame it does nothing but read the lazy session's flags, 5 µs a frame per client:
    a third of a web process's CPU with 1,000 dashboards (BENCHMARKS.md).
    """
    wrapper = getattr(send, "__self__", None)
    while isinstance(wrapper, InstanceSessionWrapper):
        send = wrapper.real_send
        wrapper = getattr(send, "__self__", None)
    return send


async def _finish(sending: Coroutine[Any, Any, Any], waiting: Any) -> None:
    """Drive a send that had to wait for the socket (what a task would do, from where it stopped)."""
    while True:
        if waiting is None:
            await asyncio.sleep(0)
        else:
            with contextlib.suppress(Exception):
                await asyncio.wait([waiting])
        try:
            waiting = sending.send(None)
        except StopIteration:
            return
        except Exception:
            return
