"""The embedded Redis: one real server per state directory, found again by every process."""

from __future__ import annotations

import os

import pytest
import redis

from exchange_console.embedded_redis import EmbeddedRedis, resolve_redis_url
from tests.support.processes import private_redis, wait_for


@pytest.fixture
def server(tmp_path):
    with private_redis(tmp_path / "redis") as server:
        yield server


def server_pid(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return client.info("server")["process_id"]
    finally:
        client.close()


def test_it_starts_a_real_server_on_loopback_at_a_port_other_than_the_default_one(server):
    # when
    assert server.ensure_daemon() is True
    # then
    url, port = server.url, server.port
    assert port != 6379
    assert url == f"redis://127.0.0.1:{port}/0"
    assert server.port_file.read_text() == f"{port}\n"
    client = redis.Redis.from_url(url)
    try:
        client.set("exc:test:greeting", "hello", ex=60)
        assert client.get("exc:test:greeting") == b"hello"
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
    finally:
        client.close()


def test_a_second_start_reuses_the_running_server(server, tmp_path):
    # given
    server.ensure_daemon()
    pid = server_pid(server.url)
    # when another process's view of the same directory starts it again
    other_view = EmbeddedRedis(tmp_path / "redis")
    started = other_view.ensure_daemon()
    # then
    assert started is False
    assert other_view.url == server.url
    assert server_pid(other_view.url) == pid
    assert int(server.pid_file.read_text()) == pid


def test_stop_shuts_the_server_down(server):
    # given
    server.ensure_daemon()
    url = server.url
    # when
    assert server.stop() is True
    # then
    wait_for(lambda: not server.is_up(), timeout=10, what="the embedded Redis to stop")
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    assert server.stop() is False


def test_a_configured_url_is_used_as_it_is_and_nothing_is_started(tmp_path):
    assert resolve_redis_url("redis://x:1/0", tmp_path / "redis") == "redis://x:1/0"
    assert not (tmp_path / "redis").exists()


def test_without_a_configured_url_it_starts_the_server_and_shares_its_url_with_child_processes(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr("exchange_console.embedded_redis.started_here", None)
    with private_redis(tmp_path / "redis") as server:
        # when
        url = resolve_redis_url(None, tmp_path / "redis")
        # then
        assert url == server.url
        assert server.is_up()
        assert os.environ["REDIS_URL"] == url
