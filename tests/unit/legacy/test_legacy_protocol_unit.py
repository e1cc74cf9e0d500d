"""The legacy line protocol: what parses, what a strict or lenient parent concludes from a child's output."""

from __future__ import annotations

import pytest

from bakeoff.backends.legacy.errors import ProtocolError
from bakeoff.backends.legacy.stdout_protocol import (
    MAX_LINE_BYTES,
    ChildReport,
    MessageKind,
    decode_line,
    format_message,
    parse_line,
)

RESULT = format_message(MessageKind.RESULT, {"document_id": "5b0c8b8e-2c4b-4f7e-9d7e-1d2a3b4c5d6e"})
ERROR = format_message(MessageKind.ERROR, {"error_kind": "http_4xx", "message": "404", "retryable": False})


def test_format_and_parse_round_trip() -> None:
    message = parse_line(format_message(MessageKind.PROGRESS, {"message": "fetching ü"}) + "\n")
    assert (message.kind, message.body) == (MessageKind.PROGRESS, {"message": "fetching ü"})


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Processing job... done!", "not a protocol line"),
        ("LEGACY:NOPE {}", "unknown message kind"),
        ("LEGACY:RESULT {not json", "malformed JSON"),
        ("LEGACY:RESULT [1, 2]", "must be a JSON object"),
    ],
)
def test_malformed_lines_raise_a_protocol_error_naming_the_problem(line: str, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        parse_line(line)


def test_protocol_error_is_a_bakeoff_value_error() -> None:
    with pytest.raises(ValueError):
        parse_line("garbage")


def test_undecodable_bytes_become_replacement_characters() -> None:
    assert decode_line(b"caf\xff\n") == "caf\ufffd"


def test_result_wins_over_a_nonzero_exit_code() -> None:
    """crash_after_complete: exit 1 after RESULT is still a success."""
    report = ChildReport()
    report.feed_stdout(RESULT)
    verdict = report.verdict(1)
    assert verdict.ok and verdict.document_id == "5b0c8b8e-2c4b-4f7e-9d7e-1d2a3b4c5d6e"


def test_error_on_stderr_fails_with_its_kind_and_retryability() -> None:
    report = ChildReport()
    report.feed_stderr("Traceback (most recent call last):")
    report.feed_stderr(ERROR)
    verdict = report.verdict(1)
    assert (verdict.ok, verdict.error_kind, verdict.error, verdict.retryable) == (
        False,
        "http_4xx",
        "404",
        False,
    )


def test_strict_mode_fails_on_garbage_even_when_a_result_follows() -> None:
    report = ChildReport(mode="strict")
    report.feed_stdout("hello from a library")
    report.feed_stdout(RESULT)
    verdict = report.verdict(0)
    assert (verdict.ok, verdict.error_kind) == (False, "protocol_error")
    assert "hello from a library" in (verdict.error or "")


def test_lenient_mode_ignores_garbage_and_trusts_the_result() -> None:
    report = ChildReport(mode="lenient")
    report.feed_stdout("hello from a library")
    report.feed_stdout(RESULT)
    assert report.verdict(0).ok and report.ignored_lines == 1


def test_error_line_on_stdout_is_a_violation() -> None:
    report = ChildReport()
    report.feed_stdout(ERROR)
    assert report.verdict(1).error_kind == "protocol_error"


def test_an_overlong_line_is_a_violation() -> None:
    report = ChildReport()
    report.feed_stdout("LEGACY:PROGRESS " + "x" * MAX_LINE_BYTES)
    assert report.verdict(0).error_kind == "protocol_error"


def test_no_result_and_no_error_is_a_crash_quoting_stderr() -> None:
    report = ChildReport()
    report.feed_stderr("Segmentation fault")
    verdict = report.verdict(-11)
    assert verdict.error_kind == "worker_crashed"
    assert "code -11" in (verdict.error or "") and "Segmentation fault" in (verdict.error or "")


def test_timeout_beats_a_missing_result() -> None:
    report = ChildReport()
    report.feed_stdout(format_message(MessageKind.STARTED, {"job_id": "x"}))
    assert report.verdict(-9, timed_out=True).error_kind == "timeout"


def test_blank_lines_are_harmless_in_strict_mode() -> None:
    report = ChildReport()
    report.feed_stdout("")
    report.feed_stdout(RESULT)
    assert report.verdict(0).ok
