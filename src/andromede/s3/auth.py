"""Authentication of S3 requests: SigV4 (header or presigned) → the principal, or anonymous.

The signature maths is in ``sigv4.py`` (pure); this module looks the key up through the identity
service and turns SigV4's errors into S3 wire errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.service import IdentityService
from andromede.s3.errors import S3Error
from andromede.s3.sigv4 import (
    SignedRequest,
    SigningContext,
    SigV4Error,
    parse_authentication,
    verify,
)
from andromede.settings import Settings

__all__ = ["Authenticated", "Authenticator"]


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    signed: SignedRequest | None
    signing: SigningContext | None

    @property
    def payload_hash(self) -> str | None:
        return self.signed.payload_hash if self.signed is not None else None


class Authenticator:
    def __init__(self, identity: IdentityService, settings: Settings) -> None:
        self._identity = identity
        self._settings = settings

    async def authenticate(
        self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]
    ) -> Authenticated:
        try:
            signed = parse_authentication(method, raw_path, raw_query, headers)
        except SigV4Error as exc:
            raise S3Error(exc.code, exc.message, **exc.details) from exc
        if signed is None:
            return Authenticated(ANONYMOUS, None, None)
        secret, principal = await self._identity.resolve_access_key(signed.access_key_id)
        try:
            signing = verify(
                signed,
                secret,
                method=method,
                raw_path=raw_path,
                raw_query=raw_query,
                headers=headers,
                region=self._settings.region,
                now=datetime.now(UTC),
                clock_skew=self._settings.clock_skew,
                max_presign_expiry=self._settings.presign_max_expiry,
            )
        except SigV4Error as exc:
            raise S3Error(exc.code, exc.message, **exc.details) from exc
        return Authenticated(principal, signed, signing)
