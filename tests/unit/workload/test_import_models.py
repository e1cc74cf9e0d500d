"""Phase results survive JSON, and import settings validate their fields and read the environment."""

from __future__ import annotations

import json
import uuid

import pytest

from bakeoff.contract import InvalidRequest
from bakeoff.workload import ExtractedArticle, FetchedPage, ImportedDocument, ImportSettings


def _page() -> FetchedPage:
    return FetchedPage(
        url="http://a.example/x",
        final_url="http://a.example/y",
        status=200,
        content_type="text/html",
        charset="utf-8",
        html="<p>hi</p>",
        fetched_bytes=9,
    )


def test_fetched_page_round_trips_through_json() -> None:
    page = _page()
    assert FetchedPage.from_dict(json.loads(json.dumps(page.to_dict()))) == page


def test_extracted_article_round_trips_through_json() -> None:
    article = ExtractedArticle(
        url="u",
        final_url="f",
        title=None,
        author="A",
        published="2024-01-02",
        language="de",
        text="Hallo Welt",
        word_count=2,
        fetched_bytes=10,
    )
    assert ExtractedArticle.from_dict(json.loads(json.dumps(article.to_dict()))) == article


def test_imported_document_round_trips_through_json() -> None:
    document = ImportedDocument(document_id=uuid.uuid4(), url="u", title="t", word_count=3, created=False)
    assert ImportedDocument.from_dict(json.loads(json.dumps(document.to_dict()))) == document


def test_from_dict_names_missing_fields() -> None:
    data = _page().to_dict()
    del data["html"]
    with pytest.raises(InvalidRequest, match="html"):
        FetchedPage.from_dict(data)


def test_settings_read_the_allowlist_from_the_environment() -> None:
    settings = ImportSettings.from_env({"BAKEOFF_IMPORT_ALLOW_HOSTS": " 127.0.0.1:8080, 10.0.0.0/8 ,,"})
    assert settings.allow_hosts == ("127.0.0.1:8080", "10.0.0.0/8")
    assert ImportSettings.from_env({}).allow_hosts == ()


def test_settings_defaults_match_the_contract() -> None:
    settings = ImportSettings()
    assert (settings.connect_timeout, settings.read_timeout, settings.total_timeout) == (5.0, 10.0, 30.0)
    assert (settings.max_bytes, settings.max_redirects) == (5 * 1024 * 1024, 5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("connect_timeout", 0),
        ("read_timeout", -1),
        ("total_timeout", 0),
        ("max_bytes", 0),
        ("max_redirects", -1),
    ],
)
def test_settings_reject_bad_limits_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(InvalidRequest, match=field):
        ImportSettings(**{field: value})


def test_settings_reject_a_malformed_allowlist_at_construction() -> None:
    with pytest.raises(InvalidRequest, match="allow_hosts"):
        ImportSettings(allow_hosts=("10.0.0.0/99",))
