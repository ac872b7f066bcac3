"""Channel-layer messages from synchronous code (the supervisor, services, tasks) without blocking it.

Channel layers keep their Redis connections per event loop, and `async_to_sync` would make a
loop per call (and wait for Redis). A `Broadcaster` owns one loop in a daemon thread: `send`
hands the message over and returns at once; a stuck layer costs dropped messages, not a stall.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future

from channels.layers import get_channel_layer

logger = logging.getLogger("console.broadcast")

MAX_PENDING = 64  # messages queued for the channel layer before new ones are dropped


class Broadcaster:
    """Send channel-layer group messages from a loop of its own; count what is lost."""

    def __init__(self, name: str, layer: object | None = None) -> None:
        self.name = name
        self.layer = layer if layer is not None else get_channel_layer()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.starting = threading.Lock()  # several threads may send first at once
        self.pending: set[Future] = set()
        self.dropped = 0
        self.failing = False

    def send(self, group: str, message: dict) -> bool:
        """Queue one group message; False when it was dropped (no layer, or the layer is stuck)."""
        if self.layer is None or len(self.pending) >= MAX_PENDING:
            self.dropped += self.layer is not None
            return False
        future = asyncio.run_coroutine_threadsafe(self.layer.group_send(group, message), self._loop())
        self.pending.add(future)
        future.add_done_callback(self._sent)
        return True

    def _sent(self, future: Future) -> None:
        self.pending.discard(future)
        error = None if future.cancelled() else future.exception()
        if error is None:
            if self.failing:
                logger.info("%s: messages flow again (%d lost)", self.name, self.dropped)
            self.failing = False
            return
        self.dropped += 1
        if not self.failing:  # once per outage, not ten times a second
            logger.warning("%s: messages are being lost: %s", self.name, error)
        self.failing = True

    def _loop(self) -> asyncio.AbstractEventLoop:
        with self.starting:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name=self.name, daemon=True).start()
            return self.loop

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until the messages sent so far are delivered to the layer (or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self.flush()
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.loop = None
