"""The engine worker as a real process on the real Redis: acknowledgements, telemetry, crashes.

The promise under test: an acknowledged command is journaled, survives any crash, and is never
applied twice; a command sent before a crash is answered after it.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from engine.core.wire import decode
from engine.durable import DurableEngine
from engine.journal import Journal
from engine.streams import BAD_COMMAND, Keys, command_entry, unpack
from tests.support.engine import BTC_USD, ETH_USD, Client, WorkerProcess, running_worker, worker_config

pytestmark = pytest.mark.timeout(120)


def limit(account: int, client_id: str, side: str, price: int, qty: int, tif: str = "gtc") -> list:
    return [1, "BTC-USD", account, client_id, side, price, qty, tif]


def journal_sources(directory: Path) -> list[str]:
    """The source of every command in a worker's journal, in order (read after it stopped)."""
    return [decode(record.payload)[1] for record in Journal(directory / "journal").records(cut_torn_tail=False)]


def test_commands_are_acknowledged_with_their_events(tmp_path):
    with running_worker(tmp_path) as worker:
        client = Client(worker.config.shard)
        rest, take = client.request([limit(1, "a", "sell", 10_000, 5), limit(2, "b", "buy", 10_000, 2)])
    assert [event[-1] for event in rest] == ["accepted"]
    assert [event[-1] for event in take] == ["accepted", "trade"]
    assert take[1][4:6] == [10_000, 2]  # trade price and quantity
    (entry_id,) = {source.rpartition("/")[0] for source in journal_sources(tmp_path)}
    assert journal_sources(tmp_path) == [f"{entry_id}/0", f"{entry_id}/1"]


def test_bad_commands_are_rejected_with_a_reason_and_change_nothing(tmp_path):
    with running_worker(tmp_path) as worker:
        client = Client(worker.config.shard)
        results = client.request(
            [
                [99, "x"],
                "not a list",
                [],
                [1, "BTC-USD"],
                limit(1, "ok", "buy", 9_000, 1),
                limit(1, "p", "up", 9_000, 1),
            ]
        )
        raw = client.redis.xadd(worker.keys.commands, {"c": b"\xc1 not msgpack", "r": client.reply})
        (garbage,) = client.acks(1)[raw.decode()]
    codes = [events[0][1] if events[0][-1] == "rejected" else "accepted" for events in results]
    assert codes == [BAD_COMMAND, BAD_COMMAND, BAD_COMMAND, BAD_COMMAND, "accepted", "bad_side"]
    assert "unknown command kind 99" in results[0][0][2]
    assert "Limit takes 8 fields" in results[3][0][2]
    assert garbage[0][1] == BAD_COMMAND
    assert "msgpack" in garbage[0][2]
    # Only decodable commands take a sequence number and a journal record; the engine's own
    # rejection (bad side) is one of them.
    assert len(journal_sources(tmp_path)) == 2


def test_a_cancel_all_with_nothing_to_cancel_is_answered_with_no_event(tmp_path):
    """It has no event to count or to answer with; the worker once crashed looking for one."""
    with running_worker(tmp_path) as worker:
        client = Client(worker.config.shard)
        nothing, rest = client.request([[4, "BTC-USD", 7], limit(1, "after", "buy", 9_000, 1)])
        assert worker.process.poll() is None
    assert nothing == []
    assert [event[-1] for event in rest] == ["accepted"]


def test_metrics_and_heartbeat_are_published(tmp_path):
    with running_worker(tmp_path, metrics_interval=0.2) as worker:
        client = Client(worker.config.shard)
        client.request(
            [limit(1, "s", "sell", 10_010, 3), limit(2, "b", "buy", 9_990, 4), limit(2, "t", "buy", 10_010, 1)]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            snapshots = [unpack(fields[b"m"]) for _, fields in client.redis.xrange(worker.keys.metrics)]
            if any(snapshot["commands"] for snapshot in snapshots):
                break
            time.sleep(0.1)
        beat = unpack(client.redis.get(worker.keys.heartbeat))
        assert beat["pid"] == worker.process.pid
        assert beat["sequence"] == 3
        assert 0 < client.redis.pttl(worker.keys.heartbeat) <= 2_000
    busy = next(snapshot for snapshot in snapshots if snapshot["commands"])
    assert busy["commands"] == 3
    assert busy["trades"] == 1
    assert busy["accepted"] == 3
    assert busy["latency_us"]["count"] == 3
    assert busy["latency_us"]["p50"] > 0
    assert {"pid", "uptime", "rss_bytes", "cpu_percent", "last_sequence", "journal_bytes", "snapshot_age"} <= set(busy)
    assert busy["queue_depth"] == 0
    btc = snapshots[-1]["markets"]["BTC-USD"]
    assert (btc["best_bid"], btc["best_ask"], btc["spread"], btc["last_price"]) == (9_990, 10_010, 20, 10_010)
    assert btc["depth"] == {"bids": [[9_990, 4, 1]], "asks": [[10_010, 2, 1]]}
    assert btc["mode"] == "open"
    assert (
        next(snapshot for snapshot in snapshots if snapshot["commands"])["markets"]["BTC-USD"]["latency_us"]["count"]
        == 3
    )
    assert btc["tick_size"] == "0.01"
    assert set(snapshots[-1]["markets"]) == {"BTC-USD", "ETH-USD"}


def test_a_command_journaled_but_never_acknowledged_is_acknowledged_after_restart(tmp_path):
    """The crash came after the group commit and before publication: the ack is sent again, once."""
    config = worker_config(tmp_path)
    keys, client = Keys(config.shard), Client(config.shard)
    commands = [limit(1, "x1", "sell", 10_000, 5), limit(2, "x2", "buy", 10_000, 5)]
    entry_id = client.send(commands)
    journal_the_first(tmp_path, config, entry_id, commands, count=2)  # what the dead worker had done
    with running_worker(tmp_path, config) as worker:
        acks = client.acks(1)
        assert worker.ready["recovery"]["replayed"] == 2
        assert worker.ready["recovery"]["republished"] == 1
    assert [event[-1] for event in acks[entry_id][1]] == ["accepted", "trade"]
    assert journal_sources(tmp_path) == [f"{entry_id}/0", f"{entry_id}/1"]  # applied once
    assert client.redis.xlen(keys.events) == 1


def test_recovery_counts_acknowledged_commands_missing_from_the_journal(tmp_path):
    """Durability broken from outside (the journal's disk replaced): the worker says what was lost, not 0."""
    config = worker_config(tmp_path)
    client = Client(config.shard)
    with running_worker(tmp_path, config) as worker:
        client.request([limit(1, "k1", "buy", 9_000, 1), "garbage", limit(1, "k2", "buy", 9_001, 1)])
        client.request([limit(1, "k3", "buy", 9_002, 1)])
        assert worker.ready["recovery"]["lost_acknowledged"] == 0
    shutil.rmtree(config.journal_dir)
    with running_worker(tmp_path, config) as worker:
        assert worker.ready["recovery"]["last_sequence"] == 0
        assert worker.ready["recovery"]["lost_acknowledged"] == 3  # the refused "garbage" was never journaled
    with running_worker(tmp_path, config) as worker:  # still missing, so still reported: nobody can miss it
        assert worker.ready["recovery"]["lost_acknowledged"] == 3


def test_a_half_journaled_entry_is_finished_without_repeating_its_start(tmp_path):
    """The crash cut a group commit short: the entry's journaled commands are not applied again."""
    config = worker_config(tmp_path)
    client = Client(config.shard)
    commands = [limit(1, f"h{index}", "buy", 9_000 + index, 1) for index in range(4)]
    entry_id = client.send(commands)
    journal_the_first(tmp_path, config, entry_id, commands, count=2)
    with running_worker(tmp_path, config):
        results = client.acks(1)[entry_id]
    assert [events[0][0] for events in results] == [1, 2, 3, 4]  # sequence numbers: each applied once
    assert journal_sources(tmp_path) == [f"{entry_id}/{index}" for index in range(4)]


def journal_the_first(directory: Path, config, entry_id: str, commands: list, *, count: int) -> None:
    """Do what a worker that crashed after journaling the entry's first `count` commands had done.

    Items that are not decodable commands are skipped, as the worker skips them: no record.
    """
    from engine.core.wire import APPLY, TYPES, encode_item

    durable = DurableEngine.open(Path(config.journal_dir), config.market_configs())
    payloads = []
    for index, item in enumerate(commands[:count]):
        if isinstance(item, list) and item and item[0] in TYPES:
            kind, payload, fields = encode_item(item, f"{entry_id}/{index}")
            APPLY[kind](durable.engine, *fields)  # as the worker does: apply, then journal the batch
            payloads.append(payload)
    durable.commit_applied(payloads)
    durable.close(snapshot=False)


def test_a_republished_acknowledgement_answers_the_commands_refused_before_the_engine_too(tmp_path):
    config = worker_config(tmp_path)
    client = Client(config.shard)
    commands = ["garbage", limit(1, "r1", "buy", 9_000, 1), [42], limit(1, "r2", "buy", 9_001, 1)]
    entry_id = client.send(commands)
    journal_the_first(tmp_path, config, entry_id, commands, count=4)  # journaled, never acknowledged
    with running_worker(tmp_path, config):
        results = client.acks(1)[entry_id]
    assert [events[0][-1] for events in results] == ["rejected", "accepted", "rejected", "accepted"]
    assert results[0][0][2] == "a command is a list: [kind, *fields]"
    assert "unknown command kind 42" in results[2][0][2]
    assert [events[0][0] for events in results] == [None, 1, None, 2]


class Flow:
    """A client sending a steady flow of orders from a thread, keeping its record of acknowledgements."""

    def __init__(self, shard: str, per_entry: int = 50) -> None:
        self.client = Client(shard)
        self.per_entry = per_entry
        self.sent: dict[str, list[str]] = {}  # entry id -> client order ids
        self.acked: dict[str, list] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        sender = redis.Redis.from_url(settings.REDIS_URL)
        number = 0
        while not self.stop.is_set():
            ids = [f"f{number}-{index}" for index in range(self.per_entry)]
            orders = [
                limit(1 + index % 7, cid, ("buy", "sell")[index % 2], 9_950 + index % 100, 1)
                for index, cid in enumerate(ids)
            ]
            entry_id = sender.xadd(self.client.keys.commands, command_entry(orders, self.client.reply)).decode()
            self.sent[entry_id] = ids
            number += 1
            self.collect(block=False)
            time.sleep(0.002)

    def collect(self, *, block: bool, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            raw = self.client.redis.lpop(self.client.reply)
            if raw is None:
                if not block or len(self.acked) >= len(self.sent) or time.monotonic() > deadline:
                    return
                time.sleep(0.01)
                continue
            entry_id, results = unpack(raw)
            assert entry_id not in self.acked, f"entry {entry_id} acknowledged twice"
            self.acked[entry_id] = results


@pytest.mark.parametrize("standby", [False, True], ids=["cold", "standby"])
def test_sigkill_under_load_loses_no_acknowledged_order_and_doubles_none(tmp_path, standby):
    """Restarted from cold, or taken over by a standby that followed the journal: the same promise."""
    config = worker_config(tmp_path, markets=[BTC_USD, ETH_USD])
    flow = Flow(config.shard)
    worker = WorkerProcess(config, tmp_path)
    worker.expect("ready")
    flow.thread.start()
    for _ in range(3):
        following = WorkerProcess(config, tmp_path, standby=True) if standby else None
        time.sleep(0.4)
        worker.signal(signal.SIGKILL)
        worker.process.wait()
        worker.stop()
        if following is None:
            worker = WorkerProcess(config, tmp_path)
        else:
            worker = following
            worker.go()
        ready = worker.expect("ready")
        assert ready["recovery"]["standby"] is standby
        assert ready["recovery"]["lost_acknowledged"] == 0
    time.sleep(0.3)
    flow.stop.set()
    flow.thread.join()
    flow.collect(block=True)
    worker.stop()

    assert len(flow.acked) == len(flow.sent) > 20, "every entry sent was answered"
    sources = journal_sources(tmp_path)
    assert len(sources) == len(set(sources)), "no command was applied twice"
    journaled = set(sources)
    for entry_id, results in flow.acked.items():
        assert len(results) == flow.per_entry
        for index in range(flow.per_entry):
            assert f"{entry_id}/{index}" in journaled, f"acknowledged command {entry_id}/{index} lost"
    accepted_ids = [
        event[4] for results in flow.acked.values() for events in results for event in events if event[-1] == "accepted"
    ]
    assert len(accepted_ids) == len(set(accepted_ids)) == len(sources), "each order accepted exactly once"


def test_sigterm_drains_and_snapshots(tmp_path):
    with running_worker(tmp_path) as worker:
        Client(worker.config.shard).request([limit(1, "d", "buy", 9_000, 1)])
        worker.signal(signal.SIGTERM)
        assert worker.process.wait(timeout=20) == 0
    snapshots = sorted((tmp_path / "journal").glob("snapshot-*.snap"))
    assert snapshots[-1].name.endswith("00000000000000000001.snap")


def test_a_second_worker_cannot_open_the_same_journal(tmp_path):
    with running_worker(tmp_path) as worker:
        second = WorkerProcess(worker.config, tmp_path)
        assert second.process.wait(timeout=30) != 0
        assert "in use by another process" in second.output()
        second.stop()


def test_the_worker_waits_for_redis_and_heartbeats_meanwhile(tmp_path):
    config = worker_config(tmp_path, redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    worker = WorkerProcess(config, tmp_path)
    try:
        time.sleep(1.0)
        assert worker.process.poll() is None
        assert worker.heartbeats >= 3
    finally:
        assert worker.stop() == 0


def test_acknowledgements_wait_for_the_journal(tmp_path):
    """Everything acknowledged is in the journal at the moment the acknowledgement is read."""
    with running_worker(tmp_path) as worker:
        client = Client(worker.config.shard)
        for round_ in range(5):
            client.request([limit(1, f"j{round_}", "buy", 9_000, 1)])
            # The journal is fsynced before publication, so a reader sees the record already.
            assert len(journal_sources(tmp_path)) == round_ + 1


def test_a_restart_does_not_answer_again_an_entry_of_refused_commands(tmp_path):
    """Such an entry leaves no journal record, so the event stream is what says it was answered."""
    config = worker_config(tmp_path)
    client = Client(config.shard)
    with running_worker(tmp_path, config):
        client.request([limit(1, "g1", "buy", 9_000, 1)])
        client.request([[99], "nonsense"])
    with running_worker(tmp_path, config) as worker:
        client.request([limit(1, "g2", "buy", 9_000, 1)])  # the restarted worker is reading
        assert worker.ready["position"] != "0-0"
        assert client.redis.llen(client.reply) == 0  # nothing answered twice
    assert client.redis.xlen(Keys(config.shard).events) == 3
