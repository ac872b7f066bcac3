"""`manage.py run_engine` as a real process: restarts, hangs, crash loops, the lease, mode changes, shutdown."""

from __future__ import annotations

import os
import signal
import time
import uuid

import psutil
import pytest
import redis
from django.conf import settings

from engine.streams import Keys, pack, unpack
from tests.support.engine import Client, events, market_shard, status, supervisor, wait_for_event
from tests.support.processes import wait_for

pytestmark = [pytest.mark.timeout(180), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shard() -> str:
    return market_shard()


def order(client_id: str, price: int = 9_000) -> list:
    return [1, "BTC-USD", 1, client_id, "buy", price, 1]


def test_a_killed_worker_is_restarted_and_recovers_what_it_acknowledged(tmp_path, shard):
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        client = Client(shard)
        assert client.request([order("before")])[0][0][-1] == "accepted"
        pid = status(shard)["worker_pid"]
        standby = wait_for_standby(process.pid)
        os.kill(pid, signal.SIGKILL)
        crashed = wait_for_event(shard, "crashed", process=process)
        recovered = wait_for_event(shard, "recovered", 2, process=process)
        after = client.request([order("after")])[0]
        assert recovered.detail["pid"] == standby  # the waiting standby took over...
        assert recovered.detail["standby"]  # ...with the engine it kept level with the journal
        duplicate = client.request([order("before")])[0]
    assert crashed.severity == "critical"
    assert crashed.detail["signal"] == signal.SIGKILL
    assert "SIGKILL" in crashed.message
    assert events(shard, "restarted")
    assert recovered.detail["last_sequence"] == 1  # the acknowledged order survived
    assert recovered.detail["lost_acknowledged"] == 0
    assert after[0][0] == 2
    assert duplicate[0][1] == "duplicate_client_order_id"  # and is known: resending it is safe


def wait_for_standby(supervisor_pid: int) -> int:
    """The pid of the supervisor's standby worker, once it has one."""
    found = []

    def standby() -> bool:
        children = psutil.Process(supervisor_pid).children()
        found[:] = [child.pid for child in children if "--standby-fd" in child.cmdline()]
        return bool(found)

    wait_for(standby, timeout=20, what="a standby worker")
    return found[0]


def test_a_hung_worker_is_killed_and_restarted(tmp_path, shard):
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        pid = status(shard)["worker_pid"]
        os.kill(pid, signal.SIGSTOP)
        hung = wait_for_event(shard, "hung", process=process)
        wait_for_event(shard, "recovered", 2, process=process)
        assert Client(shard).request([order("alive")])[0][0][-1] == "accepted"
        wait_for(lambda: status(shard)["worker_pid"] != pid, timeout=5, what="the status to name the new worker")
    assert hung.detail["pid"] == pid
    assert hung.detail["silent_seconds"] >= 0.6
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_crash_loop_stops_restarting_and_raises_a_critical_event(tmp_path, shard):
    unusable = tmp_path / "not-a-directory"
    unusable.write_text("a file where the journal directory should be: the worker fails at every start")
    options = ["--crash-loop-failures", "3", "--crash-loop-window", "60"]
    with supervisor(tmp_path, shard, *options, journal=unusable) as process:
        loop = wait_for_event(shard, "crash_loop", process=process)
        time.sleep(1.0)
        assert status(shard)["state"] == "failed"
        assert len(events(shard, "crashed")) == 3
        assert process.poll() is None  # the supervisor stays, saying the engine failed
    assert loop.severity == "critical"
    assert loop.detail["failures"] == 3


def test_two_supervisors_never_run_one_shard(tmp_path, shard):
    with supervisor(tmp_path, shard) as first:
        wait_for_event(shard, "recovered", process=first)
        Client(shard).request([order("first")])
        with supervisor(tmp_path, shard) as second:
            wait_for(lambda: b"waiting for its lease" in second.log.read_bytes(), timeout=30, what="second waits")
            time.sleep(1.0)
            assert len(events(shard, "started")) == 1
            first.terminate()
            assert first.wait(timeout=30) == 0
            wait_for_event(shard, "lease_acquired", 2, process=second)
            recovered = wait_for_event(shard, "recovered", 2, process=second)
            assert recovered.detail["last_sequence"] == 1
    holders = [event.detail["holder"] for event in events(shard, "lease_acquired")]
    assert len(set(holders)) == 2


def test_sigterm_stops_the_worker_and_releases_the_lease(tmp_path, shard):
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        Client(shard).request([order("kept")])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert events(shard)[-1].kind == "stopped"
    assert not events(shard, "crashed")
    assert redis.Redis.from_url(settings.REDIS_URL).get(Keys(shard).lease) is None
    assert status(shard)["state"] == "stopped"
    assert sorted((tmp_path / "journal").glob("snapshot-*"))[-1].name.endswith("00000000000000000001.snap")


def test_mode_changes_are_relayed_honoured_and_recorded(tmp_path, shard, commander):
    connection = redis.Redis.from_url(settings.REDIS_URL)
    keys = Keys(shard)

    def ask(mode: str, **extra) -> dict:
        reply = f"{keys.prefix}:test-mode:{uuid.uuid4().hex[:6]}"
        request = {"symbol": "BTC-USD", "mode": mode, "reason": "incident 42", "actor_id": commander.pk, **extra}
        connection.xadd(keys.control, {"m": pack(request), "r": reply})
        answer = connection.blpop([reply], timeout=20)
        assert answer is not None, "the supervisor did not answer"
        return unpack(answer[1])

    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        client = Client(shard)
        client.request([order("resting")])
        halted = ask("halted", cancel_resting=True)
        refused = client.request([order("while-halted")])[0]
        wrong = ask("sideways")
        reopened = ask("open")
    assert halted["ok"] is True
    assert (halted["previous"], halted["mode"]) == ("open", "halted")
    assert refused[0][1] == "mode_forbids"
    assert wrong["ok"] is False
    assert "mode must be one of" in wrong["error"]
    assert reopened["previous"] == "halted"
    change = events(shard, "mode_changed")[0]
    assert change.actor == commander
    assert change.reason == "incident 42"
    assert change.detail == {"symbol": "BTC-USD", "previous": "open", "mode": "halted", "cancelled": 1}


def test_a_supervisor_that_loses_its_lease_stops_its_worker_at_once(tmp_path, shard):
    """Someone else holds the lease (it expired while this supervisor was stalled): it must not run on."""
    connection = redis.Redis.from_url(settings.REDIS_URL)
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        pid = status(shard)["worker_pid"]
        connection.set(Keys(shard).lease, b"another-supervisor", px=2_000)
        lost = wait_for_event(shard, "lease_lost", process=process)
        wait_for(
            lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", timeout=10, what="exit"
        )
        # When the other holder's lease expires, this supervisor takes the shard again.
        wait_for_event(shard, "lease_acquired", 2, process=process)
        wait_for_event(shard, "recovered", 2, process=process)
    assert lost.severity == "critical"
    assert "taken by another supervisor" in lost.message
