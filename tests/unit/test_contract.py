"""The contract values validate on construction and name the field that is wrong."""

from __future__ import annotations

import pytest

from bakeoff.contract import ImportRequest, InvalidRequest, JobState


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "url must not be empty"),
        ("   ", "url must not be empty"),
        ("ftp://example.com/a", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://example.com/", "http or https"),
        ("example.com/article", "http or https"),
        ("http:///no-host", "no host"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com/" + "a" * 9000, "limit is 8192"),
    ],
)
def test_import_request_rejects_bad_urls_naming_the_field(url: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest, match="url") as info:
        ImportRequest(url=url)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_import_request_unit_key_defaults_to_url() -> None:
    request = ImportRequest(url="https://example.com/a")
    assert request.effective_unit_key == "https://example.com/a"
    assert ImportRequest(url="https://example.com/a", unit_key="user-1").effective_unit_key == "user-1"


@pytest.mark.parametrize("field", ["unit_key", "idempotency_key"])
def test_import_request_rejects_empty_keys(field: str) -> None:
    with pytest.raises(InvalidRequest, match=field):
        ImportRequest(url="https://example.com/a", **{field: ""})


def test_import_request_is_frozen_and_keyword_only() -> None:
    request = ImportRequest(url="https://example.com/a")
    with pytest.raises(AttributeError):
        request.url = "https://other.example/"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ImportRequest("https://example.com/a")  # type: ignore[misc]


def test_terminal_states() -> None:
    assert {s for s in JobState if s.is_terminal} == {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}
