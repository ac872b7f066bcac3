"""The static copy of the status page: every public page, JSON document, feed and calendar, as files nginx serves.

Layout of the export directory (settings.STATUS_EXPORT_DIR):

    current -> releases/<stamp>      the copy being served (a relative symlink)
    releases/<stamp>/                one complete copy per export: index.html, api/v2/*.json,
                                     incidents/<code>/, maintenance/<code>/, maintenance.ics, ...
    releases/.staging-*/             a copy being written (never served)

Why readers never see a partial copy: a release is written in full into a staging directory
beside the releases, renamed to its final name, and only then made current by creating a new
symlink and `os.replace`-ing it over `current`. rename(2) on the same filesystem is atomic:
every lookup of `current/...` resolves either the old release or the new one, never a mix,
never nothing. The previous release is kept until the next swap, so a reader that opened a
file of it just before the swap still reads that file to the end. Exports are serialised by
a lock file, so the last export to finish is made from the newest data.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest
from django.utils import timezone

from incidents.maintenance.models import MaintenanceWindow
from incidents.models import Incident
from incidents.statuspage import api_v2, feeds, ical, queries, views

logger = logging.getLogger("incidents.statuspage.export")

STATIC_PREFIX = "status/"  # the status page's own CSS and images under static/


class ExportRequest(HttpRequest):
    """A request for the static copy, which has no client: the configured public URL stands in for its host."""

    def __init__(self, base_url: str, path: str) -> None:
        super().__init__()
        parts = urlsplit(base_url)
        self.method, self.path, self.path_info = "GET", path, path
        self._host, self._scheme = parts.netloc, parts.scheme

    def get_host(self) -> str:
        return self._host

    def _get_scheme(self) -> str:
        return self._scheme


def export_status_page(directory: Path | str | None = None) -> Path:
    """Render the whole public status page into a new release, make it current atomically; return the release."""
    root = Path(directory or settings.STATUS_EXPORT_DIR)
    releases = root / "releases"
    releases.mkdir(parents=True, exist_ok=True)
    with _exclusive(root / ".export.lock"):
        _remove_leftover_staging(releases)
        release = _write_release(releases)
        previous = _make_current(root / "current", release)
        _prune(releases, keep={release.resolve(), previous})
    logger.info("status page exported to %s", release)
    return release


def _write_release(releases: Path) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=releases))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the web server's user must read the copy
        write_files(staging)
        release = releases / f"{timezone.now():%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"
        os.rename(staging, release)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return release


def _make_current(current: Path, release: Path) -> Path | None:
    """Point `current` at `release` with one rename; return the release it pointed at before."""
    previous = current.resolve() if current.is_symlink() else None
    link = current.with_name(f".current-{secrets.token_hex(4)}")
    os.symlink(os.path.relpath(release, current.parent), link)  # relative: the directory may be mounted elsewhere
    os.replace(link, current)
    return previous


def _prune(releases: Path, *, keep: set[Path | None]) -> None:
    for release in releases.iterdir():
        if release.is_dir() and release.resolve() not in keep and not release.name.startswith("."):
            shutil.rmtree(release, ignore_errors=True)


def _remove_leftover_staging(releases: Path) -> None:
    # Under the lock no other export is writing: any staging directory is from one that died.
    for staging in releases.glob(".staging-*"):
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_files(target: Path) -> None:
    """Write every file of the static copy under `target`."""
    files = dict(rendered_files(settings.STATUS_PAGE_URL))
    for relative, content in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    copy_static(target, [content for relative, content in files.items() if relative.endswith(".html")])


def rendered_files(base_url: str) -> Iterator[tuple[str, bytes]]:
    """Yield (path under the export, content) for the pages, the JSON documents, the feeds and the calendar."""
    yield from page_files()
    for name, document in api_v2.DOCUMENTS.items():
        yield f"api/v2/{name}", api_v2.encode(document(base_url))
    yield "history.atom", feeds.HistoryAtomFeed()(ExportRequest(base_url, "/history.atom")).content
    yield "history.rss", feeds.HistoryRssFeed()(ExportRequest(base_url, "/history.rss")).content
    yield "maintenance.ics", ical.calendar(base_url)


def page_files() -> Iterator[tuple[str, bytes]]:
    """Yield the HTML pages at the paths nginx maps their URLs to (/history/?month=2026-11 -> history/2026-11/)."""
    front = views.render_status_page().encode()
    yield "index.html", front
    yield "status/index.html", front
    yield "404.html", views.render_not_found().encode()
    yield "history/index.html", views.render_history(None).encode()
    for month in queries.history_months():
        yield f"history/{month:%Y-%m}/index.html", views.render_history(month).encode()
    for code in queries.public_incidents().values_list("code", flat=True):
        try:
            yield f"incidents/{code}/index.html", views.render_incident(code).encode()
        except Incident.DoesNotExist:  # made internal while we were exporting: it must not be copied
            continue
    # Every window is public (cancelled ones too): the home page, history, feeds and calendar link them.
    for code in MaintenanceWindow.objects.values_list("code", flat=True):
        try:
            yield f"maintenance/{code}/index.html", views.render_maintenance(code).encode()
        except MaintenanceWindow.DoesNotExist:  # deleted while we were exporting
            continue


def copy_static(target: Path, pages: list[bytes]) -> None:
    """Copy the status page's static files, and any other the pages link, to the URLs they are linked under."""
    prefix = urlsplit(settings.STATIC_URL).path  # "/static/"
    urls = {urlsplit(staticfiles_storage.url(name)).path for name in _status_static_names()}
    pattern = re.compile(rb'(?:href|src)="(' + re.escape(prefix.encode()) + rb'[^"?#]+)"')
    urls |= {match.decode() for page in pages for match in pattern.findall(page)}
    for url in sorted(urls):
        name = url.removeprefix(prefix)
        # Development serves the source folders; production collectstatic's (hashed) copies in STATIC_ROOT.
        source = finders.find(name) or staticfiles_storage.path(name)
        destination = target / url.lstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def _status_static_names() -> Iterator[str]:
    for finder in finders.get_finders():
        for name, _storage in finder.list([]):
            name = name.replace(os.sep, "/")
            if name.startswith(STATIC_PREFIX):
                yield name
