"""The request context: who asks, for what action on which resource, and the condition keys.

A :class:`RequestContext` is built once per request by the wire layer and read by
:func:`andromede.iam.policy.evaluate.evaluate`. The well-known global keys are fields
(``source_ip``, ``secure_transport``, ``mfa_present``, ...); any other key (``s3:prefix``,
``s3:x-amz-acl``, ``aws:SourceVpc``...) goes in ``keys``. Key names are case-insensitive as in
AWS; an entry in ``keys`` overrides the field of the same name.

A key whose value is ``None`` (or an empty list) is absent from the context, which is what the
``Null`` operator, ``...IfExists`` and the missing-key rules of the condition operators look at.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "ContextValue",
    "PrincipalType",
    "RequestContext",
    "account_root_arn",
    "value_as_string",
]

Scalar = str | bool | int | float | datetime | bytes
ContextValue = Scalar | Sequence[str]


class PrincipalType(enum.Enum):
    """Who signs the request; the values are those of the ``aws:PrincipalType`` key."""

    ANONYMOUS = "Anonymous"
    ROOT = "Account"
    USER = "User"
    ASSUMED_ROLE = "AssumedRole"
    FEDERATED_USER = "FederatedUser"
    # The bearer of an OpenID Connect token asking to assume a role (AssumeRoleWithWebIdentity):
    # ``principal_arn`` is the provider's ARN, which the trust policy's ``Federated`` names.
    WEB_IDENTITY = "WebIdentityUser"
    # The bearer of a SAML assertion asking to assume a role (AssumeRoleWithSAML, decision
    # 0095): ``principal_arn`` is the SAML provider's ARN, which ``Federated`` names.
    SAML_USER = "SAMLUser"
    SERVICE = "Service"
    # A platform operator in a tenant's data under the tenant's approved access request
    # (decisions 0107, 0114): no identity policy, so only a resource-policy statement naming
    # ``"*"`` can allow it (one naming the account delegates to IAM, which it is not part of);
    # ``principal_arn`` is the operator's own ARN (``aws:PrincipalArn``).
    PLATFORM_OPERATOR = "PlatformOperator"


def account_root_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def iso8601(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def value_as_string(value: Scalar) -> str:
    """How a typed context value reads to string operators and in policy variables."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso8601(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Everything the engine needs to know about one request (one action on one resource).

    ``principal_arn`` is the caller's ARN: ``arn:aws:iam::<account>:root`` for the tenant root,
    ``arn:aws:iam::<account>:user/<name>`` for an IAM user, and the session ARN
    ``arn:aws:sts::<account>:assumed-role/<role>/<session>`` for a role session (then
    ``role_arn`` is the role's ARN); ``None`` for an anonymous request. A service principal
    puts its service name (``s3.amazonaws.com``) in ``principal_arn``.

    ``resource`` is the ARN the action applies to; callers pass ``"*"`` for actions that have
    no resource (``s3:ListAllMyBuckets``), which only ``"Resource": "*"`` matches.
    """

    action: str
    resource: str
    principal_type: PrincipalType = PrincipalType.ANONYMOUS
    principal_arn: str | None = None
    principal_account: str | None = None
    role_arn: str | None = None
    user_id: str | None = None
    username: str | None = None
    canonical_user_id: str | None = None
    source_ip: str | None = None
    secure_transport: bool = False
    mfa_present: bool | None = None
    mfa_age_seconds: int | None = None
    requested_region: str | None = None
    current_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    keys: Mapping[str, ContextValue] = field(default_factory=dict)
    # Derived once here so that evaluation allocates nothing per statement.
    action_key: str = field(init=False, repr=False, compare=False)
    account_arn: str | None = field(init=False, repr=False, compare=False)
    # Everything principal matching depends on; a memo key for resource-policy matching. Plain
    # strings only (the type by its value): hashing an enum member is a Python-level call, and
    # this key is hashed on every request to a bucket with a policy.
    principal_key: tuple[str | None, ...] = field(init=False, repr=False, compare=False)
    _extra: Mapping[str, ContextValue] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "action_key", self.action.lower())
        account = self.principal_account
        object.__setattr__(self, "account_arn", account_root_arn(account) if account else None)
        object.__setattr__(
            self,
            "principal_key",
            (
                self.principal_type._value_,  # not .value: a property, Python code again
                self.principal_arn,
                self.role_arn,
                account,
                self.canonical_user_id,
            ),
        )
        extra = self.keys
        if any(not name.islower() for name in extra):
            extra = {name.lower(): value for name, value in extra.items()}
        object.__setattr__(self, "_extra", extra)

    @property
    def is_root(self) -> bool:
        return self.principal_type is PrincipalType.ROOT

    @property
    def is_anonymous(self) -> bool:
        return self.principal_type is PrincipalType.ANONYMOUS

    @property
    def is_session(self) -> bool:
        return self.principal_type is PrincipalType.ASSUMED_ROLE

    def get(self, key: str) -> ContextValue | None:
        """The value of a condition key (``key`` already lower-cased), or None when absent."""
        value: ContextValue | None
        if key in self._extra:
            value = self._extra[key]
        else:
            getter = _BUILTIN_KEYS.get(key)
            if getter is None:
                return None
            value = getter(self)
        if value is None:
            return None
        if isinstance(value, _LISTS) and not value:
            return None
        return value

    def get_string(self, key: str) -> str | None:
        """A single-valued key as a string (for policy variables); None if absent or a list."""
        value = self.get(key)
        if isinstance(value, str | bool | int | float | datetime | bytes):
            return value_as_string(value)
        return None  # absent, or multivalued: AWS gives such a variable no value


# A named tuple of types rather than ``list | tuple``, which builds a union object per call.
_LISTS = (list, tuple)


def _principal_arn(context: RequestContext) -> str | None:
    if context.principal_type is PrincipalType.ASSUMED_ROLE and context.role_arn:
        return context.role_arn  # aws:PrincipalArn names the role, not the session
    if context.principal_type in (
        PrincipalType.ANONYMOUS,
        PrincipalType.SERVICE,
        PrincipalType.WEB_IDENTITY,
        PrincipalType.SAML_USER,
    ):
        return None
    return context.principal_arn


def _principal_type(context: RequestContext) -> str | None:
    if context.principal_type is PrincipalType.SERVICE:
        return None
    return str(context.principal_type.value)


def _username(context: RequestContext) -> str | None:
    return context.username if context.principal_type is PrincipalType.USER else None


_BUILTIN_KEYS: dict[str, Callable[[RequestContext], ContextValue | None]] = {
    "aws:sourceip": lambda c: c.source_ip,
    "aws:securetransport": lambda c: c.secure_transport,
    "aws:multifactorauthpresent": lambda c: c.mfa_present,
    "aws:multifactorauthage": lambda c: c.mfa_age_seconds,
    "aws:currenttime": lambda c: c.current_time,
    "aws:epochtime": lambda c: int(c.current_time.timestamp()),
    "aws:principalarn": _principal_arn,
    "aws:principalaccount": lambda c: c.principal_account,
    "aws:principaltype": _principal_type,
    "aws:username": _username,
    "aws:userid": lambda c: c.user_id,
    "aws:requestedregion": lambda c: c.requested_region,
}
