"""Authentication of S3 requests: the shared SigV4 authenticator, its errors as S3 wire errors."""

from __future__ import annotations

from collections.abc import Mapping

from andromede.http.sigv4 import SigV4Error
from andromede.iam.authn import Authenticated
from andromede.iam.authn import Authenticator as _Authenticator
from andromede.iam.service import IdentityService
from andromede.s3.errors import S3Error
from andromede.settings import Settings

__all__ = ["Authenticated", "Authenticator"]


class Authenticator:
    def __init__(self, identity: IdentityService, settings: Settings) -> None:
        self._inner = _Authenticator.for_settings(identity, settings, service="s3")

    async def authenticate(
        self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]
    ) -> Authenticated:
        try:
            return await self._inner.authenticate(method, raw_path, raw_query, headers)
        except SigV4Error as exc:
            raise S3Error(exc.code, exc.message, **exc.details) from exc
