"""AWS Signature Version 4 for the load generator, cut down to what the hot loop needs.

Every request is signed with `UNSIGNED-PAYLOAD` (the server still computes MD5 for the ETag) and
signs only `host`, `x-amz-content-sha256` and `x-amz-date`. The signing key is derived once per
UTC day and the date header once per second, so a request costs one SHA-256 and one HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = ["Credentials", "Signer"]

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_SIGNED_HEADERS = "host;x-amz-content-sha256;x-amz-date"


@dataclass(frozen=True)
class Credentials:
    """An access key pair and the region that scopes its signatures."""

    access_key: str
    secret_key: str
    region: str


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def derive_signing_key(secret_key: str, date: str, region: str, service: str = "s3") -> bytes:
    """The SigV4 signing key for one day, region and service."""
    k_date = _hmac(("AWS4" + secret_key).encode(), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def canonical_query(params: dict[str, str]) -> str:
    """Query string in SigV4 canonical form (sorted, RFC 3986 encoded); also sent as is."""
    return "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )


@dataclass
class Signer:
    """Signs requests for one endpoint; caches the day's key and the second's date stamp."""

    credentials: Credentials
    host: str
    clock: Callable[[], float] = time.time
    _key_date: str = field(default="", init=False)
    _key: bytes = field(default=b"", init=False)
    _stamp_second: int = field(default=-1, init=False)
    _amz_date: str = field(default="", init=False)

    def _now(self) -> str:
        second = int(self.clock())
        if second != self._stamp_second:
            self._stamp_second = second
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            date = self._amz_date[:8]
            if date != self._key_date:
                self._key_date = date
                self._key = derive_signing_key(
                    self.credentials.secret_key, date, self.credentials.region
                )
        return self._amz_date

    def headers(self, method: str, path: str, query: str = "") -> str:
        """The signed header lines (CRLF-terminated) for a request to `path`?`query`.

        `path` must already be URI-encoded (the bench only uses unreserved characters and '/').
        """
        amz_date = self._now()
        canonical = (
            f"{method}\n{path}\n{query}\n"
            f"host:{self.host}\nx-amz-content-sha256:{UNSIGNED_PAYLOAD}\n"
            f"x-amz-date:{amz_date}\n\n{_SIGNED_HEADERS}\n{UNSIGNED_PAYLOAD}"
        )
        scope = f"{self._key_date}/{self.credentials.region}/s3/aws4_request"
        to_sign = (
            f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
        return (
            f"Host: {self.host}\r\n"
            f"x-amz-content-sha256: {UNSIGNED_PAYLOAD}\r\n"
            f"x-amz-date: {amz_date}\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential={self.credentials.access_key}/{scope},"
            f" SignedHeaders={_SIGNED_HEADERS}, Signature={signature}\r\n"
        )
