"""The web process answers the public pages from the exported copy, in memory, and passes the rest to Django."""

from __future__ import annotations

from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

from incidents import services
from incidents.models import Component, ComponentStatus
from incidents.statuspage import export, fastpath

pytestmark = pytest.mark.django_db


class Downstream:
    """The rest of the app: answers 299 so a test sees the request went past the fast path."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


def get(app, path: str, *, method: str = "GET", query: bytes = b"", headers=()) -> tuple[int, dict, bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query, "headers": list(headers)}
    async_to_sync(app)(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def exported(commander, status_export_dir) -> Path:
    trading = Component.objects.create(name="BTC-USD trading")
    services.declare_incident(title="Orders time out", by=commander, message="We are investigating slow orders.",
                              components={trading: ComponentStatus.MAJOR_OUTAGE})  # fmt: skip
    return export.export_status_page(status_export_dir)


@pytest.fixture
def app(status_export_dir) -> fastpath.StatusPageFastPath:
    return fastpath.StatusPageFastPath(Downstream(), status_export_dir)


def test_the_home_page_json_and_feeds_come_from_the_copy_with_the_same_bytes(app, exported):
    status, headers, body = get(app, "/")
    assert status == 200
    assert body == (exported / "index.html").read_bytes()
    assert b"We are investigating slow orders." in body
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    status, headers, body = get(app, "/api/v2/summary.json")
    assert status == 200
    assert headers[b"access-control-allow-origin"] == b"*"
    assert body == (exported / "api/v2/summary.json").read_bytes()
    assert get(app, "/history.atom")[0] == 200
    assert app.app.paths == []


def test_a_matching_etag_is_a_304_without_a_body(app, exported):
    _, headers, _ = get(app, "/status/")
    status, _, body = get(app, "/status/", headers=[(b"if-none-match", headers[b"etag"])])
    assert status == 304
    assert body == b""


def test_head_answers_headers_only(app, exported):
    status, headers, body = get(app, "/", method="HEAD")
    assert status == 200
    assert body == b""
    assert int(headers[b"content-length"]) == (exported / "index.html").stat().st_size


def test_queries_posts_unknown_paths_and_static_files_go_to_django(app, exported):
    get(app, "/history/", query=b"month=2026-10")
    get(app, "/subscriptions/", method="POST")
    get(app, "/incidents/INC-2099-0001/")
    get(app, "/static/status/status.css")
    assert app.app.paths == ["/history/", "/subscriptions/", "/incidents/INC-2099-0001/", "/static/status/status.css"]


def test_without_a_copy_everything_goes_to_django(app):
    assert get(app, "/")[0] == 299


def test_a_new_export_is_served_once_the_check_interval_passed(app, exported, commander):
    assert b"Fixed." not in get(app, "/")[2]
    incident = services.declare_incident(title="Withdrawals slow", by=commander, message="Fixed.")
    assert incident.is_public()
    export.export_status_page()
    app.checked = float("-inf")  # as if CHECK_SECONDS had passed
    assert b"Withdrawals slow" in get(app, "/")[2]
