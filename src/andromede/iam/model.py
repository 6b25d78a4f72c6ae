"""Pure identity types and rules: tenants, users, groups, roles, instance profiles, keys,
policies, MFA, sessions.

A tenant is an AWS-style account: a 12-digit id used in ARNs (``arn:aws:iam::<id>:user/<name>``)
so existing policies and tools work unchanged. The S3 canonical user id shown in ``<Owner>`` is
derived from the tenant id, so nothing extra is stored. Names of users, groups, roles and managed
policies are unique per tenant regardless of case, as on AWS: each carries ``name_key`` (its
lower-case form) for the uniqueness constraint.

The platform operator belongs to no tenant: its ARN lives in its own partition
(``arn:andromede:platform::operator/<name>``) so no tenant policy written for ``arn:aws:`` can
ever name it by accident.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

__all__ = [
    "ACCESS_KEYS_PER_USER",
    "ANONYMOUS",
    "POLICY_VERSIONS_MAX",
    "ROLES_PER_INSTANCE_PROFILE",
    "TENANT_TRANSITIONS",
    "AccessKey",
    "AccessKeyStatus",
    "ConsoleSession",
    "EntityType",
    "Group",
    "InlinePolicy",
    "InstanceProfile",
    "KeyUse",
    "LoginProfile",
    "ManagedPolicy",
    "MfaDevice",
    "OidcProvider",
    "Operator",
    "Page",
    "PolicyVersion",
    "Principal",
    "PrincipalKind",
    "Role",
    "SamlProvider",
    "ServerCertificate",
    "SessionCredentials",
    "SessionSource",
    "Tags",
    "Tenant",
    "TenantQuota",
    "TenantStatus",
    "User",
    "canonical_id",
    "federated_user_arn",
    "instance_profile_arn",
    "new_access_key_id",
    "new_entity_id",
    "new_secret_access_key",
    "new_session_access_key_id",
    "new_tenant_id",
    "new_user_id",
    "oidc_provider_arn",
    "policy_arn",
    "role_arn",
    "saml_provider_arn",
    "server_certificate_arn",
    "user_arn",
    "valid_path",
    "valid_source_identity",
]

_T = TypeVar("_T")
_KEY_ALPHABET = string.ascii_uppercase + "234567"  # base32, as AWS access key ids use

# AWS's fixed quotas (not adjustable on AWS either).
ACCESS_KEYS_PER_USER = 2
POLICY_VERSIONS_MAX = 5
ROLES_PER_INSTANCE_PROFILE = 1


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


# Which status a tenant may move to from each status. Closed is final: its keys were deactivated
# and its data awaits crypto-shredding; reopening would resurrect credentials.
TENANT_TRANSITIONS: dict[TenantStatus, frozenset[TenantStatus]] = {
    TenantStatus.ACTIVE: frozenset({TenantStatus.SUSPENDED, TenantStatus.CLOSED}),
    TenantStatus.SUSPENDED: frozenset({TenantStatus.ACTIVE, TenantStatus.CLOSED}),
    TenantStatus.CLOSED: frozenset(),
}


class AccessKeyStatus(enum.StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


class EntityType(enum.StrEnum):
    """What a policy can be attached to or embedded in."""

    USER = "user"
    GROUP = "group"
    ROLE = "role"


class PrincipalKind(enum.StrEnum):
    ANONYMOUS = "anonymous"
    ROOT = "root"
    USER = "user"
    ROLE_SESSION = "role-session"
    # GetFederationToken's session: a user (or root) federated under a name of its choosing,
    # the user's policies limited by the session's (decision 0093).
    FEDERATED_USER = "federated-user"
    OPERATOR = "operator"
    # A platform operator acting in a tenant's S3 data under an access request the tenant
    # approved (decision 0107): its scope, not policies, bounds what it may do.
    OPERATOR_ACCESS = "operator-access"


class SessionSource(enum.StrEnum):
    GET_SESSION_TOKEN = "GetSessionToken"  # noqa: S105 (an STS action name)
    ASSUME_ROLE = "AssumeRole"
    # The EC2 service assuming an instance profile's role for an instance (the session's name
    # is the instance id); the credentials act as the role like AssumeRole's.
    INSTANCE_PROFILE = "InstanceProfile"
    # An OpenID Connect identity provider's token for a role whose trust policy names the
    # provider (decision 0087); the credentials act as the role like AssumeRole's.
    WEB_IDENTITY = "AssumeRoleWithWebIdentity"
    # A SAML 2.0 identity provider's signed assertion for a role whose trust policy names the
    # provider (decision 0095); the credentials act as the role like AssumeRole's.
    SAML = "AssumeRoleWithSAML"
    # A user's GetFederationToken: the credentials act as the user under its session policies
    # alone (none: no identity permission at all), as ``arn:aws:sts::ACCOUNT:federated-user/NAME``.
    GET_FEDERATION_TOKEN = "GetFederationToken"  # noqa: S105 (an STS action name)
    # An operator's credentials for an approved access request (decision 0107): ``user_id``
    # is the operator's id, ``role_session_name`` the request's id; S3 alone accepts them.
    OPERATOR_ACCESS = "OperatorAccess"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    status: TenantStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TenantQuota:
    """Stored now, enforced by the billing issue. None: no limit."""

    tenant_id: str
    max_buckets: int | None = None
    max_bytes: int | None = None


# An IAM user's or role's tags: (key, value) pairs, keys unique regardless of case.
Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant_id: str
    name: str
    is_root: bool
    created_at: datetime
    path: str = "/"
    # The managed policy (ARN) capping what its identity policies can allow, if any.
    permissions_boundary: str | None = None
    tags: Tags = ()  # (key, value) in the order set; aws:PrincipalTag/<key> of its requests

    @property
    def arn(self) -> str:
        if self.is_root:
            return f"arn:aws:iam::{self.tenant_id}:root"
        return user_arn(self.tenant_id, self.path, self.name)


@dataclass(frozen=True, slots=True)
class PrincipalPolicies:
    """What bounds a principal's requests: the documents of its identity policies (its own and
    its groups', or its role's) and of its permissions boundary, if it has one; and its tags
    (the user's, or the role's for its sessions), its requests' ``aws:PrincipalTag/<key>``."""

    documents: tuple[str, ...] = ()
    boundary: str | None = None
    tags: Tags = ()
    # A role session's session policies' documents (None: it was given none), which every
    # request of the session must also be allowed by (decision 0071).
    session: tuple[str, ...] | None = None
    # A role session's source identity, its requests' ``aws:SourceIdentity`` (decision 0089).
    source_identity: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    tenant_id: str
    name: str
    path: str
    created_at: datetime

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.tenant_id}:group{self.path}{self.name}"


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    tenant_id: str
    name: str
    path: str
    created_at: datetime
    assume_role_policy_document: str
    max_session_duration: int = 3600
    description: str = ""
    permissions_boundary: str | None = None  # as for users
    tags: Tags = ()  # as for users; aws:PrincipalTag/<key> of its sessions

    @property
    def arn(self) -> str:
        return role_arn(self.tenant_id, self.path, self.name)


@dataclass(frozen=True, slots=True)
class InstanceProfile:
    """A container for one role that EC2 instances launched with it act as (AWS's model: a
    list of roles, at most ``ROLES_PER_INSTANCE_PROFILE`` of them). Its id starts with AIPA."""

    id: str
    tenant_id: str
    name: str
    path: str
    created_at: datetime
    roles: tuple[Role, ...] = ()
    tags: Tags = ()  # as for users (decision 0074)

    @property
    def arn(self) -> str:
        return instance_profile_arn(self.tenant_id, self.path, self.name)


@dataclass(frozen=True, slots=True)
class OidcProvider:
    """An OpenID Connect identity provider the account trusts (decision 0087): tokens its
    issuer signs may assume the account's roles whose trust policies name it.

    ``url`` is the issuer without its ``https://`` (``token.actions.githubusercontent.com``,
    ``keycloak.example/realms/ops``), as AWS answers it and as the ARN and the trust policy's
    condition keys (``<url>:sub``) name it. One provider per URL per account."""

    tenant_id: str
    url: str
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...]
    created_at: datetime
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return oidc_provider_arn(self.tenant_id, self.url)

    @property
    def issuer(self) -> str:
        """The ``iss`` its tokens carry."""
        return "https://" + self.url


@dataclass(frozen=True, slots=True)
class SamlProvider:
    """A SAML 2.0 identity provider the account trusts (decision 0095): assertions signed by
    one of its certificates, issued by its entity id, may assume the account's roles whose
    trust policies name it.

    ``metadata`` is the IdP's metadata document as given (answered by GetSAMLProvider);
    ``entity_id`` and ``certificates`` (DER, base64 as in the metadata) are what was read from
    it, kept so that no assertion check parses the metadata again. ``uuid`` is AWS's
    ``SAMLProviderUUID``."""

    tenant_id: str
    name: str
    uuid: str
    metadata: str
    entity_id: str
    certificates: tuple[str, ...]
    created_at: datetime
    valid_until: datetime | None = None
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return saml_provider_arn(self.tenant_id, self.name)


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """A TLS server certificate the account uploaded (decision 0205): its PEM body and chain
    as given, its private key sealed under the account's key ring (never answered), and what
    was read from the body. ``certificate_id`` is IAM's ``ServerCertificateId`` (``ASCA`` and
    17 more); ``expiration`` the certificate's ``notAfter``."""

    tenant_id: str
    name: str
    path: str
    certificate_id: str
    body: str
    chain: str | None
    sealed_private_key: bytes
    uploaded_at: datetime
    expiration: datetime
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return server_certificate_arn(self.tenant_id, self.path, self.name)


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    id: str
    tenant_id: str
    name: str
    path: str
    created_at: datetime
    default_version_id: str = "v1"
    description: str = ""
    attachment_count: int = 0
    updated_at: datetime | None = None
    tags: Tags = ()  # as for users (decision 0074)

    @property
    def arn(self) -> str:
        return policy_arn(self.tenant_id, self.path, self.name)


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    policy_id: str
    version_id: str  # "v1", "v2", … never reused within a policy
    document: str
    created_at: datetime
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    entity_type: EntityType
    entity_id: str
    name: str
    document: str


@dataclass(frozen=True, slots=True)
class AccessJob:
    """A GenerateServiceLastAccessedDetails job (decision 0193): whose access, at which
    granularity (SERVICE_LEVEL, ACTION_LEVEL), as of when."""

    job_id: str
    tenant_id: str
    arn: str
    granularity: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class KeyUse:
    when: datetime
    service: str
    region: str


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    user_id: str
    status: AccessKeyStatus
    created_at: datetime
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None


@dataclass(frozen=True, slots=True)
class MfaDevice:
    """A virtual MFA device; ``user_id`` set once enabled (assigned) for that user."""

    serial: str
    tenant_id: str
    name: str
    path: str
    seed_sealed: str
    created_at: datetime
    user_id: str | None = None
    enabled_at: datetime | None = None
    last_step: int | None = None  # the last accepted TOTP time step; never accepted again
    tags: Tags = ()  # as for users (decision 0074)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """The session policies an AssumeRole passed (decision 0071): an inline document and
    managed policies' ARNs, read at each request. The session can do only what its role's
    policies and these both allow."""

    inline: str | None = None
    arns: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"inline": self.inline, "arns": list(self.arns)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SessionPolicy | None:
        if text is None:
            return None
        data = json.loads(text)
        return cls(data.get("inline"), tuple(data.get("arns", ())))


@dataclass(frozen=True, slots=True)
class SessionTags:
    """The session tags of a role session (decision 0072): its requests'
    ``aws:PrincipalTag/<key>`` over its role's tags, and the keys that pass on to the sessions
    it assumes in turn (role chaining)."""

    tags: Tags = ()
    transitive: tuple[str, ...] = ()

    def to_json(self) -> str:
        data = {"tags": [list(tag) for tag in self.tags], "transitive": list(self.transitive)}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SessionTags | None:
        if text is None:
            return None
        data = json.loads(text)
        tags = tuple((key, value) for key, value in data.get("tags", ()))
        return cls(tags, tuple(data.get("transitive", ())))


# A session's source identity, as STS takes it: 2 to 64 of these, never ``aws:``-prefixed
# (decision 0089).
_SOURCE_IDENTITY = re.compile(r"[\w+=,.@-]{2,64}")


def valid_source_identity(value: str) -> bool:
    """Whether STS takes ``value`` as a session's source identity."""
    return bool(_SOURCE_IDENTITY.fullmatch(value)) and not value.lower().startswith("aws:")


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    """Temporary credentials (STS). The token is stored only as its SHA-256."""

    access_key_id: str
    tenant_id: str
    token_hash: str
    source: SessionSource
    mfa_present: bool
    created_at: datetime
    expires_at: datetime
    user_id: str | None = None  # GetSessionToken: the user (root included) it acts as
    role_id: str | None = None  # AssumeRole: the role it acts as
    role_session_name: str | None = None
    session_policy: SessionPolicy | None = None
    session_tags: SessionTags | None = None
    source_identity: str | None = None  # fixed for the session and its chain (decision 0089)


@dataclass(frozen=True, slots=True)
class LoginProfile:
    """A user's console password (argon2id hash) and its failure counter for backoff."""

    user_id: str
    password_hash: str
    created_at: datetime
    failed_attempts: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A console login; the bearer token is stored only as its SHA-256. A user's (``user_id``),
    or a federated one's — a role session or a federated user signed in through SAML or the
    federation endpoint (``session_key_id``: the access key id of the temporary credentials
    STS issued, whose principal the console then acts as)."""

    token_hash: str
    user_id: str | None
    tenant_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # absolute expiry; the idle one is last_seen_at + the idle timeout
    mfa_present: bool
    session_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    created_at: datetime

    @property
    def arn(self) -> str:
        return f"arn:andromede:platform::operator/{self.name}"


@dataclass(frozen=True, slots=True)
class Page(Generic[_T]):
    """One page of an AWS-style list: ``marker`` resumes after the last item when truncated."""

    items: list[_T]
    is_truncated: bool
    marker: str | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, once its signature is verified (or anonymous).

    Built on every request from the cached resolution of a key: plain fields, nothing computed
    lazily. ``tenant_id`` is the account id (None for anonymous and operators).
    """

    tenant_id: str | None
    user_id: str | None
    user_name: str | None
    kind: PrincipalKind
    arn: str
    mfa_present: bool = False
    session_expires_at: datetime | None = None
    session_name: str | None = None  # role sessions; a federated user's name
    session_policy: SessionPolicy | None = None  # sessions that were given one
    session_tags: SessionTags | None = None  # sessions that were given some
    source_identity: str | None = None  # role sessions that were given one (decision 0089)

    @property
    def is_anonymous(self) -> bool:
        return self.kind is PrincipalKind.ANONYMOUS

    @property
    def is_root(self) -> bool:
        return self.kind is PrincipalKind.ROOT

    @property
    def is_operator(self) -> bool:
        return self.kind is PrincipalKind.OPERATOR

    @property
    def is_operator_access(self) -> bool:
        """An operator in a tenant's data under an approved request (``session_name``)."""
        return self.kind is PrincipalKind.OPERATOR_ACCESS

    @property
    def account_id(self) -> str | None:
        return self.tenant_id

    @property
    def aws_user_id(self) -> str:
        """``aws:userid`` as AWS defines it: the account for root, ``ROLEID:session`` for roles,
        ``ACCOUNT:name`` for a federated user."""
        if self.kind is PrincipalKind.ROOT:
            return self.tenant_id or ""
        if self.kind is PrincipalKind.ROLE_SESSION:
            return f"{self.user_id}:{self.session_name}"
        if self.kind is PrincipalKind.FEDERATED_USER:
            return f"{self.tenant_id}:{self.session_name}"
        return self.user_id or ""

    @property
    def audit_details(self) -> dict[str, str]:
        """What an audit record of this principal's requests says of its session beyond its
        ARN: the source identity, which names who is behind a shared role (decision 0089); the
        IAM user a federated user acts for (decision 0093)."""
        if self.source_identity is None and self.kind not in _DETAILED_KINDS:
            return {}  # nearly every request: no dictionary to fill
        details: dict[str, str] = {}
        if self.kind is PrincipalKind.OPERATOR_ACCESS:
            # The tenant's trail names who and under which approval (decision 0107).
            details["operator"] = self.user_name or ""
            details["access_request"] = self.session_name or ""
        if self.source_identity is not None:
            details["source_identity"] = self.source_identity
        if self.kind is PrincipalKind.FEDERATED_USER and self.user_id is not None:
            details["federated_by"] = self.user_id
        return details

    @property
    def canonical_id(self) -> str:
        return canonical_id(self.tenant_id) if self.tenant_id else ""

    @property
    def display_name(self) -> str:
        return self.user_name or ""


_DETAILED_KINDS = frozenset({PrincipalKind.FEDERATED_USER, PrincipalKind.OPERATOR_ACCESS})

ANONYMOUS = Principal(
    tenant_id=None, user_id=None, user_name=None, kind=PrincipalKind.ANONYMOUS, arn="*"
)


def user_arn(tenant_id: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{tenant_id}:user{path}{name}"


def federated_user_arn(account_id: str, name: str) -> str:
    """A GetFederationToken session's ARN."""
    return f"arn:aws:sts::{account_id}:federated-user/{name}"


def role_arn(tenant_id: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{tenant_id}:role{path}{name}"


def instance_profile_arn(tenant_id: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{tenant_id}:instance-profile{path}{name}"


def oidc_provider_arn(tenant_id: str, url: str) -> str:
    return f"arn:aws:iam::{tenant_id}:oidc-provider/{url}"


def server_certificate_arn(tenant_id: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{tenant_id}:server-certificate{path}{name}"


def saml_provider_arn(tenant_id: str, name: str) -> str:
    return f"arn:aws:iam::{tenant_id}:saml-provider/{name}"


def policy_arn(tenant_id: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{tenant_id}:policy{path}{name}"


def valid_path(path: str) -> bool:
    """AWS paths: ``/`` or ``/a/b/``, printable ASCII, at most 512 characters."""
    return (
        1 <= len(path) <= 512
        and path.startswith("/")
        and path.endswith("/")
        and "//" not in path
        and all(0x21 <= ord(c) <= 0x7E for c in path)
    )


def canonical_id(tenant_id: str) -> str:
    """The 64-hex S3 canonical user id of a tenant (stable, derived, not secret)."""
    return hashlib.sha256(f"andromede-canonical:{tenant_id}".encode()).hexdigest()


def new_tenant_id() -> str:
    # The first digit is never 0, so the id survives tools that read it as a number.
    return secrets.choice("123456789") + "".join(secrets.choice(string.digits) for _ in range(11))


def new_entity_id(prefix: str) -> str:
    """AWS-style unique ids: AIDA (user), AGPA (group), AROA (role), ANPA (policy), AIPA
    (instance profile)."""
    return prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(17))


def new_user_id() -> str:
    return new_entity_id("AIDA")


def new_access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_session_access_key_id() -> str:
    return "ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(40))
