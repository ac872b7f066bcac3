"""The one place maintenance talks to the engine: switch a market's mode through its shard's supervisor.

The supervisor relays the change to the worker, waits for its acknowledgement and records a
`mode_changed` engine event with who and why (`engine.gateway.change_mode` audits it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.client import EngineUnavailable
from engine.gateway import change_mode


@dataclass(frozen=True)
class Outcome:
    ok: bool
    previous: str | None = None
    error: str = ""


def switch(market: Any, mode: str, *, reason: str, by: Any = None) -> Outcome:
    """Switch `market` into `mode`; a refusal or an engine that cannot answer is an Outcome, never an exception."""
    try:
        result = change_mode(market=market, mode=mode, reason=reason, cancel_resting=False, by=by)
    except EngineUnavailable as error:
        return Outcome(False, error=error.reason)
    if not result["ok"]:
        return Outcome(False, error=result["error"] or "the engine refused the mode change")
    return Outcome(True, previous=result["previous"])
