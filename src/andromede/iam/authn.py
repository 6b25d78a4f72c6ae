"""Request authentication shared by every AWS-style API on the endpoint (S3, IAM, STS, KMS…).

SigV4 (header or presigned query) → the access key's secret through the identity service → the
signature checked → the principal the request acts as. Unsigned requests are the anonymous
principal; whether anonymous may do anything is the authoriser's question, not this one's.

Errors stay in SigV4's vocabulary (:class:`SigV4Error`, :class:`InvalidAccessKeyId`); each wire
layer turns them into its own protocol's errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from andromede.errors import AndromedeError
from andromede.http.sigv4 import (
    SignedRequest,
    SigningContext,
    SigV4Error,
    parse_authentication,
    verify,
)
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["Authenticated", "Authenticator", "BodyHashMismatch", "headers_with_body_hash"]


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    signed: SignedRequest | None
    signing: SigningContext | None

    @property
    def payload_hash(self) -> str | None:
        return self.signed.payload_hash if self.signed is not None else None


class Authenticator:
    """Checks SigV4 claims for one API (one credential-scope service)."""

    def __init__(
        self,
        identity: IdentityService,
        *,
        service: str,
        region: str,
        clock_skew: int,
        presign_max_expiry: int,
        also_accepted_regions: Collection[str] = (),
        allow_operator: bool = False,
        allow_operator_access: bool = False,
    ) -> None:
        self._identity = identity
        self._service = service
        self._region = region
        self._clock_skew = clock_skew
        self._presign_max_expiry = presign_max_expiry
        # Global services (IAM) are signed for us-east-1 by tools that know AWS's endpoints.
        self._also_accepted = frozenset(also_accepted_regions)
        # Only the management API accepts platform operators' keys (see resolve_access_key).
        self._allow_operator = allow_operator
        # Only S3 accepts an operator's credentials for an approved access request (0107).
        self._allow_operator_access = allow_operator_access

    @classmethod
    def for_settings(
        cls,
        identity: IdentityService,
        settings: Settings,
        *,
        service: str,
        also_accepted_regions: Collection[str] = (),
        allow_operator: bool = False,
        allow_operator_access: bool = False,
    ) -> Authenticator:
        """The authenticator of one API, with the endpoint's region and time limits."""
        return cls(
            identity,
            service=service,
            region=settings.region,
            clock_skew=settings.clock_skew,
            presign_max_expiry=settings.presign_max_expiry,
            also_accepted_regions=also_accepted_regions,
            allow_operator=allow_operator,
            allow_operator_access=allow_operator_access,
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
        """``region``: the region the request must be signed for (S3: the addressed bucket's);
        None: the endpoint's region or one of ``also_accepted_regions``."""
        signed = parse_authentication(method, raw_path, raw_query, headers)
        if signed is None:
            return Authenticated(ANONYMOUS, None, None)
        if signed.service != self._service:
            # A request for a service this endpoint does not serve lands here by default; a
            # signature for another service must never pass as one for this one.
            code = (
                "AuthorizationQueryParametersError"
                if signed.presigned
                else "AuthorizationHeaderMalformed"
            )
            raise SigV4Error(
                code,
                f'The authorization header is malformed; incorrect service "{signed.service}". '
                f'This endpoint belongs to "{self._service}".',
            )
        secret, principal = await self._identity.resolve_access_key(
            signed.access_key_id,
            _session_token(raw_query, headers),
            allow_operator=self._allow_operator,
            allow_operator_access=self._allow_operator_access,
        )
        if region is None:
            region = signed.region if signed.region in self._also_accepted else self._region
        signing = verify(
            signed,
            secret,
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            region=region,
            now=datetime.now(UTC),
            clock_skew=self._clock_skew,
            max_presign_expiry=self._presign_max_expiry,
        )
        self._identity.note_access_key_use(signed.access_key_id, self._service, signed.region)
        return Authenticated(principal, signed, signing)


class BodyHashMismatch(AndromedeError):
    """``x-amz-content-sha256`` was sent and is not the SHA-256 of the body."""


def headers_with_body_hash(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """The headers to verify a request of an API that signs its body's hash without sending it
    (IAM, STS, KMS, the management API): the server computes the hash. A hash the client did
    send must be the body's, or the signature cannot match (BodyHashMismatch)."""
    body_hash = hashlib.sha256(body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and claimed.strip() != body_hash:
        raise BodyHashMismatch("x-amz-content-sha256 is not the body's SHA-256")
    signed_headers = dict(headers)
    signed_headers["x-amz-content-sha256"] = body_hash
    return signed_headers


def _session_token(raw_query: str, headers: Mapping[str, str]) -> str | None:
    """Temporary credentials' token: the header, or the query parameter of a presigned URL."""
    token = headers.get("x-amz-security-token")
    if token is not None or "X-Amz-Security-Token=" not in raw_query:
        return token
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        if name == "X-Amz-Security-Token":
            return value
    return None
