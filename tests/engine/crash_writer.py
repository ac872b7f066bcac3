"""A process that journals the test order flow and reports each acknowledged batch, until killed.

    python -m tests.engine.crash_writer DIRECTORY COUNT BATCH

Prints `acked <sequence>` after every batch `DurableEngine.submit` has made durable; the crash
test kills it with SIGKILL at a moment of its choosing and checks that recovery has them all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.durable import DurableEngine
from tests.engine.flow import MARKETS, order_flow


def main(directory: str, count: str, batch: str) -> None:
    commands, size = order_flow(int(count)), int(batch)
    durable = DurableEngine.open(Path(directory), MARKETS, snapshot_every=size * 7)
    for start in range(durable.engine.last_seq, len(commands), size):
        durable.submit(commands[start : start + size], source=f"batch-{start}")
        print(f"acked {durable.engine.last_seq}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
