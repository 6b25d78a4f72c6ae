"""What the management API's routes work with: the services, the settings, the request id."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from andromede.audit.service import AuditService
from andromede.http.ratelimit import RateLimiter
from andromede.iam.authn import Authenticator
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["REQUEST_ID_SCOPE_KEY", "ApiContext"]

REQUEST_ID_SCOPE_KEY = "andromede.request_id"  # set by the outer app on every request


@dataclass(frozen=True, slots=True)
class ApiContext:
    identity: IdentityService
    audit: AuditService
    settings: Settings
    authenticator: Authenticator
    rate_limiter: RateLimiter

    @staticmethod
    def request_id(request: Request) -> str:
        return str(request.scope.get(REQUEST_ID_SCOPE_KEY, "-"))
