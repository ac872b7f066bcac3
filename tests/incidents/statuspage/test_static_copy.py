"""The static copy: re-exported on every public change, swapped in atomically, served by nginx with the app stopped."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import feedparser
import pytest
from django.core.management import call_command
from kombu import Connection

from exchange_console.celery import app
from exchange_console.paths import BASE_DIR
from incidents import publishing, services
from incidents.models import Component, ComponentStatus, Incident
from incidents.statuspage import api_v2, export, tasks, views
from tests.console.test_celery_worker import own_queue, worker_command
from tests.support.processes import child_env, free_port, running, wait_for

pytestmark = pytest.mark.django_db

NGINX = Path("/usr/sbin/nginx")
SHIPPED_CONFIG = BASE_DIR / "deploy" / "nginx" / "status-page.conf"
LINK = re.compile(r'(?:href|src)="(/[^"#]*)')
APP_ONLY = ("/subscriptions/",)  # served by the app alone (a form needs it), not part of the copy


@pytest.fixture
def export_dir(tmp_path: Path, settings) -> Path:
    settings.STATUS_EXPORT_DIR = tmp_path / "status-export"
    return settings.STATUS_EXPORT_DIR


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def incident(commander, trading) -> Incident:
    return services.declare_incident(title="Orders time out", by=commander, message="We are investigating.",
                                     components={trading: ComponentStatus.MAJOR_OUTAGE})  # fmt: skip


@pytest.fixture
def celery_runs_here(monkeypatch) -> None:
    """Run queued tasks in this process, as a worker would (deliberate: these tests check the copy, not Celery).

    The export task runs in a real worker on the real Redis in
    `test_a_real_worker_exports_the_copy_the_task_was_sent_for` below.
    """
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


@pytest.mark.django_db(transaction=True)  # the worker is another process: it must see committed data
def test_a_real_worker_exports_the_copy_the_task_was_sent_for(tmp_path, incident):
    export_dir = tmp_path / "worker-export"
    index = export_dir / "current" / "index.html"
    env = child_env(STATUS_EXPORT_DIR=str(export_dir))
    with own_queue() as queue, running(worker_command(queue), env=env) as worker:
        tasks.export_status_page_task.apply_async(queue=queue)
        wait_for(index.is_file, timeout=60, what="the exported status page", process=worker)
    assert (export_dir / "current").is_symlink()
    assert "We are investigating." in index.read_text()
    assert (export_dir / "current" / "incidents" / incident.code / "index.html").is_file()


def served(current: Path, url: str) -> Path | None:
    """Return the file nginx's `try_files $uri $uri/index.html $uri.json` picks for a URL path, if any."""
    path, _, query = url.partition("?")
    if path == "/history/" and query.startswith("month="):
        path = f"/history/{query.removeprefix('month=')}/"
    for candidate in (path, f"{path}/index.html", f"{path}.json"):
        file = current / candidate.lstrip("/")
        if file.is_file():
            return file
    return None


def test_an_export_writes_every_page_document_feed_and_stylesheet(export_dir, incident, commander):
    internal = services.declare_incident(title="Disk filling", by=commander, visibility=Incident.Visibility.INTERNAL)
    release = export.export_status_page()
    current = export_dir / "current"
    assert current.is_symlink()
    assert current.resolve() == release.resolve()
    expected = ["index.html", "status/index.html", "history/index.html", "404.html", "history.atom", "history.rss",
                f"incidents/{incident.code}/index.html", "static/status/status.css",
                *(f"api/v2/{name}" for name in api_v2.DOCUMENTS)]  # fmt: skip
    assert [name for name in expected if not (current / name).is_file()] == []
    assert not (current / "incidents" / internal.code).exists()
    assert "We are investigating." in (current / "index.html").read_text()


def test_the_exported_json_is_what_the_app_serves(export_dir, incident, client, settings):
    settings.STATUS_PAGE_URL = "http://testserver"
    export.export_status_page()
    for name in api_v2.DOCUMENTS:
        exported = json.loads((export_dir / "current" / "api" / "v2" / name).read_text())
        served = client.get(f"/api/v2/{name}").json()
        # While something is down the page version follows the clock in 5-minute steps; one may pass between.
        exported["page"].pop("updated_at"), served["page"].pop("updated_at")
        assert exported == served, name


def test_the_exported_feeds_and_json_link_the_configured_public_url(export_dir, incident, settings):
    settings.STATUS_PAGE_URL = "https://status.example.com"
    current = export.export_status_page()
    summary = json.loads((current / "api" / "v2" / "summary.json").read_text())
    assert summary["page"]["url"] == "https://status.example.com"
    assert summary["incidents"][0]["shortlink"] == f"https://status.example.com/incidents/{incident.code}/"
    for feed in ("history.atom", "history.rss"):
        [entry] = feedparser.parse((current / feed).read_bytes()).entries
        assert entry.link.startswith(f"https://status.example.com/incidents/{incident.code}/#update-")


def test_every_link_in_the_exported_pages_reaches_an_exported_file(export_dir, incident):
    current = export.export_status_page()
    pages = [current / "index.html", current / "history" / "index.html", current / "incidents" / incident.code]
    links = {
        link for page in pages for link in LINK.findall(served(current, f"/{page.relative_to(current)}").read_text())
    }
    missing = [link for link in links if not link.startswith(APP_ONLY) and served(current, link) is None]
    assert links
    assert missing == []


def test_the_previous_release_is_kept_until_the_next_swap(export_dir, incident):
    first = export.export_status_page()
    second = export.export_status_page()
    third = export.export_status_page()
    assert sorted(p.name for p in (export_dir / "releases").iterdir()) == sorted([second.name, third.name])
    assert not first.exists()


def test_the_old_copy_stays_whole_and_current_until_the_new_one_is_complete(export_dir, incident, commander):
    old = export.export_status_page()
    services.post_update(incident=incident, body="NEW-TEXT fix deployed", by=commander)
    seen_while_writing: list[str] = []
    real_write = export.write_files

    def write_then_look(target: Path) -> None:
        real_write(target)  # the new copy is complete in its staging directory, not yet renamed
        current = export_dir / "current"
        seen_while_writing.append(str(current.resolve() == old.resolve()))
        seen_while_writing.append((current / "api" / "v2" / "summary.json").read_text())

    with mock.patch.object(export, "write_files", write_then_look):
        new = export.export_status_page()
    still_old, summary = seen_while_writing
    assert still_old == "True"
    assert "NEW-TEXT" not in summary
    assert json.loads(summary)["incidents"]
    assert "NEW-TEXT" in (export_dir / "current" / "api" / "v2" / "summary.json").read_text()
    assert (export_dir / "current").resolve() == new.resolve()


def test_readers_never_see_a_missing_or_partial_file_during_exports(export_dir, incident):
    export.export_status_page()
    current, problems, done = export_dir / "current", [], threading.Event()

    def read_continuously() -> None:
        while not done.is_set():
            try:
                json.loads((current / "api" / "v2" / "summary.json").read_bytes())
                assert (current / "index.html").read_text().rstrip().endswith("</html>")
            except Exception as error:  # any miss or torn read is the failure we look for
                problems.append(repr(error))

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for _ in range(5):
            export.export_status_page()
    finally:
        done.set()
        reader.join()
    assert problems == []


def test_a_failed_render_leaves_the_previous_copy_in_place(export_dir, incident):
    before = export.export_status_page()
    with (
        mock.patch.object(views, "render_incident", side_effect=RuntimeError("template bug")),
        pytest.raises(RuntimeError),
    ):
        export.export_status_page()
    assert (export_dir / "current").resolve() == before.resolve()
    assert (before / "index.html").is_file()
    assert [p.name for p in (export_dir / "releases").iterdir()] == [before.name]  # no staging left behind


def test_a_public_change_queues_an_export_for_a_worker(export_dir, commander, trading,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    with (
        mock.patch.object(tasks.export_status_page_task, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.set_component_status(component=trading, status=ComponentStatus.PARTIAL_OUTAGE, by=commander)
    assert queued.call_count == 1
    assert not (export_dir / "current").exists()  # the worker exports, not the request


def test_with_the_broker_unreachable_the_listener_exports_inline(export_dir, commander, trading, monkeypatch,
                                                                django_capture_on_commit_callbacks):  # fmt: skip
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    monkeypatch.setattr(tasks, "broker_connection", lambda: Connection(nowhere, transport_options=tasks.FAIL_FAST))
    with django_capture_on_commit_callbacks(execute=True):
        services.set_component_status(component=trading, status=ComponentStatus.MAJOR_OUTAGE, by=commander)
    summary = json.loads((export_dir / "current" / "api" / "v2" / "summary.json").read_text())
    assert summary["components"][0]["status"] == "major_outage"


def test_the_listener_is_registered_by_the_app(export_dir):
    assert tasks.export_on_change in publishing._listeners


def test_the_management_command_exports(tmp_path, incident, capsys):
    call_command("export_status_page", directory=tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere" / "current" / "api" / "v2" / "summary.json").is_file()
    assert "Status page exported" in capsys.readouterr().out


# --- the copy served by a real nginx, with no Django server running -------------------------------


def nginx_config(prefix: Path, export_dir: Path, port: int) -> Path:
    """Write a top-level nginx.conf around the shipped server block, pointed at the test's export and port."""
    site = SHIPPED_CONFIG.read_text()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};", 1)
    site = site.replace("root /var/lib/exchange-console/status-export/current;", f"root {export_dir}/current;", 1)
    (prefix / "status-page.conf").write_text(site)
    temp = prefix / "temp"
    temp.mkdir()
    config = prefix / "nginx.conf"
    config.write_text(f"""
daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
    include {prefix}/status-page.conf;
}}
""")
    return config


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    try:
        request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (our own loopback nginx)
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def answers(url: str) -> bool:
    try:
        fetch(url)
    except OSError:
        return False
    return True


@pytest.fixture
def nginx(tmp_path: Path, export_dir: Path) -> Iterator[str]:
    """Serve the export directory with the shipped nginx configuration; yield its base URL."""
    if not NGINX.exists():
        pytest.skip("Debian's nginx is not installed (/usr/sbin/nginx); `apt-get install nginx`, as .ci/run does")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port = free_port()
    config = nginx_config(prefix, export_dir, port)
    base_url = f"http://127.0.0.1:{port}"
    with running([str(NGINX), "-p", str(prefix), "-c", str(config)], env=dict(os.environ)) as process:
        wait_for(lambda: answers(base_url), timeout=30, what="nginx", process=process)
        yield base_url
    shutil.rmtree(prefix / "temp", ignore_errors=True)


def test_nginx_serves_the_current_copy_with_the_app_stopped(nginx, incident, commander, celery_runs_here,
                                                            django_capture_on_commit_callbacks):  # fmt: skip
    # given an incident customers know about (no Django server runs in this test: only nginx and files)
    # when an update is published, and the listener re-exports the copy
    with django_capture_on_commit_callbacks(execute=True):
        services.post_update(incident=incident, body="NEW-UPDATE fix deployed, monitoring.", by=commander,
                             status=Incident.Status.MONITORING)  # fmt: skip
    # then nginx serves the new update on every public output
    for path in ("/", f"/incidents/{incident.code}/", "/api/v2/summary.json", "/history.atom"):
        status, _, body = fetch(nginx + path)
        assert status == 200, path
        assert b"NEW-UPDATE" in body, path
    _, headers, body = fetch(nginx + "/api/v2/summary.json")
    assert json.loads(body)["incidents"][0]["incident_updates"][0]["status"] == "monitoring"
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert not feedparser.parse(fetch(nginx + "/history.atom")[2]).bozo


def test_nginx_serves_every_link_of_the_copy_and_answers_304(nginx, incident):
    export.export_status_page()
    links = set(LINK.findall(fetch(nginx + "/")[2].decode()))
    links |= set(LINK.findall(fetch(f"{nginx}/incidents/{incident.code}/")[2].decode()))
    broken = [link for link in sorted(links) if not link.startswith(APP_ONLY) and fetch(nginx + link)[0] != 200]
    assert links
    assert broken == []
    status, headers, _ = fetch(nginx + "/api/v2/status")  # extensionless, as try_files allows
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    _, headers, _ = fetch(nginx + "/api/v2/summary.json")
    assert fetch(nginx + "/api/v2/summary.json", {"If-None-Match": headers["ETag"]})[0] == 304
    assert fetch(nginx + "/api/v2/summary.json", {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert fetch(nginx + "/history/?month=../../etc")[0] == 404
    assert fetch(nginx + "/releases/")[0] == 404
