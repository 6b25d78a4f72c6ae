"""What the load balancing service's parts share (decision 0191): the store, the network
port, the limits and clock, the lookup of a resource by id or ARN, the conditional write, and
the name and tag rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from andromede.loadbalancing.certificates import Certificates
from andromede.loadbalancing.errors import (
    ConcurrentChange,
    Duplicate,
    LbValidationError,
    NotFound,
    TooMany,
)
from andromede.loadbalancing.model import Tags, parse_arn
from andromede.loadbalancing.network import Network
from andromede.loadbalancing.store import LbStore, Stored

__all__ = ["LbCore", "LbLimits", "check_name", "check_tags"]

_NAME: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
_ATTEMPTS: Final = 8
NOT_FOUND: Final = {
    "loadbalancer": ("LoadBalancerNotFound", "One or more load balancers not found"),
    "targetgroup": ("TargetGroupNotFound", "One or more target groups not found"),
    "listener": ("ListenerNotFound", "One or more listeners not found"),
    "rule": ("RuleNotFound", "One or more rules not found"),
    "truststore": ("TrustStoreNotFound", "One or more trust stores not found"),
}


@dataclass(frozen=True, slots=True)
class LbLimits:
    max_load_balancers: int = 50
    max_target_groups: int = 3000
    max_listeners: int = 50
    max_targets: int = 500
    max_tags: int = 50
    max_security_groups: int = 5
    # Decision 0210: a TLS listener's certificates, the default one included (AWS's 25).
    max_certificates: int = 25
    # Decision 0216: an ALB's rules, its listeners' default rules not counted (AWS's 100).
    max_rules: int = 100
    # The Region's availability zones (one here, decision 0021): an ALB's subnets span as
    # many of them as there are, up to AWS's two.
    region_zones: int = 1
    # The HTTP proxies' bound on a request's line and headers (elb_http_max_header_bytes),
    # handed to the hosts with each HTTP listener.
    http_max_header_bytes: int = 65536
    # Decision 0264: the lines a proxy keeps between two reports
    # (elb_access_log_max_buffered_lines).
    access_log_max_lines: int = 100000
    provisioning: timedelta = timedelta(seconds=2)
    # Decision 0256: trust stores an account holds, a CA bundle's bytes and certificates, a
    # revocation list's bytes, and the revoked entries a trust store holds in all.
    max_trust_stores: int = 100
    trust_store_bundle_bytes: int = 1048576
    trust_store_ca_certificates: int = 25
    trust_store_revocation_bytes: int = 10485760
    trust_store_revoked_entries: int = 100000


def check_name(name: str, what: str) -> None:
    """ELBv2's names: 1 to 32 letters, digits and hyphens, no hyphen at either end."""
    if not _NAME.fullmatch(name):
        raise LbValidationError(
            f"{what} name '{name[:64]}' can have a maximum of 32 characters, can contain only "
            "alphanumeric characters or hyphens, and cannot begin or end with a hyphen"
        )
    if name.lower().startswith("internal-"):
        raise LbValidationError(f"{what} name '{name}' cannot begin with 'internal-'")


def check_tags(tags: Tags, limit: int) -> None:
    keys = [k for k, _ in tags]
    if len(set(keys)) != len(keys):
        raise Duplicate("DuplicateTagKeys", "Tag keys must be unique")
    if len(keys) > limit:
        raise TooMany("TooManyTags", f"A resource can have at most {limit} tags")
    for key, value in tags:
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise LbValidationError(f"Tag key '{key[:128]}' is invalid")
        if len(value) > 256:
            raise LbValidationError("Tag value must be at most 256 characters")


class LbCore:
    def __init__(
        self,
        store: LbStore,
        network: Network,
        region: str,
        limits: LbLimits,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.network = network
        self.region = region
        self.limits = limits
        self.clock = clock
        # Decision 0210: the account's certificates, for TLS listeners (wired over IAM's
        # server certificates; None: no TLS listener can be made).
        self.certificates: Certificates | None = None

    async def held(self, tenant_id: str, kind: str, resource_id: str) -> Stored:
        stored = await self.store.get(tenant_id, kind, resource_id)
        if stored is None:
            raise NotFound(*NOT_FOUND[kind])
        return stored

    async def id_of(self, tenant_id: str, kind: str, arn: str) -> str:
        """The id an ARN of the account names; NotFound (or ValidationError when it is no
        ARN of ``kind``) otherwise."""
        parsed = parse_arn(arn)
        if parsed is None or parsed.kind != kind:
            raise LbValidationError(f"'{arn[:256]}' is not a valid {kind} ARN")
        if parsed.tenant_id != tenant_id:
            raise NotFound(*NOT_FOUND[kind])
        return parsed.resource_id

    async def mutate(
        self,
        tenant_id: str,
        kind: str,
        resource_id: str,
        change: Callable[[Stored], dict[str, Any]],
    ) -> dict[str, Any]:
        """Apply ``change`` to the resource's document and write it conditionally, again on
        a lost race."""
        for _ in range(_ATTEMPTS):
            stored = await self.held(tenant_id, kind, resource_id)
            document = change(stored)
            if await self.store.replace(stored, document):
                return document
        raise ConcurrentChange(f"{kind} {resource_id} changed concurrently; retry")
