"""The server-side request forgery guard: which destinations an article import may connect to.

Imports fetch URLs that users typed, so by default they may only reach public internet addresses.
The guard resolves the host itself, checks every resolved address, and hands back the checked
address so the caller connects to exactly that one (a DNS answer that changes between check and
connect, "DNS rebinding", cannot swap it). Rules:

* ``localhost`` and ``*.localhost`` are refused by name, before any lookup (RFC 6761).
* Numeric spellings that C's ``inet_aton`` accepts (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
  ``127.1``) are read as the IPv4 address they denote, never sent to DNS.
* An address is refused unless it is globally routable: loopback, private, link-local (which holds
  the cloud metadata service 169.254.169.254), shared (100.64/10), multicast, reserved and
  unspecified addresses all fail. IPv6 addresses that wrap an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``,
  6to4 ``2002::/16``, Teredo, NAT64 ``64:ff9b::/96``) are judged by the wrapped address too.
* An allowlist (``BAKEOFF_IMPORT_ALLOW_HOSTS``: host names, ``host:port``, IPs, ``ip:port`` and
  CIDRs) opts chosen destinations back in; the local article server is reached that way.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from bakeoff.contract import InvalidRequest
from bakeoff.workload.errors import BlockedAddress, DnsError, InvalidUrl

__all__ = [
    "AllowRule",
    "IPAddress",
    "Resolver",
    "StaticResolver",
    "blocked_reason",
    "check_destination",
    "parse_allow_hosts",
    "parse_numeric_ipv4",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]
"""Resolves ``(host, port)`` to addresses; raises :class:`DnsError` when it cannot."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Resolve with the operating system (``getaddrinfo``), distinct addresses in answer order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise DnsError(f"cannot resolve {host!r}: {exc}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DnsError(f"{host!r} has no addresses")
    return addresses


@dataclass(frozen=True, kw_only=True)
class StaticResolver:
    """A resolver with a fixed table (tests, air-gapped runs); unknown names are a :class:`DnsError`.

    Each call also records the name, so a test can prove a name was (or was not) looked up.
    """

    table: Mapping[str, Sequence[str]]
    lookups: list[str] = field(default_factory=list, compare=False)

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host not in self.table:
            raise DnsError(f"cannot resolve {host!r}: name not known")
        return [ipaddress.ip_address(value) for value in self.table[host]]


def parse_numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address an ``inet_aton``-style spelling denotes, or None if ``host`` is not numeric.

    ``inet_aton`` accepts 1 to 4 parts in decimal, octal (leading 0) or hex (0x); the last part fills
    the remaining bytes. Browsers and curl read such hosts the same way, which is why an attacker
    uses them to slip past a filter that only knows dotted quads.
    """
    if not _NUMERIC_HOST.match(host):
        return None
    parts = host.rstrip(".").split(".")
    values = [_parse_number_part(part, host) for part in parts]
    widths = [1] * (len(values) - 1) + [4 - (len(values) - 1)]
    total = 0
    for value, width in zip(values, widths, strict=True):
        if value >= 256**width:
            raise InvalidUrl(f"numeric host {host!r} has a part out of range", url=host)
        total = total * 256**width + value
    return ipaddress.IPv4Address(total)


def _parse_number_part(part: str, host: str) -> int:
    try:
        if part.lower().startswith("0x"):
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part, 8)
        return int(part, 10)
    except ValueError as exc:
        raise InvalidUrl(f"numeric host {host!r} is not a valid address", url=host) from exc


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address wraps (mapped, 6to4, Teredo, NAT64)."""
    embedded: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        embedded.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    if address in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return embedded


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched by default, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(address):
            reason = blocked_reason(inner)
            if reason is not None:
                return f"wraps {inner} ({reason})"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("shared address space", isinstance(address, ipaddress.IPv4Address) and address in _SHARED),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


@dataclass(frozen=True, kw_only=True)
class AllowRule:
    """One allowlist entry: a host name or a network, optionally limited to one port."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def allows(self, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        return self.network is not None and address in self.network


def parse_allow_hosts(entries: Iterable[str]) -> tuple[AllowRule, ...]:
    """Parse allowlist entries: ``host``, ``host:port``, ``ip``, ``ip:port``, ``[v6]:port``, ``cidr``."""
    return tuple(_parse_allow_entry(entry.strip()) for entry in entries if entry.strip())


def _parse_allow_entry(entry: str) -> AllowRule:
    host, port = _split_host_port(entry)
    try:
        network = ipaddress.ip_network(host, strict=False)
    except ValueError:
        if not host or "/" in host:
            raise InvalidRequest(f"allow_hosts entry {entry!r} is not a host, IP or CIDR") from None
        try:
            numeric = parse_numeric_ipv4(host)
            if numeric is not None:
                return AllowRule(network=ipaddress.ip_network(numeric), port=port)
            return AllowRule(host=normalise_host(host), port=port)
        except InvalidUrl as exc:
            raise InvalidRequest(f"allow_hosts entry {entry!r} is invalid: {exc}") from exc
    return AllowRule(network=network, port=port)


def _split_host_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, _parse_port(rest[1:], entry) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        return host, _parse_port(port_text, entry)
    return entry, None


def _parse_port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidRequest(f"allow_hosts entry {entry!r} has an invalid port")
    return int(text)


def normalise_host(host: str) -> str:
    """Lower-case, IDNA-encode and drop the trailing dot of a host name (``A.COM.`` -> ``a.com``)."""
    # Percent-decoding first, as browsers do: %6c%6f%63alhost is localhost.
    host = unquote(host).strip().rstrip(".").lower()
    if not host:
        raise InvalidUrl("the URL has an empty host")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidUrl(f"host {host!r} is not a valid domain name", url=host) from exc


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells directly (IPv6, dotted quad or another numeric form), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return parse_numeric_ipv4(host)


def check_destination(
    host: str, port: int, *, allow: Sequence[AllowRule] = (), resolver: Resolver | None = None
) -> IPAddress:
    """The checked address to connect to for ``host:port``, or raise :class:`BlockedAddress`.

    Every resolved address must pass (an attacker's name may return one public and one private
    address, hoping the client picks the private one); the first one is returned.
    """
    name = host if literal_address(host) is not None else normalise_host(host)
    if any(rule.host == name and rule.port in (None, port) for rule in allow):
        addresses = _resolve(name, port, resolver)
        return addresses[0]
    if name == "localhost" or name.endswith(".localhost"):
        raise BlockedAddress(f"host {host!r} is a loopback name", url=host)
    for address in (addresses := _resolve(name, port, resolver)):
        if any(rule.allows(name, address, port) for rule in allow):
            continue
        reason = blocked_reason(address)
        if reason is not None:
            raise BlockedAddress(f"host {host!r} resolves to {address}, which is {reason}", url=host)
    return addresses[0]


def _resolve(name: str, port: int, resolver: Resolver | None) -> list[IPAddress]:
    literal = literal_address(name)
    if literal is not None:
        return [literal]
    return (resolver or system_resolver)(name, port)
