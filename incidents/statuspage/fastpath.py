"""The public pages served by the app at static-file speed: the exported copy's bytes, from memory.

During an outage thousands of customers reload the status page at once. Anything that goes
through Django's request cycle stays under ~4% of what nginx serves from a file on this
machine (PERF_NOTES.md in the team's workshop), so the web process answers the public pages
before Django: an ASGI wrapper holding the current static copy (`incidents.statuspage.export`,
re-exported on every public change) in memory and answering GET and HEAD for its paths with
the same bytes nginx would send, with `ETag`/`Last-Modified` and 304s. Anything else — a query
string, a path the copy does not have, no copy at all — goes on to Django, which renders the
same pages from the database. The copy is checked for a newer release at most every
`CHECK_SECONDS`, so a change shows within that much of its export.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.http import http_date

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]

CHECK_SECONDS = 0.5
CACHE_CONTROL = b"public, max-age=10"
TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".json": b"application/json",
    ".atom": b"application/atom+xml; charset=utf-8",
    ".rss": b"application/rss+xml; charset=utf-8",
    ".ics": b"text/calendar; charset=utf-8",
}
SKIPPED = ("static/", "404.html")  # whitenoise serves static files; a miss is Django's to answer


@dataclass(frozen=True)
class Page:
    body: bytes
    etag: bytes
    headers: list[tuple[bytes, bytes]]


def load(root: Path) -> dict[str, Page]:
    """Read every page of an exported copy: URL path -> page."""
    pages = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and path.suffix in TYPES and not relative.startswith(SKIPPED):
            pages[_url_of(relative)] = _page(path, relative)
    return pages


def _url_of(relative: str) -> str:
    return "/" + relative.removesuffix("index.html")


def _page(path: Path, relative: str) -> Page:
    body = path.read_bytes()
    etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
    headers = [
        (b"content-type", TYPES[path.suffix]),
        (b"content-length", str(len(body)).encode()),
        (b"etag", etag),
        (b"last-modified", http_date(path.stat().st_mtime).encode()),
        (b"cache-control", CACHE_CONTROL),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    if relative.startswith("api/v2/"):
        headers.append((b"access-control-allow-origin", b"*"))  # widgets on other sites read it
    else:
        headers.append((b"x-frame-options", b"DENY"))
    return Page(body, etag, headers)


class StatusPageFastPath:
    """Answer the exported public pages from memory; pass everything else to `app`."""

    def __init__(self, app: ASGIApp, directory: Path | Callable[[], Path]) -> None:
        self.app = app
        self.directory = directory
        self.pages: dict[str, Page] = {}
        self.release: str | None = None
        self.checked = float("-inf")

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        page = self._page_for(scope) if scope["type"] == "http" else None
        if page is None:
            await self.app(scope, receive, send)
            return
        if _etag_matches(scope, page.etag):
            await send({"type": "http.response.start", "status": 304, "headers": _not_modified(page)})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": page.headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else page.body})

    def _page_for(self, scope: dict) -> Page | None:
        if scope["method"] not in ("GET", "HEAD") or scope.get("query_string"):
            return None
        self._refresh()
        return self.pages.get(scope["path"])

    def _refresh(self) -> None:
        """Load the current release when it changed (looked at no more than every CHECK_SECONDS)."""
        now = time.monotonic()
        if now - self.checked < CHECK_SECONDS:
            return
        self.checked = now
        current = self._root() / "current"
        try:
            release = os.readlink(current)
        except OSError:  # no copy exported yet: Django answers everything
            self.pages, self.release = {}, None
            return
        if release != self.release:
            try:
                self.pages, self.release = load(current.parent / release), release
            except OSError:  # replaced again while being read: keep what we have, look again next time
                self.checked = float("-inf")

    def _root(self) -> Path:
        return Path(self.directory() if callable(self.directory) else self.directory)


def _etag_matches(scope: dict, etag: bytes) -> bool:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return value.strip() == b"*" or etag in [tag.strip().removeprefix(b"W/") for tag in value.split(b",")]
    return False


def _not_modified(page: Page) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in page.headers if name not in (b"content-type", b"content-length")]


def wrap(app: ASGIApp, **options: Any) -> ASGIApp:
    """The project's HTTP app with the public pages answered first (STATUS_FAST_PATH=false turns it off)."""
    from django.conf import settings

    if not settings.STATUS_FAST_PATH:
        return app
    return StatusPageFastPath(app, lambda: settings.STATUS_EXPORT_DIR, **options)
