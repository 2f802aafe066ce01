"""Fetching an upload by URL (``POST /v1/scan`` with ``url=``), off unless the operator turns
it on. A server that fetches what a client names can be turned against the network it sits
in (SSRF), so:

- only ``http``/``https`` URLs without credentials, to a host on the operator's allow-list;
- the name is resolved once and *every* address it gives must be a public one: loopback,
  private, link-local (cloud metadata), shared, multicast, reserved and unspecified
  addresses refuse the URL (IPv4-mapped IPv6 checked as IPv4);
- the connection goes to the addresses that were checked (no second resolution an attacker's DNS
  could answer differently), with the host name in ``Host`` and in TLS (SNI, certificate);
- a redirect is followed (at most 3) only to the same host, checked again; any other is
  refused;
- the body is bounded in bytes and the whole fetch in seconds.

``url_allow_loopback_unsafe`` lets loopback addresses through, and nothing else: it exists
for tests on one machine and is unsafe anywhere else (docs/service.md).
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 3
_CHUNK = 256 * 1024


class UrlRefused(Exception):
    """The URL is not fetched (policy): the client's error, said plainly."""


class UrlFetchFailed(Exception):
    """The fetch was allowed but did not succeed (unreachable, timed out, HTTP error)."""


class UrlTooLarge(UrlFetchFailed):
    pass


@dataclass(frozen=True)
class FetchPolicy:
    allow_hosts: tuple[str, ...]  # exact names, or ".example.org" for its subdomains
    max_bytes: int
    timeout_s: float
    allow_loopback_unsafe: bool = False  # tests on one machine only


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent


def parse(url: str, policy: FetchPolicy) -> Target:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs are fetched")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("URLs with credentials are not fetched")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UrlRefused("the URL has no host")
    if not host_allowed(host, policy.allow_hosts):
        raise UrlRefused(f"host {host!r} is not on this service's allow-list")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("the URL's port is not valid") from None
    path = parts.path or "/"
    return Target(parts.scheme, host, port, f"{path}?{parts.query}" if parts.query else path)


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    for entry in allowed:
        entry = entry.strip().rstrip(".").lower()
        if entry.startswith(".") and host.endswith(entry) and host != entry[1:]:
            return True
        if host == entry:
            return True
    return False


def refusal(address: str, allow_loopback: bool) -> str | None:
    """Why ``address`` may not be reached, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else f"{ip} is a loopback address"
    for what, bad in (("link-local", ip.is_link_local), ("private", ip.is_private),
                      ("multicast", ip.is_multicast), ("reserved", ip.is_reserved),
                      ("unspecified", ip.is_unspecified)):
        if bad:
            return f"{ip} is a {what} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def resolve_checked(host: str, port: int, allow_loopback: bool) -> list[str]:
    """The addresses to connect to: every address the name resolves to must pass."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlFetchFailed(f"cannot resolve {host!r}: {exc.strerror or exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        why = refusal(address, allow_loopback)
        if why is not None:
            raise UrlRefused(f"{host!r} resolves to {why}: not fetched")
    if not addresses:
        raise UrlFetchFailed(f"{host!r} has no address")
    return addresses


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """The first checked address that answers (a name may give IPv6 and IPv4)."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    assert error is not None
    raise error


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection to a checked address, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port, self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.addresses = addresses

    def connect(self) -> None:
        raw = _connect(self.addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def fetch_to(url: str, policy: FetchPolicy, dest: Path) -> int:
    """Fetch ``url`` into ``dest`` (fsynced); returns its size. Raises UrlRefused, UrlTooLarge
    or UrlFetchFailed; ``dest`` is removed on any failure."""
    deadline = time.monotonic() + policy.timeout_s
    target = parse(url, policy)
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            location = _get(target, policy, dest, deadline)
            if location is None:
                return dest.stat().st_size
            absolute = urljoin(f"{target.scheme}://{target.host}:{target.port}{target.path}", location)
            host = (urlsplit(absolute).hostname or "").rstrip(".").lower()
            if host != target.host:
                raise UrlRefused(f"redirected to another host ({host or 'none'}): not followed")
            target = parse(absolute, policy)
        raise UrlFetchFailed(f"more than {MAX_REDIRECTS} redirects")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise UrlFetchFailed("the fetch took longer than this service's time limit")
    return left


def _get(target: Target, policy: FetchPolicy, dest: Path, deadline: float) -> str | None:
    """One request; the redirect's Location, or None once the body is in ``dest``."""
    addresses = resolve_checked(target.host, target.port, policy.allow_loopback_unsafe)
    kind = _PinnedTLS if target.scheme == "https" else _Pinned
    conn = kind(target.host, target.port, addresses, _remaining(deadline))
    try:
        conn.request("GET", target.path, headers={"User-Agent": "consentry", "Accept": "*/*"})
        response = conn.getresponse()
        if response.status in (301, 302, 303, 307, 308):
            location = response.getheader("Location")
            if not location:
                raise UrlFetchFailed(f"HTTP {response.status} without a Location")
            return location
        if response.status != 200:
            raise UrlFetchFailed(f"the URL answered HTTP {response.status}")
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > policy.max_bytes:
            raise UrlTooLarge(f"the URL's body is over the limit of {policy.max_bytes} bytes")
        size = 0
        with open(dest, "wb") as out:
            while True:
                if conn.sock is not None:
                    conn.sock.settimeout(_remaining(deadline))
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > policy.max_bytes:
                    raise UrlTooLarge(f"the URL's body is over the limit of {policy.max_bytes} bytes")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return None
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, TimeoutError | socket.timeout):
            raise UrlFetchFailed("the fetch took longer than this service's time limit") from None
        raise UrlFetchFailed(f"cannot fetch the URL: {exc}") from None
    finally:
        conn.close()
