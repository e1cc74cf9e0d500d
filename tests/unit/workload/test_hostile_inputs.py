"""Property tests: hostile hosts, headers and bytes never crash the import, only raise its own errors."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from bakeoff.workload.errors import ImportFailed
from bakeoff.workload.fetch import page_charset
from bakeoff.workload.ssrf import StaticResolver, check_destination, parse_numeric_ipv4

NUMERIC_HOSTS = st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(NUMERIC_HOSTS)
def test_numeric_hosts_are_read_exactly_as_inet_aton_reads_them(host: str) -> None:
    """Cross-check with the C library: where inet_aton accepts a spelling, we read the same address."""
    try:
        ours = parse_numeric_ipv4(host)
    except ImportFailed:
        ours = None
    try:
        theirs = socket.inet_aton(host) if not host.endswith(".") else None
    except OSError:
        theirs = None
    if theirs is not None:
        assert ours is not None and ours.packed == theirs
    elif ours is not None:
        # We accept a little more than C (as the WHATWG URL parser does): a trailing dot and a bare
        # "0x" part (read as 0). Reading more spellings as addresses only ever blocks more.
        assert host.endswith(".") or any(part.lower() == "0x" for part in host.split("."))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_any_host_string_is_resolved_or_refused_with_an_import_error(host: str) -> None:
    """No host string makes the guard raise anything but ImportFailed (no DNS: a fixed table)."""
    try:
        check_destination(host, 80, resolver=StaticResolver(table={}))
    except ImportFailed:
        return
    raise AssertionError(f"{host!r} passed a guard with an empty resolver table")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.binary(max_size=300))
def test_charset_detection_always_returns_a_usable_codec(header: str, body: bytes) -> None:
    charset = page_charset(header, body)
    assert isinstance(body.decode(charset, errors="replace"), str)
