"""Refuse webhook targets inside our own network: checked at registration and again at every send."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

# Any of these makes an address unsafe to call from inside the exchange's network.
UNSAFE_PROPERTIES = ("is_private", "is_loopback", "is_link_local", "is_multicast", "is_reserved", "is_unspecified")
DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeTarget(ValueError):
    """The URL cannot or must not be called (bad scheme, unknown host, private address)."""


def is_safe_address(address: str) -> bool:
    """Return True when `address` is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback in disguise
    if any(getattr(ip, name) for name in UNSAFE_PROPERTIES):
        return False
    return ip.is_global  # also refuses shared (100.64/10) and documentation ranges


def target(url: str) -> tuple[str, str, int]:
    """Return the URL's scheme, host and port, or refuse a URL no webhook may have."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise UnsafeTarget("Use an http:// or https:// URL.")
    if not parts.hostname:
        raise UnsafeTarget("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeTarget("Put credentials in the secret, not in the URL.")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise UnsafeTarget("The URL's port is not a number between 1 and 65535.") from None
    return parts.scheme, parts.hostname, port


def resolve(host: str, port: int) -> list[str]:
    """Return every address `host` resolves to, or refuse a host that does not resolve."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeTarget(f"{host} does not resolve ({error}).") from None
    return list(dict.fromkeys(info[4][0] for info in found))


def checked_addresses(url: str) -> list[str]:
    """Resolve the URL's host and return its addresses, refusing unsafe ones unless an admin allows them."""
    _, host, port = target(url)
    addresses = resolve(host, port)
    if settings.SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS:
        return addresses
    # One unsafe address is enough to refuse: the client could connect to any of them.
    unsafe = [address for address in addresses if not is_safe_address(address)]
    if unsafe:
        raise UnsafeTarget(
            f"{host} resolves to {', '.join(unsafe)}: a private, loopback, link-local or reserved address. "
            "Webhooks must reach a public address (an admin can allow private ones in the settings)."
        )
    return addresses
