"""Who sent a wire request, and whether their access key may send another now (decision 0162).

Owns the admission step the wire APIs had each copied: the principal a front put in the scope
(the console's in-process call as its signed-in user, decision 0111: no client request can set
it), else SigV4 checked over the body's hash for the API's credential-scope service, a failed
authentication recorded in the audit log under the action the request named, and the rate
limit per access key. Each API keeps its own errors: it says which one a body whose hash is not
the signed one raises, and how it names an authentication error in the audit event.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from andromede.audit.service import AuditService
from andromede.errors import AndromedeError
from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY, raw_target
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Scope
from andromede.iam.authn import (
    Authenticated,
    Authenticator,
    BodyHashMismatch,
    headers_with_body_hash,
)
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["SignedRequests"]


class SignedRequests:
    """The admission of one API's requests: SigV4 for ``service``, audit, rate limit."""

    def __init__(
        self,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None,
        *,
        service: str,
        also_accepted_regions: Collection[str] = (),
    ) -> None:
        self._audit = audit
        self._auth = Authenticator.for_settings(
            identity, settings, service=service, also_accepted_regions=also_accepted_regions
        )
        self._rate_limiter = rate_limiter or RateLimiter(settings.rate_limit_per_key)

    async def authenticate(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        *,
        request_id: str,
        action: str,
        hash_mismatch: Callable[[], Exception],
        error_code: Callable[[AndromedeError], str | None],
    ) -> Authenticated:
        """The trusted principal in the scope, else the request's SigV4 signer (anonymous when
        unsigned). ``hash_mismatch()`` is raised for a body that is not the one signed; a
        refused signature is audited as ``action`` with ``error_code(exc)`` (its class name
        when the API has no code for it) and raised as it came."""
        trusted = scope.get(TRUSTED_PRINCIPAL_SCOPE_KEY)
        if isinstance(trusted, Principal):
            return Authenticated(trusted, None, None)
        try:
            signed_headers = headers_with_body_hash(headers, body)
        except BodyHashMismatch as exc:
            raise hash_mismatch() from exc
        raw_path, raw_query = raw_target(scope)
        try:
            return await self._auth.authenticate(
                scope["method"], raw_path, raw_query, signed_headers
            )
        except AndromedeError as exc:
            self._audit.authentication_failed(
                request_id=request_id, action=action, error=error_code(exc) or type(exc).__name__
            )
            raise

    def allow(self, authenticated: Authenticated) -> bool:
        """Whether the signer's access key may send this request now; a trusted principal's
        call is the front's, not counted."""
        signed = authenticated.signed
        return signed is None or self._rate_limiter.allow(signed.access_key_id)
