"""Why an article import failed: one exception per stable ``error_kind``, and which kinds are retryable.

The kinds are what the metrics record in ``trial_jobs.error_kind`` and what the report groups by, so
they are a contract: add kinds, never rename them. Hierarchy::

    BakeoffError
    └── ImportFailed                      error_kind, retryable
        ├── InvalidUrl                    invalid_url          (also a ValueError: bad input)
        ├── BlockedAddress                blocked_address      (SSRF guard refused the destination)
        ├── DnsError                      dns_error            retryable
        ├── ConnectTimeout                connect_timeout      retryable (no connection: timeout or refused)
        ├── ReadTimeout                   read_timeout         retryable (stalled, reset or past the deadline)
        ├── Http4xx                       http_4xx
        ├── Http5xx                       http_5xx             retryable
        ├── TooLarge                      too_large
        ├── NotHtml                       not_html
        ├── TooManyRedirects              too_many_redirects
        ├── ExtractionEmpty               extraction_empty
        └── SaveConflict                  save_conflict

Retryable means "the same request may well succeed later": the network or the origin had a
transient problem (DNS hiccup, overloaded server, slow response). Everything else is a property of
the URL or the page itself, so retrying would only repeat the failure and waste a worker.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bakeoff.contract import BakeoffError

__all__ = [
    "ERROR_KINDS",
    "RETRYABLE_KINDS",
    "BlockedAddress",
    "ConnectTimeout",
    "DnsError",
    "ExtractionEmpty",
    "Http4xx",
    "Http5xx",
    "ImportFailed",
    "InvalidUrl",
    "NotHtml",
    "ReadTimeout",
    "SaveConflict",
    "TooLarge",
    "TooManyRedirects",
    "import_failed",
]

ERROR_KINDS: tuple[str, ...] = (
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

RETRYABLE_KINDS: frozenset[str] = frozenset({"dns_error", "connect_timeout", "read_timeout", "http_5xx"})


class ImportFailed(BakeoffError):
    """An article import failed; ``error_kind`` says why in one stable word."""

    error_kind: ClassVar[str] = "import_failed"

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url

    @property
    def retryable(self) -> bool:
        """Whether a later attempt of the same import may succeed."""
        return self.error_kind in RETRYABLE_KINDS

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep url/status across pickling (process pools, spawned workers); the default reduce
        # would rebuild from the message alone.
        return (self.__class__, (str(self),), dict(self.__dict__))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: what a step engine or a child process reports."""
        return {
            "error_kind": self.error_kind,
            "message": str(self),
            "retryable": self.retryable,
            "url": self.url,
        }


class InvalidUrl(ImportFailed, ValueError):
    """The URL is malformed, not http(s), or has no usable host."""

    error_kind = "invalid_url"


class BlockedAddress(ImportFailed):
    """The destination resolves to an address the SSRF guard refuses (loopback, private, ...)."""

    error_kind = "blocked_address"


class DnsError(ImportFailed):
    """The host name could not be resolved."""

    error_kind = "dns_error"


class ConnectTimeout(ImportFailed):
    """No connection could be made: the connect timed out or was refused."""

    error_kind = "connect_timeout"


class ReadTimeout(ImportFailed):
    """The response stalled, broke off, or ran past the total deadline."""

    error_kind = "read_timeout"


class Http4xx(ImportFailed):
    """The server answered with a 4xx status (the page is gone, forbidden, ...)."""

    error_kind = "http_4xx"

    def __init__(self, message: str, *, url: str | None = None, status: int = 400) -> None:
        super().__init__(message, url=url)
        self.status = status


class Http5xx(ImportFailed):
    """The server answered with a 5xx status (a transient origin failure)."""

    error_kind = "http_5xx"

    def __init__(self, message: str, *, url: str | None = None, status: int = 500) -> None:
        super().__init__(message, url=url)
        self.status = status


class TooLarge(ImportFailed):
    """The body (after decompression) is larger than the byte cap."""

    error_kind = "too_large"


class NotHtml(ImportFailed):
    """The response is not an HTML page (or its encoding cannot be decoded)."""

    error_kind = "not_html"


class TooManyRedirects(ImportFailed):
    """More redirect hops than allowed (or a loop)."""

    error_kind = "too_many_redirects"


class ExtractionEmpty(ImportFailed):
    """The page was fetched but no article text could be extracted from it."""

    error_kind = "extraction_empty"


class SaveConflict(ImportFailed):
    """A document already saved under the same key has different content."""

    error_kind = "save_conflict"


_BY_KIND: dict[str, type[ImportFailed]] = {
    cls.error_kind: cls
    for cls in (
        InvalidUrl,
        BlockedAddress,
        DnsError,
        ConnectTimeout,
        ReadTimeout,
        Http4xx,
        Http5xx,
        TooLarge,
        NotHtml,
        TooManyRedirects,
        ExtractionEmpty,
        SaveConflict,
    )
}


def import_failed(error_kind: str, message: str, *, url: str | None = None) -> ImportFailed:
    """Rebuild the exception for ``error_kind`` (e.g. from a kind stored by another process)."""
    try:
        cls = _BY_KIND[error_kind]
    except KeyError:
        raise ValueError(f"error_kind must be one of {', '.join(ERROR_KINDS)}; got {error_kind!r}") from None
    return cls(message, url=url)
