"""The SSRF guard: which hosts an import may reach, on any spelling, and how the allowlist opts in."""

from __future__ import annotations

import ipaddress

import pytest

from bakeoff.contract import InvalidRequest
from bakeoff.workload.errors import BlockedAddress, DnsError, InvalidUrl
from bakeoff.workload.ssrf import (
    StaticResolver,
    blocked_reason,
    check_destination,
    parse_allow_hosts,
    parse_numeric_ipv4,
)

RESOLVER_TABLE = {
    "internal.example": ["10.1.2.3"],
    "mixed.example": ["93.184.216.34", "192.168.0.10"],
    "metadata.google.internal": ["169.254.169.254"],
    "rebind.example": ["127.0.0.1"],
    "v6-loopback.example": ["::1"],
    "example.com": ["93.184.216.34"],
    "intranet.example": ["10.9.8.7"],
}

# (host as written in a URL, why it is refused) - every spelling must be blocked by default.
BLOCKED = [
    ("127.0.0.1", "loopback"),
    ("127.1", "short dotted loopback"),
    ("2130706433", "decimal loopback"),
    ("0x7f000001", "hex loopback"),
    ("0177.0.0.1", "octal loopback"),
    ("0x7f.0.0.1", "hex first octet"),
    ("127.0.0.1.", "trailing dot"),
    ("localhost", "loopback name"),
    ("localhost.", "loopback name with trailing dot"),
    ("LocalHost", "loopback name in mixed case"),
    ("api.localhost", "subdomain of localhost"),
    ("%6c%6f%63alhost", "percent-encoded localhost"),
    ("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "localhost in circled letters (IDNA maps it)"),
    ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "fullwidth digits (IDNA maps them)"),
    ("127\u30020\u30020\u30021", "ideographic full stops"),
    ("::1", "IPv6 loopback"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:7f00:1", "IPv4-mapped loopback in hex"),
    ("0.0.0.0", "unspecified"),
    ("0", "unspecified as one number"),
    ("::", "IPv6 unspecified"),
    ("10.0.0.1", "private 10/8"),
    ("172.16.5.4", "private 172.16/12"),
    ("192.168.1.1", "private 192.168/16"),
    ("169.254.169.254", "cloud metadata, link-local"),
    ("100.64.0.1", "carrier-grade NAT shared space"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("192.0.2.1", "documentation range"),
    ("198.18.0.1", "benchmarking range"),
    ("fe80::1", "IPv6 link-local"),
    ("fc00::1", "IPv6 unique local"),
    ("ff02::1", "IPv6 multicast"),
    ("2002:7f00:1::", "6to4 wrapping loopback"),
    ("2002:a00:1::", "6to4 wrapping 10.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64 wrapping the metadata address"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("internal.example", "name resolving to a private address"),
    ("mixed.example", "name with one public and one private address"),
    ("metadata.google.internal", "name resolving to the metadata service"),
    ("v6-loopback.example", "name resolving to IPv6 loopback"),
]

ALLOWED = [
    ("93.184.216.34", "93.184.216.34"),
    ("8.8.8.8", "8.8.8.8"),
    ("16843009", "1.1.1.1"),
    ("2606:2800:220:1:248:1893:25c8:1946", "2606:2800:220:1:248:1893:25c8:1946"),
    ("2002:5db8:d822::", "2002:5db8:d822::"),
    ("example.com", "93.184.216.34"),
    ("EXAMPLE.com.", "93.184.216.34"),
]


@pytest.mark.parametrize(("host", "why"), BLOCKED, ids=[why for _, why in BLOCKED])
def test_blocked_destinations_are_refused_by_default(host: str, why: str) -> None:
    """Each row is an address or spelling an attacker would use to reach an internal service."""
    with pytest.raises(BlockedAddress):
        check_destination(host, 80, resolver=StaticResolver(table=RESOLVER_TABLE))


def test_blocked_table_is_large_enough() -> None:
    """The issue asks for at least 25 addresses and spellings."""
    assert len(BLOCKED) >= 25


@pytest.mark.parametrize(("host", "expected"), ALLOWED)
def test_public_destinations_pass_and_return_the_checked_address(host: str, expected: str) -> None:
    address = check_destination(host, 443, resolver=StaticResolver(table=RESOLVER_TABLE))
    assert address == ipaddress.ip_address(expected)


def test_localhost_is_refused_without_a_dns_lookup() -> None:
    resolver = StaticResolver(table=RESOLVER_TABLE)
    with pytest.raises(BlockedAddress):
        check_destination("localhost.", 80, resolver=resolver)
    assert resolver.lookups == []


def test_numeric_spellings_are_never_sent_to_dns() -> None:
    resolver = StaticResolver(table=RESOLVER_TABLE)
    for host in ("2130706433", "0x7f000001", "0177.0.0.1", "127.1"):
        with pytest.raises(BlockedAddress):
            check_destination(host, 80, resolver=resolver)
    assert resolver.lookups == []


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0", "0.0.0.0"),
        ("1.2.3.4", "1.2.3.4"),
    ],
)
def test_inet_aton_spellings_parse_to_the_address_they_denote(spelling: str, address: str) -> None:
    assert parse_numeric_ipv4(spelling) == ipaddress.IPv4Address(address)


def test_host_names_are_not_numeric() -> None:
    assert parse_numeric_ipv4("example.com") is None
    assert parse_numeric_ipv4("1.2.3.example") is None


def test_out_of_range_numeric_host_is_an_invalid_url() -> None:
    with pytest.raises(InvalidUrl):
        parse_numeric_ipv4("1.2.3.256")


def test_unresolvable_name_is_a_dns_error() -> None:
    with pytest.raises(DnsError) as caught:
        check_destination("nowhere.example", 80, resolver=StaticResolver(table=RESOLVER_TABLE))
    assert caught.value.retryable


def test_blocked_reason_names_the_wrapped_address() -> None:
    reason = blocked_reason(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert reason is not None and "169.254.169.254" in reason


def test_allowlisted_ip_and_port_opens_only_that_port() -> None:
    allow = parse_allow_hosts(["127.0.0.1:8080"])
    assert check_destination("127.0.0.1", 8080, allow=allow) == ipaddress.ip_address("127.0.0.1")
    with pytest.raises(BlockedAddress):
        check_destination("127.0.0.1", 8081, allow=allow)


def test_allowlisted_address_does_not_open_the_localhost_name() -> None:
    """Loopback names stay refused unless the name itself is on the allowlist."""
    with pytest.raises(BlockedAddress):
        check_destination("localhost", 8080, allow=parse_allow_hosts(["127.0.0.1:8080"]))


def test_allowlisted_cidr_opens_a_private_range_on_any_port() -> None:
    allow = parse_allow_hosts(["10.0.0.0/8"])
    resolver = StaticResolver(table=RESOLVER_TABLE)
    assert check_destination("internal.example", 9000, allow=allow, resolver=resolver) == (
        ipaddress.ip_address("10.1.2.3")
    )
    with pytest.raises(BlockedAddress):
        check_destination("192.168.1.1", 9000, allow=allow)


def test_allowlisted_host_name_opens_what_it_resolves_to() -> None:
    allow = parse_allow_hosts(["Intranet.Example"])
    resolver = StaticResolver(table=RESOLVER_TABLE)
    assert check_destination("intranet.example", 80, allow=allow, resolver=resolver) == (
        ipaddress.ip_address("10.9.8.7")
    )


def test_allowlisted_ipv6_entry_with_port_parses() -> None:
    allow = parse_allow_hosts(["[::1]:9000"])
    assert check_destination("::1", 9000, allow=allow) == ipaddress.ip_address("::1")


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "host:99999", "host:abc", "a/b"])
def test_malformed_allowlist_entries_are_rejected_naming_the_entry(entry: str) -> None:
    with pytest.raises(InvalidRequest, match="allow_hosts"):
        parse_allow_hosts([entry])
