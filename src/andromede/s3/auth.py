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
        # Signed for any region this gateway serves; a bucket's requests for its own region.
        self._inner = _Authenticator.for_settings(
            identity,
            settings,
            service="s3",
            also_accepted_regions=settings.served_region_names,
            # An operator's credentials for an approved access request work here only (0107).
            allow_operator_access=True,
        )

    async def authenticate(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        *,
        region: str | None = None,
    ) -> Authenticated:
        """``region``: the one the request must be signed for (the addressed bucket's)."""
        try:
            return await self._inner.authenticate(
                method, raw_path, raw_query, headers, region=region
            )
        except SigV4Error as exc:
            raise S3Error(exc.code, exc.message, **exc.details) from exc
