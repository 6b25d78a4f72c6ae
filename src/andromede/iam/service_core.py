"""What every part of :class:`~andromede.iam.service.IdentityService` shares.

The service is one class (the one public entry of identity) assembled from parts that each own
a family of IAM actions: ``accounts.py`` (tenants, operators, quotas), ``directory.py`` (users,
groups, roles), ``instance_profiles.py``, ``credentials.py`` (access keys, key resolution, STS),
``policies.py``, ``mfa.py``, ``login.py`` and ``oidc_providers.py``. This module holds their
common state — the store, the sealer, the clock, the limits and the per-worker caches, the OIDC
issuers' keys among them — and the input checks AWS defines for names and paging.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from andromede.iam import policy as policy_engine
from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.model import (
    Principal,
    PrincipalKind,
    PrincipalPolicies,
    Role,
    User,
    valid_path,
)
from andromede.iam.secrets import SecretSealer
from andromede.iam.store import IdentityStore
from andromede.iam.web_identity import JwksCache

__all__ = ["IdentityLimits", "PolicyKind", "ServiceCore"]

_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
DEFAULT_MAX_ITEMS = 100
MAX_MAX_ITEMS = 1000


class PolicyKind(StrEnum):
    """What a policy document is for: the parser checks each kind's own rules."""

    IDENTITY = "identity"  # inline and managed policies of users, groups, roles
    TRUST = "trust"  # a role's AssumeRolePolicyDocument (names a Principal)
    RESOURCE = "resource"  # a bucket policy


@dataclass(frozen=True, slots=True)
class IdentityLimits:
    """Tunables of identity, from the settings (see ``docs/configuration.md``)."""

    cache_ttl: float = 30.0
    key_usage_flush_interval: float = 60.0
    max_policies_per_entity: int = 10
    password_min_length: int = 12
    # How long a credential report is served before ReportExpired (decision 0193).
    credential_report_lifetime: float = 14400.0
    # How long a service-linked role's deletion task may run (session 51, decision 0208).
    linked_role_deletion_timeout: float = 60.0
    # The most actions times resources one policy simulation evaluates (decision 0193).
    simulation_max_evaluations: int = 1000
    login_max_failures: int = 5
    login_backoff_max: float = 900.0
    console_session_idle_timeout: float = 1800.0
    console_session_lifetime: float = 43200.0
    mfa_issuer: str = "Andromede"
    # OpenID Connect identity providers' keys (decision 0087).
    oidc_ca_bundle: Path | None = None
    oidc_timeout: float = 5.0
    oidc_allowed_networks: tuple[str, ...] = ()
    oidc_jwks_cache_ttl: float = 900.0
    oidc_max_document_size: int = 1 << 20
    # SAML providers and assertions (decision 0095): the Recipients and Audiences accepted
    # (see ``saml.accepted_endpoints``), the clock skew, the largest metadata document.
    saml_recipients: tuple[str, ...] = ("https://signin.aws.amazon.com/saml",)
    saml_audiences: tuple[str, ...] = (
        "https://signin.aws.amazon.com/saml",
        "urn:amazon:webservices",
    )
    # IAM server certificates an account may hold (decision 0205; AWS's default quota).
    server_certificates_per_account: int = 20
    saml_clock_skew: float = 60.0
    saml_max_metadata_size: int = 256 << 10


def check_name(kind: str, name: str, max_length: int) -> str:
    if not 1 <= len(name) <= max_length or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"The specified value for {kind} is invalid: it must be 1 to {max_length} characters "
            "of letters, digits and +=,.@_-"
        )
    return name


def check_path(path: str) -> str:
    if not valid_path(path):
        raise InvalidInput("The specified value for path is invalid: it must begin and end with /")
    return path


def check_max_items(max_items: int | None) -> int:
    if max_items is None:
        return DEFAULT_MAX_ITEMS
    if not 1 <= max_items <= MAX_MAX_ITEMS:
        raise InvalidInput(f"MaxItems must be between 1 and {MAX_MAX_ITEMS}")
    return max_items


def user_principal(user: User, *, mfa_present: bool = False) -> Principal:
    return Principal(
        tenant_id=user.tenant_id,
        user_id=user.id,
        user_name=user.name,
        kind=PrincipalKind.ROOT if user.is_root else PrincipalKind.USER,
        arn=user.arn,
        mfa_present=mfa_present,
    )


class ServiceCore(ABC):
    def __init__(
        self,
        store: IdentityStore,
        sealer: SecretSealer,
        *,
        limits: IdentityLimits | None = None,
        clock: Callable[[], float] = time.time,
        web_identity_keys: JwksCache | None = None,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._limits = limits or IdentityLimits()
        self._clock = clock
        # Per worker: access key id -> resolution; (kind, id) -> policy documents.
        self._key_cache: dict[str, Any] = {}
        self._policy_cache: dict[tuple[PrincipalKind, str], tuple[float, PrincipalPolicies]] = {}
        # Access key id -> (unix time, service, region) of its last use, not yet written.
        self._pending_uses: dict[str, tuple[float, str, str]] = {}
        # Per worker: the OIDC issuers' signing keys (decision 0087).
        limits = self._limits
        self._web_identity_keys = web_identity_keys or JwksCache(
            JwksCache.https_fetcher(
                ca_bundle=limits.oidc_ca_bundle,
                timeout=limits.oidc_timeout,
                allowed_networks=limits.oidc_allowed_networks,
                max_document_size=limits.oidc_max_document_size,
            ),
            ttl=limits.oidc_jwks_cache_ttl,
        )

    # -- shared helpers ------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def invalidate_caches(self) -> None:
        """Forget every cached resolution on this worker (after a change made here)."""
        self._key_cache.clear()
        self._policy_cache.clear()

    @abstractmethod
    async def verify_mfa_code(
        self, tenant_id: str, user_id: str, serial_number: str, code: str
    ) -> None:
        """Accept one code of the user's enabled device once (mfa.py)."""

    @abstractmethod
    def _validate_policy(
        self, text: str, kind: PolicyKind, max_size: policy_engine.SizeLimit | int | None = None
    ) -> str:
        """The document, once the policy parser accepts it within ``max_size`` (service.py)."""

    async def _user(self, tenant_id: str, user_name: str) -> User:
        user = await self._store.get_entity(User, tenant_id, user_name)
        if user is None:
            raise NoSuchEntity(f"The user with name {user_name} cannot be found.")
        return user

    async def _user_or_role(
        self, kind: type[User] | type[Role], tenant_id: str, name: str
    ) -> User | Role:
        """The IAM user (never the root user) or the role ``name``: NoSuchEntity otherwise."""
        entity: User | Role | None = (
            await self._store.get_entity(User, tenant_id, name)
            if kind is User
            else await self._store.get_entity(Role, tenant_id, name)
        )
        if entity is None or (isinstance(entity, User) and entity.is_root):
            noun = "user" if kind is User else "role"
            raise NoSuchEntity(f"The {noun} with name {name} cannot be found.")
        return entity
