"""Production mode's signatures, as Inngest's SDK spec (4.1.1) and the official SDKs compute them.

- Server to app: ``X-Inngest-Signature: t=<unix seconds>&s=<hex HMAC-SHA256>`` over the request
  body in JSON canonical form (RFC 8785, what the SDKs canonicalize before verifying) followed by
  ``t``, keyed with the signing key without its ``signkey-<env>-`` prefix.
- App to server: the response carries the same header over its raw body; a missing, wrong or
  stale (more than 5 minutes old) signature is refused.
- SDK calls to the server (sync, the run API) carry ``Authorization: Bearer <sha256 hex of the
  key's bytes>`` (the TypeScript SDK puts the ``signkey-<env>-`` prefix back in front of it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import urllib.parse

import jcs

from bakeoff.contract import ConfigurationError

__all__ = ["MAX_SIGNATURE_AGE_SECONDS", "SigningKey", "canonical_json"]

MAX_SIGNATURE_AGE_SECONDS = 300
_PREFIX = re.compile(r"^signkey-\w+-")


def canonical_json(value: object) -> bytes:
    """``value`` as RFC 8785 canonical JSON (sorted keys, no spaces, ES6 numbers)."""
    canonical: bytes = jcs.canonicalize(value)
    return canonical


class SigningKey:
    """A signing key (``signkey-<env>-<hex>``): signs, verifies, and checks bearer tokens."""

    def __init__(self, key: str) -> None:
        self._secret = _PREFIX.sub("", key.strip())
        try:
            raw = bytes.fromhex(self._secret)
        except ValueError as exc:
            raise ConfigurationError("the signing key must be signkey-<env>-<hex digits>") from exc
        if not raw:
            raise ConfigurationError("the signing key is empty")
        self.bearer = hashlib.sha256(raw).hexdigest()

    def __repr__(self) -> str:
        return "SigningKey(***)"

    def _mac(self, body: bytes, timestamp: str) -> str:
        mac = hmac.new(self._secret.encode(), body, hashlib.sha256)
        mac.update(timestamp.encode())
        return mac.hexdigest()

    def sign(self, body: bytes, *, now: float | None = None) -> str:
        """The ``X-Inngest-Signature`` value for ``body`` (already in the form the peer will hash)."""
        timestamp = str(int(now if now is not None else time.time()))
        return f"t={timestamp}&s={self._mac(body, timestamp)}"

    def problem(self, body: bytes, header: str | None, *, now: float | None = None) -> str | None:
        """Why ``header`` does not sign ``body`` (None when it does)."""
        if not header:
            return "no X-Inngest-Signature header"
        fields = urllib.parse.parse_qs(header)
        timestamp, signature = fields.get("t", [""])[0], fields.get("s", [""])[0]
        if not timestamp.isdigit() or not signature:
            return "a malformed X-Inngest-Signature header"
        age = (now if now is not None else time.time()) - int(timestamp)
        if abs(age) > MAX_SIGNATURE_AGE_SECONDS:
            return f"a signature {int(age)} s old (the limit is {MAX_SIGNATURE_AGE_SECONDS} s)"
        if not hmac.compare_digest(signature, self._mac(body, timestamp)):
            return "a signature that does not match the body"
        return None

    def authorizes(self, authorization: str | None) -> bool:
        """True when an ``Authorization`` header carries this key's bearer token."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        # The TypeScript SDK keeps the key's "signkey-<env>-" prefix on the hash; Python drops it.
        token = _PREFIX.sub("", authorization.removeprefix("Bearer ").strip())
        return hmac.compare_digest(token, self.bearer)
