"""Talk to a running engine shard through Redis: send commands, read its health, change modes.

The order gateway, the simulator and the drills all go through `EngineClient`, so the protocol
of `engine.streams` is spoken in one place on the client side. Every failure to reach the
engine (no heartbeat, no supervisor, Redis down, no answer in time) is one exception,
`EngineUnavailable`, carrying how long to wait before trying again.

A request that timed out may still be applied later: the command is in the stream and the
worker will get to it. Callers must treat a timeout as "unknown", never as "refused" (clients
find out with their client order id, which the engine never accepts twice).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from functools import lru_cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from engine.streams import Keys, command_entry, pack, unpack

# Longer than the supervisor's own wait for the worker (`SupervisorConfig.relay_timeout`, 10 s),
# so even its "the engine did not acknowledge" answer comes back rather than our timeout.
MODE_CHANGE_TIMEOUT = 15.0
# Each blocking pop waits at most this long, well inside the connection's socket timeout.
POLL_SLICE = 1.0
SOCKET_TIMEOUT = 5.0


class EngineUnavailable(Exception):
    """The engine (or its supervisor) cannot answer now; `retry_after` is a hint in seconds."""

    def __init__(self, reason: str, *, retry_after: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@lru_cache(maxsize=4)
def connection(url: str) -> redis.Redis:
    """One client (and connection pool) per Redis URL for the whole process.

    No retries: a retried XADD whose first reply was lost would send the commands twice, and
    a caller waiting on a sick Redis is better told at once (503) than after backoffs.
    """
    return redis.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
    )


class EngineClient:
    """The client side of one shard's Redis protocol (`engine.streams`)."""

    def __init__(self, shard: str | None = None, redis_client: redis.Redis | None = None) -> None:
        self.keys = Keys(shard or settings.ENGINE_SHARD)
        self.redis = redis_client if redis_client is not None else connection(settings.REDIS_URL)

    def request(self, commands: list[list], timeout: float | None = None) -> list[list]:
        """Send commands in one stream entry; return the engine's events for each, in order."""
        timeout = settings.ENGINE_ORDER_TIMEOUT if timeout is None else timeout
        if not self.alive():
            raise EngineUnavailable(f"engine shard {self.keys.shard} is not running (no heartbeat)", retry_after=2)
        reply = self._reply_key("replies")
        with self._unavailable_on_redis_error():
            self.redis.xadd(self.keys.commands, command_entry(commands, reply))
            answer = self._wait(reply, timeout)
        if answer is None:
            raise EngineUnavailable(f"engine shard {self.keys.shard} did not acknowledge within {timeout:g} s")
        _entry_id, results = unpack(answer)
        return results

    def set_mode(
        self, symbol: str, mode: str, *, reason: str, actor: object = None, cancel_resting: bool = False,
        timeout: float = MODE_CHANGE_TIMEOUT,
    ) -> dict:  # fmt: skip
        """Ask the shard's supervisor to change a market's mode; return its answer.

        The answer is a map: ok, error, previous, mode, events. A refusal (ok False) is an
        answer; only silence, or no supervisor holding the shard's lease, raises.
        """
        request = {"action": "mode", "symbol": symbol, "mode": mode, "cancel_resting": cancel_resting}
        return self.control(request, reason=reason, actor=actor, timeout=timeout)

    def restart(self, *, reason: str, actor: object = None, timeout: float = MODE_CHANGE_TIMEOUT) -> dict:
        """Ask the supervisor to drain the worker and start a new one (also out of `failed`)."""
        return self.control({"action": "restart"}, reason=reason, actor=actor, timeout=timeout)

    def drill(self, fault: str, *, reason: str, actor: object = None, timeout: float = MODE_CHANGE_TIMEOUT) -> dict:
        """Ask the supervisor to start a recovery drill (crash or hang); its result arrives as engine events."""
        return self.control({"action": "drill", "fault": fault}, reason=reason, actor=actor, timeout=timeout)

    def control(self, request: dict, *, reason: str, actor: object, timeout: float) -> dict:
        """Send a request to the shard's supervisor; return its answer (a map with ok and error)."""
        with self._unavailable_on_redis_error():
            supervised = self.redis.exists(self.keys.lease)
        if not supervised:
            raise EngineUnavailable(f"no supervisor runs engine shard {self.keys.shard}", retry_after=5)
        request = {
            **request,
            "reason": reason,
            "actor_id": getattr(actor, "pk", None),
            "actor": actor.get_username() if hasattr(actor, "get_username") else None,
        }
        reply = self._reply_key("control-replies")
        with self._unavailable_on_redis_error():
            self.redis.xadd(self.keys.control, {"m": pack(request), "r": reply})
            answer = self._wait(reply, timeout)
        if answer is None:
            raise EngineUnavailable(f"the supervisor of shard {self.keys.shard} did not answer within {timeout:g} s")
        return unpack(answer)

    def alive(self) -> bool:
        """Return True when the shard's worker heartbeat is fresh (it expires 2 s after it stops)."""
        try:
            return bool(self.redis.exists(self.keys.heartbeat))
        except redis.RedisError:
            return False

    def latest_metrics(self, max_age: float | None = None) -> dict | None:
        """Return the newest metrics snapshot (None when there is none, or it is older than `max_age` s)."""
        try:
            found = self.redis.xrevrange(self.keys.metrics, count=1)
        except redis.RedisError:
            return None
        if not found:
            return None
        try:
            metrics = unpack(found[0][1][b"m"])
        except Exception:  # msgpack raises several types for bad input; a bad entry is no snapshot
            return None
        if not isinstance(metrics, dict):
            return None
        if max_age is not None and time.time() - metrics.get("time", 0) > max_age:
            return None
        return metrics

    def _reply_key(self, kind: str) -> str:
        return f"{self.keys.prefix}:{kind}:{uuid.uuid4().hex}"

    def _wait(self, reply: str, timeout: float) -> bytes | None:
        """Pop the one answer pushed to `reply` (None after `timeout` s); the list is deleted after."""
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                # Never below 10 ms: Redis reads a timeout that rounds to 0 ms as "block forever".
                found = self.redis.blpop([reply], timeout=max(min(left, POLL_SLICE), 0.01))
                if found is not None:
                    return found[1]
            return None
        finally:
            with contextlib.suppress(redis.RedisError):
                self.redis.delete(reply)

    @contextlib.contextmanager
    def _unavailable_on_redis_error(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as error:
            raise EngineUnavailable(f"Redis is unreachable ({type(error).__name__}: {error})", retry_after=2) from error
