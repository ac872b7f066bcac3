"""The wires messages leave by: SMTP for email, HTTP for webhooks; both say whether a failure is worth a retry."""

from __future__ import annotations

import contextlib
import smtplib
import threading
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from incidents.subscriptions import ssrf

USER_AGENT = "ExchangeStatus-Webhook/1.0"
MAX_DRAIN = 64 * 1024  # a longer response body is not read: the connection is dropped instead


class TransportError(Exception):
    """A message could not be handed over; `permanent` ones are not retried."""

    def __init__(self, reason: str, *, permanent: bool, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:500]
        self.permanent = permanent
        self.status = status


class EmailTransport:
    """One SMTP connection for a batch of messages (`with EmailTransport() as transport:`)."""

    def __enter__(self) -> EmailTransport:
        self.connection = get_connection(fail_silently=False)
        try:
            self.connection.open()
        except (OSError, smtplib.SMTPException) as error:
            raise TransportError(f"SMTP connection failed: {error}", permanent=False) from error
        return self

    def __exit__(self, *exc: object) -> None:
        # The messages are already handed over (or failed): a failed QUIT changes nothing.
        with contextlib.suppress(OSError, smtplib.SMTPException):
            self.connection.close()

    def send(self, message: EmailMultiAlternatives) -> None:
        """Hand one message to the server, raising TransportError when it is refused."""
        message.connection = self.connection
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise TransportError(f"recipient refused: {error.recipients}", permanent=permanent) from error
        except smtplib.SMTPResponseException as error:
            reason = f"SMTP {error.smtp_code}: {error.smtp_error!r}"
            raise TransportError(reason, permanent=error.smtp_code >= 500) from error
        except (OSError, smtplib.SMTPException) as error:
            raise TransportError(f"SMTP failed: {error}", permanent=False) from error


def _retryable(status: int) -> bool:
    """Server trouble and "slow down" are worth another try; other refusals are the receiver's final word."""
    return status >= 500 or status in (408, 429)


class WebhookTransport:
    """POSTs to webhook URLs, connecting only to the addresses checked by `ssrf` (no second DNS look-up).

    Connection pools are kept per target for the life of the transport (a batch), so many
    messages to one receiver share keep-alive connections; it is safe to use from threads.
    """

    def __init__(self, *, timeout: float | None = None) -> None:
        seconds = timeout if timeout is not None else settings.WEBHOOK_TIMEOUT
        self.timeout = urllib3.Timeout(connect=min(seconds, 3), read=seconds)
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._addresses: dict[tuple[str, str, int], str] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> WebhookTransport:
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        for pool in self._pools.values():
            pool.close()

    def post(self, *, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST the body; return the 2xx status, or raise TransportError saying whether to retry."""
        try:
            address = self._address(url)
        except ssrf.UnsafeTarget as refused:
            raise TransportError(str(refused), permanent=True) from None
        parts = urlsplit(url)
        pool = self._pool(parts.scheme, address, parts.port or ssrf.DEFAULT_PORTS[parts.scheme], parts.hostname)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                       "Host": parts.netloc.rpartition("@")[2], **headers}  # fmt: skip
        status = self._send(pool, path, body, all_headers)
        if 200 <= status < 300:
            return status
        raise TransportError(f"HTTP {status}", permanent=not _retryable(status), status=status)

    def _send(self, pool: urllib3.HTTPConnectionPool, path: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            response = pool.urlopen("POST", path, body=body, headers=headers, retries=False, redirect=False,
                                    timeout=self.timeout, preload_content=False, assert_same_host=False)  # fmt: skip
        except urllib3.exceptions.HTTPError as error:  # timeouts, refused connections, TLS failures
            raise TransportError(f"{type(error).__name__}: {error}", permanent=False) from None
        _finish(response)
        return response.status

    def _address(self, url: str) -> str:
        """Return the checked address to connect to; a host is resolved once per batch, not per message."""
        key = ssrf.target(url)
        with self._lock:
            found = self._addresses.get(key)
        if found is None:
            found = ssrf.checked_addresses(url)[0]
            with self._lock:
                self._addresses[key] = found
        return found

    def _pool(self, scheme: str, address: str, port: int, host: Any) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            if key not in self._pools:
                self._pools[key] = _new_pool(scheme, address, port, host)
            return self._pools[key]


def _new_pool(scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
    """Return a pool that connects to `address` while TLS checks the certificate against `host`."""
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(address, port, maxsize=8, block=True, server_hostname=host,
                                           assert_hostname=host, cert_reqs="CERT_REQUIRED")  # fmt: skip
    return urllib3.HTTPConnectionPool(address, port, maxsize=8, block=True)


def _finish(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back for reuse when the body is short; drop it otherwise."""
    remaining = response.length_remaining
    if remaining is not None and remaining <= MAX_DRAIN:
        response.drain_conn()
        response.release_conn()
    else:
        response.close()
