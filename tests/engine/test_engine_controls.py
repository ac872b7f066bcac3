"""Commanders' engine controls through the API, against a real supervisor: restart, drills; and who may use them."""

from __future__ import annotations

import os
import signal
import time

import pytest

from console.models import AuditEntry
from engine.models import DrillResult
from tests.console.test_role_matrix import ANONYMOUS, COMMANDER, OUTSIDER, SUPPORT, VIEWER, client_for
from tests.support.engine import events, market_shard, status, supervisor, wait_for_event
from tests.support.processes import wait_for

pytestmark = [pytest.mark.timeout(180), pytest.mark.django_db(transaction=True)]

RESTART = "/api/v1/engine/restart/"
DRILLS = "/api/v1/engine/drills/"


def post(persona, name: str, path: str, body: dict):
    return client_for(persona, name).post(path, body, content_type="application/json")


@pytest.mark.parametrize("name", [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT])
@pytest.mark.parametrize("path", [RESTART, DRILLS])
def test_only_commanders_may_restart_the_engine_or_run_a_drill(persona, name, path):
    response = post(persona, name, path, {"reason": "curious", "fault": "crash"})
    assert response.status_code in (401, 403)


def test_a_control_needs_a_reason_and_a_known_fault(persona):
    assert post(persona, COMMANDER, RESTART, {}).json() == {"reason": ["This field is required."]}
    response = post(persona, COMMANDER, DRILLS, {"fault": "meteor", "reason": "practice"})
    assert response.status_code == 400
    assert "fault" in response.json()


def test_a_control_answers_503_when_no_supervisor_runs_the_shard(persona):
    response = post(persona, COMMANDER, RESTART, {"reason": "stuck", "shard": "nobody-runs-this"})
    assert response.status_code == 503
    assert response["Retry-After"]


def test_a_commander_restarts_the_engine_and_it_comes_back_with_the_reason_recorded(tmp_path, persona):
    shard = market_shard()
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        old_pid = status(shard)["worker_pid"]
        response = post(persona, COMMANDER, RESTART, {"shard": shard, "reason": "apply the new kernel"})
        assert response.status_code == 200, response.content
        assert response.json() == {"shard": shard, "previous_state": "running", "state": "restarting"}
        wait_for_event(shard, "recovered", 2, process=process)
        wait_for(lambda: status(shard).get("state") == "running", timeout=10, what="running again")
        assert status(shard)["worker_pid"] != old_pid
    [stopped] = [event for event in events(shard, "stopped") if event.detail.get("requested")]
    assert stopped.actor.username == persona(COMMANDER).username
    assert stopped.reason == "apply the new kernel"
    assert events(shard, "crashed") == []  # a drained worker, not a failure
    entry = AuditEntry.objects.get(action="engine.restarted")
    assert entry.after == {"state": "restarting", "reason": "apply the new kernel"}


def test_a_restart_brings_back_an_engine_that_gave_up(tmp_path, persona):
    shard = market_shard()
    options = ["--crash-loop-failures", "1"]
    with supervisor(tmp_path, shard, *options) as process:
        wait_for_event(shard, "recovered", process=process)
        os.kill(status(shard)["worker_pid"], signal.SIGKILL)
        wait_for_event(shard, "crash_loop", process=process)
        wait_for(lambda: status(shard).get("state") == "failed", timeout=5, what="failed")
        response = post(persona, COMMANDER, RESTART, {"shard": shard, "reason": "fixed the disk"})
        assert response.status_code == 200, response.content
        assert response.json()["previous_state"] == "failed"
        wait_for(lambda: status(shard).get("state") == "running", timeout=15, what="running again")
    assert events(shard, "restart_requested")[0].reason == "fixed the disk"


def test_a_commander_runs_a_crash_drill_and_its_result_is_stored_and_announced(tmp_path, persona):
    shard = market_shard()
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        wait_for(lambda: status(shard).get("state") == "running", timeout=10, what="running")
        response = post(persona, COMMANDER, DRILLS, {"shard": shard, "fault": "crash", "reason": "quarterly drill"})
        assert response.status_code == 200, response.content
        again = post(persona, COMMANDER, DRILLS, {"shard": shard, "fault": "hang", "reason": "and another"})
        assert again.status_code == 422
        assert again.json()["detail"] == "a drill is already running"
        finished = wait_for_event(shard, "drill_finished", timeout=60, process=process)
    started = events(shard, "drill_started")[0]
    assert started.actor.username == persona(COMMANDER).username
    assert started.reason == "quarterly drill"
    result = DrillResult.objects.get(pk=finished.detail["drill_id"])
    assert result.fault == "crash"
    assert result.rpo_orders == 0
    assert result.rto_seconds is not None
    assert finished.detail["rpo_orders"] == 0
    assert AuditEntry.objects.filter(action="engine.drill_started").count() == 1


def test_a_drill_is_refused_while_the_engine_is_not_running(tmp_path, persona):
    shard = market_shard()
    unusable = tmp_path / "not-a-directory"
    unusable.write_text("the worker fails at every start")
    with supervisor(tmp_path, shard, "--crash-loop-failures", "1", journal=unusable) as process:
        wait_for_event(shard, "crash_loop", process=process)
        time.sleep(0.3)
        response = post(persona, COMMANDER, DRILLS, {"shard": shard, "fault": "crash", "reason": "now?"})
    assert response.status_code == 422
    assert "needs it running" in response.json()["detail"]
