"""The values an article import passes between its phases, and the settings that bound a fetch.

Each phase's output is JSON-safe (``to_dict``/``from_dict``), because the Inngest-style arm stores
it as a memoized step result and hands it to the next step, possibly in another process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Self
from uuid import UUID

from bakeoff.contract import InvalidRequest
from bakeoff.workload.ssrf import AllowRule, Resolver, parse_allow_hosts

__all__ = ["ExtractedArticle", "FetchedPage", "ImportSettings", "ImportedDocument"]

ALLOW_HOSTS_ENV = "BAKEOFF_IMPORT_ALLOW_HOSTS"


@dataclass(frozen=True, kw_only=True)
class ImportSettings:
    """Limits of one fetch: timeouts in seconds, the byte cap, redirects, and the SSRF allowlist."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    """Deadline for the whole fetch, redirects and body included (defeats drip-fed bodies)."""
    max_bytes: int = 5 * 1024 * 1024
    """Cap on the decoded body; a larger page is ``too_large`` (checked while streaming)."""
    max_redirects: int = 5
    allow_hosts: tuple[str, ...] = ()
    """Destinations opted in despite the SSRF rules: host, host:port, IP, ip:port or CIDR."""
    ca_file: str | None = None
    """A PEM bundle of extra certificate authorities to trust (internal sites, tests); None: system."""
    resolver: Resolver | None = field(default=None, compare=False, repr=False)
    """How host names are resolved; None means the operating system (tests pass a fixed table)."""

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if not getattr(self, name) > 0:
                raise InvalidRequest(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_bytes < 1:
            raise InvalidRequest(f"max_bytes must be at least 1, got {self.max_bytes!r}")
        if self.max_redirects < 0:
            raise InvalidRequest(f"max_redirects must not be negative, got {self.max_redirects!r}")
        if isinstance(self.allow_hosts, str):
            raise InvalidRequest("allow_hosts must be a sequence of entries, not one string")
        object.__setattr__(self, "allow_hosts", tuple(self.allow_hosts))
        parse_allow_hosts(self.allow_hosts)  # fail at construction, not at the first fetch

    @property
    def allow_rules(self) -> tuple[AllowRule, ...]:
        return parse_allow_hosts(self.allow_hosts)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ImportSettings:
        """Defaults, with ``BAKEOFF_IMPORT_ALLOW_HOSTS`` (a comma-separated list) as the allowlist."""
        env = os.environ if environ is None else environ
        raw = env.get(ALLOW_HOSTS_ENV, "")
        return cls(allow_hosts=tuple(part.strip() for part in raw.split(",") if part.strip()))

    def with_overrides(self, **overrides: Any) -> ImportSettings:
        return replace(self, **overrides)


class _JsonRecord:
    """``to_dict``/``from_dict`` for the flat, JSON-safe phase results."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        missing = names - data.keys()
        if missing:
            raise InvalidRequest(f"{cls.__name__} data lacks {', '.join(sorted(missing))}")
        return cls(**{name: data[name] for name in names})


@dataclass(frozen=True, kw_only=True)
class FetchedPage(_JsonRecord):
    """The fetch phase's result: a decoded HTML page and where it finally came from."""

    url: str
    final_url: str
    status: int
    content_type: str
    charset: str
    html: str
    fetched_bytes: int
    """Bytes received on the wire for the final response's body (before decompression)."""


@dataclass(frozen=True, kw_only=True)
class ExtractedArticle(_JsonRecord):
    """The extract phase's result: the article's main text and metadata."""

    url: str
    final_url: str
    title: str | None
    author: str | None
    published: str | None
    language: str | None
    text: str
    word_count: int
    fetched_bytes: int


@dataclass(frozen=True, kw_only=True)
class ImportedDocument:
    """The save phase's result: the row in ``bakeoff.documents``."""

    document_id: UUID
    url: str
    title: str | None
    word_count: int
    created: bool
    """False when an earlier delivery (a retry or a duplicate) had already saved this document."""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "document_id": str(self.document_id)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportedDocument:
        try:
            return cls(
                document_id=UUID(str(data["document_id"])),
                url=str(data["url"]),
                title=data.get("title"),
                word_count=int(data["word_count"]),
                created=bool(data["created"]),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidRequest(f"ImportedDocument data is malformed: {exc}") from exc
