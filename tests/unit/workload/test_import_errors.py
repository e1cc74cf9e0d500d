"""The error kinds are a closed, documented set, each with its own class and retry verdict."""

from __future__ import annotations

import json
import pickle

import pytest

from bakeoff.contract import BakeoffError
from bakeoff.workload import ERROR_KINDS, RETRYABLE_KINDS, ImportFailed, import_failed
from bakeoff.workload.auditor import PluginFailed
from bakeoff.workload.errors import Http4xx, InvalidUrl


def test_error_kinds_are_the_documented_twelve() -> None:
    assert ERROR_KINDS == (
        "invalid_url",
        "blocked_address",
        "dns_error",
        "connect_timeout",
        "read_timeout",
        "http_4xx",
        "http_5xx",
        "too_large",
        "not_html",
        "too_many_redirects",
        "extraction_empty",
        "save_conflict",
    )


def test_only_transient_kinds_are_retryable() -> None:
    assert frozenset({"dns_error", "connect_timeout", "read_timeout", "http_5xx"}) == RETRYABLE_KINDS


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_each_kind_rebuilds_to_its_own_class_with_the_right_verdict(kind: str) -> None:
    error = import_failed(kind, "boom", url="http://example.com/")
    assert isinstance(error, ImportFailed) and isinstance(error, BakeoffError)
    assert type(error) is not ImportFailed
    assert error.error_kind == kind
    assert error.retryable is (kind in RETRYABLE_KINDS)
    assert error.url == "http://example.com/"


def test_unknown_kind_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="invalid_url"):
        import_failed("teapot", "nope")


def test_invalid_url_is_also_a_value_error() -> None:
    assert issubclass(InvalidUrl, ValueError)


def test_errors_survive_pickling_with_their_details() -> None:
    """Spawned workers and process pools send errors back pickled; url and status must survive."""
    error = Http4xx("gone", url="http://a.example/", status=410)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is Http4xx and str(clone) == "gone"
    assert (clone.url, clone.status, clone.error_kind) == ("http://a.example/", 410, "http_4xx")
    plugin_error = pickle.loads(pickle.dumps(PluginFailed("math", 3, 2)))
    assert (plugin_error.plugin, plugin_error.chunk_id, plugin_error.attempt) == ("math", 3, 2)


def test_errors_have_a_json_safe_form() -> None:
    error = import_failed("http_5xx", "boom", url="http://a.example/")
    assert json.loads(json.dumps(error.to_dict())) == {
        "error_kind": "http_5xx",
        "message": "boom",
        "retryable": True,
        "url": "http://a.example/",
    }
