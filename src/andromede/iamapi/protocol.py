"""AWS's Query protocol as IAM and STS speak it: parameters in, XML envelopes out.

A request is ``Action=…&Version=…`` plus the action's parameters, form-encoded in a POST body or
in the query string of a GET; lists are ``Name.member.N`` (N from 1), structures ``Name.Field``.
The answer wraps the action's result::

    <ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <ListUsersResult>…</ListUsersResult>
      <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
    </ListUsersResponse>
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from andromede.audit.service import AuditService
from andromede.http.query import MalformedQuery, parse_query_parameters
from andromede.http.xml import XmlWriter
from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue
from andromede.iam.service import IdentityService
from andromede.iamapi.authorise import QueryAuthoriser
from andromede.iamapi.errors import QueryError

__all__ = [
    "UNSIGNED_DETAILS",
    "UNSIGNED_PRINCIPAL",
    "UNSIGNED_TENANT",
    "Action",
    "Call",
    "Resource",
    "ServiceSpec",
    "iso8601",
    "parse_parameters",
]


def parse_parameters(raw_query: bytes, body: bytes) -> dict[str, str]:
    """The request's parameters: the query string's, then the form body's (the body wins)."""
    try:
        return parse_query_parameters(raw_query, body)
    except MalformedQuery as exc:
        raise QueryError("MalformedQueryString") from exc


def iso8601(moment: datetime) -> str:
    """AWS's timestamp form in Query answers: ``2026-11-29T10:57:18Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Call:
    """One action call: who, with what parameters, and the writer for its result."""

    action: str
    params: Mapping[str, str]
    principal: Principal
    request_id: str
    source_ip: str
    secure: bool
    session_token: str | None
    result: XmlWriter
    identity: IdentityService
    authoriser: QueryAuthoriser
    # Per-call facts: the resource authorised (for the audit record), the target user once
    # looked up.
    context: dict[str, Any] = field(default_factory=dict)
    # The audit trail, which the service-last-accessed summary reads (decision 0193).
    audit: AuditService | None = None
    # The request's X-Amzn-Trace-Id: SNS's Publish keeps it with the message, its Lambda
    # lineage (decision 0336).
    trace_header: str | None = None

    @property
    def tenant_id(self) -> str:
        """The caller's account: every IAM action acts on it and on nothing else."""
        if self.principal.tenant_id is None:
            raise QueryError("AccessDenied")
        return self.principal.tenant_id

    async def allow(
        self, action: str, resource: str, keys: Mapping[str, ContextValue] | None = None
    ) -> None:
        """AccessDenied unless the caller's policies allow ``action`` on ``resource``."""
        await self.authoriser.authorise(
            self.principal,
            action,
            resource,
            source_ip=self.source_ip or None,
            secure=self.secure,
            keys=keys,
        )

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def required(self, name: str) -> str:
        value = self.params.get(name)
        if value is None or value == "":
            raise QueryError(
                "ValidationError",
                f"1 validation error detected: Value null at '{_camel(name)}' failed to satisfy "
                "constraint: Member must not be null",
            )
        return value

    def integer(self, name: str, *, minimum: int, maximum: int, default: int) -> int:
        raw = self.params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise QueryError(
                "ValidationError", f"Value '{raw}' at '{_camel(name)}' is not an integer"
            ) from exc
        if not minimum <= value <= maximum:
            raise QueryError(
                "ValidationError",
                f"1 validation error detected: Value '{value}' at '{_camel(name)}' failed to "
                f"satisfy constraint: Member must have value between {minimum} and {maximum}",
            )
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        raw = self.params.get(name)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false"):
            raise QueryError("ValidationError", f"Value '{raw}' at '{_camel(name)}' is not a bool")
        return raw.lower() == "true"

    def members(self, name: str, field_name: str | None = None) -> list[str]:
        """``Name.member.1``, ``Name.member.2``… (or ``Name.member.N.Field``) in order."""
        values: list[str] = []
        index = 1
        while True:
            key = f"{name}.member.{index}" + (f".{field_name}" if field_name else "")
            value = self.params.get(key)
            if value is None:
                return values
            values.append(value)
            index += 1


# What an unsigned call files in its context for its audit record: the account, the principal
# and the details (str -> str) it is recorded with.
UNSIGNED_TENANT = "unsigned_tenant"
UNSIGNED_PRINCIPAL = "unsigned_principal"
UNSIGNED_DETAILS = "unsigned_details"
# The account owning the resource a signed call reached in another account (an SNS topic its
# policy shares, decision 0168): the call is recorded in that account's log too.
RESOURCE_ACCOUNT = "resource_account"

Handler = Callable[[Call], Awaitable[None]]
# The ARN of the resource a call acts on, from its parameters (looked up where the ARN
# carries a path the parameters do not).
Resource = Callable[[Call], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Action:
    handler: Handler
    mutating: bool
    # Actions such as DeleteUser answer an empty envelope with no <…Result> element.
    has_result: bool = True
    # Whether the engine must allow "<service>:<Action>" (iam:CreateUser) on ``resource`` ("*"
    # when None) before the handler runs. False only for calls AWS lets anyone make
    # (sts:GetCallerIdentity) or that authorise themselves (sts:AssumeRole reads the trust policy).
    authorised: bool = True
    resource: Resource | None = None
    # Whether the action is served without a signature: only STS AssumeRoleWithWebIdentity,
    # whose token is the credential (decision 0087). Every other unsigned call is refused.
    unsigned: bool = False
    # Whether a GetFederationToken session may call it: only sts:GetCallerIdentity (AWS).
    federated_user_may: bool = False


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One Query service (IAM, STS): its XML namespace, API version and action table."""

    name: str
    namespace: str
    version: str
    actions: Mapping[str, Action]
    # IAM is global: tools signing for AWS sign it for us-east-1 whatever the endpoint's region.
    also_accepted_regions: tuple[str, ...] = ()


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]
