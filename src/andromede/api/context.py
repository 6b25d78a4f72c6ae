"""What the management API's routes work with: the services, the settings, the request id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import Request

from andromede.audit.access_service import OperatorAccessService
from andromede.audit.service import AuditService
from andromede.audit.trail import AuditTrail
from andromede.billing.service import BillingService
from andromede.compute.host_processes import HostProcesses
from andromede.http.ratelimit import RateLimiter
from andromede.iam.authn import Authenticator
from andromede.iam.model import Tenant
from andromede.iam.service import IdentityService
from andromede.settings import Settings
from andromede.storage.model import Bucket

__all__ = [
    "REQUEST_ID_SCOPE_KEY",
    "ApiContext",
    "BucketSettings",
    "HostsReader",
    "TenantCloser",
]

# Closes a tenant (name or account id) for good, its keys crypto-shredded first: the
# composition root's, which reaches the key services this package does not.
TenantCloser = Callable[[str], Awaitable[Tenant]]
# Asks every hypervisor host of the deployment for its supervised processes (decision 0389):
# the composition root's, which holds the hosts' drivers.
HostsReader = Callable[[], Awaitable[Sequence[HostProcesses]]]


class BucketSettings(Protocol):
    """The buckets' settings that are no S3 call's (the object service's)."""

    async def get_bucket(self, name: str) -> Bucket:
        """NoSuchBucket if absent."""

    async def set_bucket_data_reads_logged(self, name: str, logged: bool) -> Bucket:
        """Whether the bucket's data reads are audited (decision 0109). NoSuchBucket."""


REQUEST_ID_SCOPE_KEY = "andromede.request_id"  # set by the outer app on every request


@dataclass(frozen=True, slots=True)
class ApiContext:
    identity: IdentityService
    audit: AuditService
    settings: Settings
    authenticator: Authenticator
    rate_limiter: RateLimiter
    close_tenant: TenantCloser
    trail: AuditTrail | None = None  # None: a server that serves no audit trail (tests)
    # None: a server where operators cannot ask for access to tenants' data (tests).
    operator_access: OperatorAccessService | None = None
    billing: BillingService | None = None  # None: a server that keeps no billing (tests)
    buckets: BucketSettings | None = None  # None: a server that stores no objects (tests)
    hosts: HostsReader | None = None  # None: a server that drives no host (tests)
    # The bearer token the operators' Prometheus scrapes the metrics with (decision 0389);
    # None: operators' signatures only.
    metrics_token: str | None = field(default=None, repr=False)

    @staticmethod
    def request_id(request: Request) -> str:
        return str(request.scope.get(REQUEST_ID_SCOPE_KEY, "-"))
