"""The probes: /healthz says the process answers, /readyz names whichever part cannot serve."""

from __future__ import annotations

import pytest

from tests.support.processes import private_redis, wait_for

PROBES = ["/healthz", "/readyz"]


@pytest.fixture
def own_redis(tmp_path, settings):
    """Point the app at a Redis of this test's own, which the test may stop."""
    with private_redis(tmp_path / "redis") as server:
        server.ensure_daemon()
        settings.REDIS_URL = server.url
        yield server


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.django_db
def test_readyz_is_ready_while_the_database_and_redis_answer(client, own_redis):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_readyz_answers_503_naming_redis_when_redis_is_stopped(client, own_redis):
    # given the app's Redis was serving, and then stopped
    assert client.get("/readyz").status_code == 200
    assert own_redis.stop()
    wait_for(lambda: not own_redis.is_up(), timeout=10, what="the private Redis to stop")
    # when
    response = client.get("/readyz")
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["failing"] == ["redis"]
    redis_check = body["checks"]["redis"]
    assert redis_check["ok"] is False
    assert isinstance(redis_check["error"], str)
    assert "ConnectionError" in redis_check["error"]
    assert body["checks"]["database"]["ok"] is True
    assert "error" not in body["checks"]["database"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PROBES)
def test_a_probe_needs_no_login(client, own_redis, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize("path", PROBES)
def test_a_probe_tells_caches_not_to_keep_its_answer(client, own_redis, path):
    cache_control = {part.strip() for part in client.get(path)["Cache-Control"].split(",")}
    assert {"no-cache", "no-store", "must-revalidate", "max-age=0"} <= cache_control
