"""The client's address, trusting X-Forwarded-For only from the proxies we run.

Without a configured proxy the address is REMOTE_ADDR, whatever the headers say: a client that
rotates X-Forwarded-For must not become a new client to the throttles and to django-axes.
Behind proxies listed in FAIRLABEL_TRUSTED_PROXIES (addresses or CIDRs), X-Forwarded-For is
read from the right: each trusted hop is skipped, and the first address that is not one of
ours is the client (anything left of it was written by the client and proves nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"FAIRLABEL_TRUSTED_PROXIES: {exc}") from exc


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:443"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str:
    """The address of the client that sent `request` (a Django HttpRequest)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    networks = _networks(tuple(getattr(settings, "FAIRLABEL_TRUSTED_PROXIES", ())))
    client = _address(remote)
    if client is None:
        return remote
    if not networks or not _trusted(client, networks):
        return str(client)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _address(hop)
        if address is None:
            break  # garbage in the chain: stop at the last hop we could read
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
