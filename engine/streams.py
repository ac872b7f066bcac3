"""How the engine's processes talk through Redis: key names and the encoding of every message.

One shard of markets has one worker, which reads one command stream and writes one event
stream (DESIGN.md, "The engine"). Everything is msgpack: compact, fast to decode, and safe to
read from a shared service (unlike marshal, which stays inside the journal).

Command stream `engine:{shard}:commands`, one entry per batch sent by a client:
    c  msgpack list of commands, each `[kind, *fields]`: kind numbers and field order are those
       of the journal (`engine.core.wire.KINDS`, the command named tuples), so
       `[1, "BTC-USD", 7, "a1", "buy", 1000000, 5, "gtc", "cancel_newest"]` is a limit order;
       trailing fields with defaults may be left out.
    r  optional: a Redis list the worker pushes this entry's acknowledgement to.
    t  optional: the client's send time (ns since the epoch), for ingest-to-ack latency.

Acknowledgement (pushed to `r`, and as entry `e` of the event stream `engine:{shard}:events`
with `in` the command entry id): msgpack list with one item per command, each the list of the
engine's events for it (`engine.core.events`, plain tuples, kind last). It is sent only after
the commands are journaled under the worker's sync policy: an acknowledged command survives
any crash. A command the worker cannot even decode gets `[[None, "bad_command", reason,
"rejected"]]` and no sequence number: it changed nothing and is not journaled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgpack

from engine.core.events import REJECTED

BAD_COMMAND = "bad_command"
DEFAULT_SHARD = "main"
REPLY_TTL_MS = 60_000  # an acknowledgement nobody collects expires with its list
PRIVATE_STATUS = frozenset({"journal_dir"})  # status fields for drills on the engine's host, not for dashboards


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one shard."""

    shard: str = DEFAULT_SHARD

    @property
    def prefix(self) -> str:
        return f"engine:{self.shard}"

    @property
    def commands(self) -> str:
        return f"{self.prefix}:commands"

    @property
    def events(self) -> str:
        return f"{self.prefix}:events"

    @property
    def heartbeat(self) -> str:
        """The worker's latest heartbeat: msgpack map of pid, time, sequence (expires if it stops)."""
        return f"{self.prefix}:heartbeat"

    @property
    def metrics(self) -> str:
        """Stream of one-second metrics snapshots: the series kept for at least six hours."""
        return f"{self.prefix}:metrics"

    @property
    def status(self) -> str:
        """The supervisor's view: state, worker pid, restarts, last event (msgpack map)."""
        return f"{self.prefix}:status"

    @property
    def lease(self) -> str:
        return f"{self.prefix}:lease"

    @property
    def control(self) -> str:
        """Stream of requests to the supervisor (mode changes), answered on each request's reply list."""
        return f"{self.prefix}:control"


pack = msgpack.Packer(use_bin_type=True).pack


def unpack(data: bytes) -> object:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def public_status(status: dict) -> dict:
    """The supervisor's status without what only the engine's host needs (for dashboards and the API)."""
    return {key: value for key, value in status.items() if key not in PRIVATE_STATUS}


def bad_command(reason: str) -> list[tuple]:
    """The events answering a command the worker cannot decode."""
    return [(None, BAD_COMMAND, reason, REJECTED)]


def command_entry(commands: list[list], reply: str | None = None) -> dict[str, bytes | str | int]:
    """The fields of a command stream entry carrying `commands` (each `[kind, *fields]`)."""
    fields: dict[str, bytes | str | int] = {"c": pack(commands), "t": time.time_ns()}
    if reply is not None:
        fields["r"] = reply
    return fields


def entry_key(entry_id: str) -> tuple[int, int]:
    """Order stream entry ids ("1700000000000-3") numerically."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
