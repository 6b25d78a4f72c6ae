"""Helpers for the customer-managed key tests: the service over the in-memory store, a real
key-file provider, the KMS authoriser with identity policies set per user, and a clock the
tests move by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser, alias_names

REGION = "eu-fr-1"
ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
T0 = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


@dataclass
class ManualClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class IdentityPolicies:
    """Identity policies by user id: what ``IdentityService.policies_for`` would return."""

    by_user: dict[str, list[str]] = field(default_factory=dict)

    async def __call__(self, principal: Principal) -> list[str]:
        return list(self.by_user.get(principal.user_id or "", []))


def root(account: str) -> Caller:
    principal = Principal(
        tenant_id=account,
        user_id=None,
        user_name=None,
        kind=PrincipalKind.ROOT,
        arn=f"arn:aws:iam::{account}:root",
    )
    return Caller(account_id=account, arn=principal.arn, principal=principal)


def user(account: str, name: str) -> Caller:
    principal = Principal(
        tenant_id=account,
        user_id=f"AIDA{name.upper()}",
        user_name=name,
        kind=PrincipalKind.USER,
        arn=f"arn:aws:iam::{account}:user/{name}",
    )
    return Caller(account_id=account, arn=principal.arn, principal=principal)


@dataclass
class Kit:
    service: CustomerKeyService
    store: MemoryCustomerKeyStore
    keys: KeyService
    clock: ManualClock
    policies: IdentityPolicies

    def limited(self, **limits: int) -> CustomerKeyService:
        """A service over the same store, keys, clock and policies, with other quotas
        (``on_demand_rotations``, ``grants_per_key``)."""
        return CustomerKeyService(
            self.store,
            self.keys,
            KmsAuthoriser(self.policies, REGION, key_aliases=alias_names(self.store)),
            region=REGION,
            clock=self.clock,
            **limits,
        )
