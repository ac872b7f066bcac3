"""Signed things: confirmation links (expiring) and webhook signatures (HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.core import signing

CONFIRMATION_SALT = "subscriptions.confirm"
CONFIRMATION_MAX_AGE = 48 * 3600  # seconds: a confirmation link works for two days
SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"


class InvalidLink(Exception):
    """A confirmation link that is garbled, forged or too old; `expired` tells which."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def confirmation_token(*, subscriber_id: int, component_ids: list[int]) -> str:
    """Return a signed, timestamped token saying who confirms which components."""
    return signing.TimestampSigner(salt=CONFIRMATION_SALT).sign_object({"s": subscriber_id, "c": component_ids})


def read_confirmation(token: str, *, max_age: int = CONFIRMATION_MAX_AGE) -> tuple[int, list[int]]:
    """Return (subscriber id, component ids) from a token, or raise InvalidLink."""
    try:
        data: Any = signing.TimestampSigner(salt=CONFIRMATION_SALT).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidLink(expired=True) from None
    except (signing.BadSignature, ValueError, UnicodeError):
        raise InvalidLink(expired=False) from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("c"), list):
        raise InvalidLink(expired=False)
    return data["s"], [number for number in data["c"] if isinstance(number, int)]


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of `timestamp + "." + body` keyed with the subscriber's secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def webhook_headers(*, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the headers a receiver checks: the timestamp and `sha256=<hex signature>`."""
    signature = webhook_signature(secret=secret, timestamp=timestamp, body=body)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: f"sha256={signature}"}


def verify_webhook(*, secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Return True when `header` signs this timestamp and body (what a receiver does)."""
    expected = f"sha256={webhook_signature(secret=secret, timestamp=int(timestamp), body=body)}"
    return hmac.compare_digest(expected, header)
