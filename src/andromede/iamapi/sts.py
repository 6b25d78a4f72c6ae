"""STS actions: who am I, and temporary credentials.

GetCallerIdentity and GetSessionToken need no permission (as on AWS: the caller acts as itself).
GetFederationToken needs ``sts:GetFederationToken`` on the federated user it makes, whose
permissions are the calling user's within the session policies it passes: none without any
(decision 0093).
AssumeRole authorises itself: the role's trust policy is the resource policy of ``sts:AssumeRole``
on the role (see :meth:`QueryAuthoriser.authorise_assume_role`). Session policies (``Policy``,
``PolicyArns``) are kept with the session, and every request of the session must be allowed by
them as well as by the role's policies (decision 0071). Session tags (``Tags``,
``TransitiveTagKeys``) stand over the role's tags as the session's ``aws:PrincipalTag/<key>``,
need ``sts:TagSession`` as well as ``sts:AssumeRole``, and pass on through role chaining when
transitive (decision 0072). A ``SourceIdentity`` needs ``sts:SetSourceIdentity``, is the trust
policy's ``sts:SourceIdentity`` and every later request's ``aws:SourceIdentity``, and is fixed for
the session and those it assumes in turn (decision 0089).

AssumeRoleWithWebIdentity is the one action served unsigned: the OpenID Connect token is the
credential. The token is checked against the provider of its issuer in the role's account, then
the role's trust policy alone decides, naming the provider (decision 0087). The token's
``https://aws.amazon.com/tags`` claim gives the session its tags, and its
``https://aws.amazon.com/source_identity`` claim its source identity, as AssumeRole's parameters
do (decision 0089).

AssumeRoleWithSAML is served unsigned too: the IdP's signed SAML assertion is the credential. It
is checked against the provider its ``PrincipalArn`` names in the role's account, must list the
(role, provider) pair among its ``Role`` attribute's, is taken once, and the trust policy
decides with the ``saml:`` keys (decision 0095). GetAccessKeyInfo answers the account of the
caller's own keys only (decision 0095).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.federated_trust import federated_session, trust_actions
from andromede.iam.model import (
    Principal,
    PrincipalKind,
    Role,
    SessionPolicy,
    SessionTags,
    Tags,
    federated_user_arn,
    valid_source_identity,
)
from andromede.iam.policy import ContextValue
from andromede.iam.saml import VerifiedSamlAssertion
from andromede.iam.saml_providers import parse_saml_provider_arn
from andromede.iam.service import IssuedCredentials
from andromede.iam.tags import check_tags
from andromede.iamapi.errors import QueryError
from andromede.iamapi.iam_common import refuse_unsupported, request_tags
from andromede.iamapi.protocol import (
    UNSIGNED_DETAILS,
    UNSIGNED_PRINCIPAL,
    UNSIGNED_TENANT,
    Action,
    Call,
    ServiceSpec,
    iso8601,
)

__all__ = ["STS"]

SESSION_TOKEN_MIN, SESSION_TOKEN_MAX = 900, 129600
ROLE_SESSION_MIN, ROLE_SESSION_MAX = 900, 43200


async def get_caller_identity(call: Call) -> None:
    principal = call.principal
    call.result.element("Arn", principal.arn)
    # AWS answers aws:userid: the account id for root, ROLEID:session for a role session,
    # ACCOUNT:name for a federated user.
    call.result.element("UserId", principal.aws_user_id)
    call.result.element("Account", principal.tenant_id)


async def get_session_token(call: Call) -> None:
    issued = await call.identity.get_session_token(
        call.principal,
        _duration(call, SESSION_TOKEN_MIN, SESSION_TOKEN_MAX),
        call.get("SerialNumber"),
        call.get("TokenCode"),
    )
    _write_credentials(call, issued)


_FEDERATED_NAME = re.compile(r"[\w+=,.@-]{2,32}")


async def get_federation_token(call: Call) -> None:
    """Credentials of a federated user (``arn:aws:sts::ACCOUNT:federated-user/<Name>``) for
    a user calling with its long-term key: the user's permissions within the session policies
    (none without any), its tags under the session's. Needs ``sts:GetFederationToken`` on the
    federated user's ARN, and ``sts:TagSession`` too to pass tags (decision 0093)."""
    name = call.required("Name")
    if not _FEDERATED_NAME.fullmatch(name):
        raise QueryError(
            "ValidationError",
            "1 validation error detected: Value at 'name' failed to satisfy constraint: "
            "Member must be 2 to 32 characters of [\\w+=,.@-]",
        )
    duration = _duration(call, SESSION_TOKEN_MIN, SESSION_TOKEN_MAX)
    session_policy = _session_policy(call)
    asked_tags = check_tags(request_tags(call))
    principal = call.principal
    if principal.session_expires_at is not None or principal.kind not in (
        PrincipalKind.USER,
        PrincipalKind.ROOT,
    ):
        # AWS: only an IAM user's (or root's) own access key federates; a session never does.
        raise QueryError("AccessDenied", "Cannot call GetFederationToken with session credentials")
    federated_arn = federated_user_arn(call.tenant_id, name)
    call.context["resource"] = federated_arn
    keys = _request_tag_keys(asked_tags)
    session_tags = SessionTags(asked_tags, ()) if asked_tags else None
    for action in trust_actions("sts:GetFederationToken", session_tags, None):
        await call.allow(action, federated_arn, keys)
    packed = await _packed_size(call, call.tenant_id, session_policy, session_tags)
    issued = await call.identity.get_federation_token(
        principal,
        name,
        duration,
        session_policy=session_policy,
        session_tags=session_tags,
    )
    _write_credentials(call, issued)
    xml = call.result
    xml.open("FederatedUser")
    xml.element("FederatedUserId", issued.principal.aws_user_id)
    xml.element("Arn", issued.principal.arn)
    xml.close("FederatedUser")
    xml.element("PackedPolicySize", packed)


async def assume_role(call: Call) -> None:
    refuse_unsupported(call, "ProvidedContexts")
    session_policy = _session_policy(call)
    asked_tags = check_tags(request_tags(call))
    session_tags = _session_tags(call, asked_tags)
    external_id = _external_id(call)
    role_arn = call.required("RoleArn")
    call.context["resource"] = role_arn  # for the audit record
    source_identity = _chained_source_identity(call.principal, _source_identity(call), role_arn)
    try:
        role = await call.identity.get_role_by_arn(role_arn)
    except NoSuchEntity as exc:
        # As AWS: a role that does not exist is refused like one that does not trust the
        # caller, so no account's roles can be enumerated from outside.
        raise QueryError(
            "AccessDenied",
            f"User: {call.principal.arn} is not authorized to perform: sts:AssumeRole on "
            f"resource: {role_arn}",
        ) from exc
    # A trust policy's condition on sts:ExternalId (the confused-deputy guard of roles third
    # parties assume) sees what the caller sent; without one, the key is absent. The tags the
    # request sets are aws:RequestTag/<key> and aws:TagKeys, as for IAM's tagging calls.
    keys: dict[str, ContextValue] = {}
    if external_id is not None:
        keys["sts:ExternalId"] = external_id
    keys.update(_request_tag_keys(asked_tags))
    if source_identity is not None:
        keys["sts:SourceIdentity"] = source_identity
    for action in trust_actions("sts:AssumeRole", session_tags, source_identity):
        await call.authoriser.authorise_assume_role(
            call.principal,
            role,
            source_ip=call.source_ip or None,
            secure=call.secure,
            keys=keys,
            action=action,
        )
    packed = await _packed_size(call, role.tenant_id, session_policy, session_tags)
    issued = await call.identity.assume_role(
        call.principal,
        role,
        call.required("RoleSessionName"),
        _duration(call, ROLE_SESSION_MIN, ROLE_SESSION_MAX),
        call.get("SerialNumber"),
        call.get("TokenCode"),
        session_policy=session_policy,
        session_tags=session_tags,
        source_identity=source_identity,
    )
    _write_credentials(call, issued)
    _write_assumed_role_user(call, issued, packed)
    call.result.element("SourceIdentity", source_identity)


_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[!-~]*/)?([\w+=,.@-]{1,64})")
_TOKEN_MIN, _TOKEN_MAX = 4, 20_000  # STS's model: clientTokenType


async def assume_role_with_web_identity(call: Call) -> None:
    """Unsigned: the token vouches for the caller. In order, so that nothing about an account
    is told to one who holds no valid token of one of its providers: the parameters' shapes;
    the token against the provider of its issuer in the role's account; the role and its trust
    policy (AccessDenied, the same for a role that does not exist); the session policies."""
    if call.get("ProviderId") is not None:
        # AWS takes ProviderId only with OAuth 2.0 access tokens (Login with Amazon,
        # Facebook), never with an OpenID Connect ID token.
        raise QueryError(
            "InvalidParameterValue",
            "ProviderId is for OAuth 2.0 access tokens, which are not supported: leave it out "
            "for an OpenID Connect ID token",
        )
    role_arn = call.required("RoleArn")
    call.context["resource"] = role_arn
    session_name = call.required("RoleSessionName")
    if not _SESSION_NAME.fullmatch(session_name):
        raise QueryError(
            "ValidationError",
            "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
            "constraint: Member must be 2 to 64 characters of [\\w+=,.@-]",
        )
    token = call.required("WebIdentityToken")
    if not _TOKEN_MIN <= len(token) <= _TOKEN_MAX:
        raise QueryError(
            "ValidationError",
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy "
            f"constraint: Member must have length between {_TOKEN_MIN} and {_TOKEN_MAX}",
        )
    duration = _duration(call, ROLE_SESSION_MIN, ROLE_SESSION_MAX)
    session_policy = _session_policy(call)
    asked_identity = _source_identity(call)
    account = _role_account(role_arn)
    identity = await call.identity.verify_web_identity(account, token)
    provider = identity.provider
    # From here the issuer is known to be a provider of the account: its audit trail gets it.
    _audited_issuer(
        call, account, provider.arn, provider.issuer, identity.subject, identity.audience
    )
    source_identity = _token_source_identity(identity.source_identity, asked_identity)
    # The token's tags follow IAM's rules as AssumeRole's do; a claim of the wrong shape was
    # refused with the token.
    session_tags, keys = federated_session(
        identity.tags, identity.transitive_tag_keys, source_identity
    )
    role = await _role(call, role_arn)
    for action in trust_actions("sts:AssumeRoleWithWebIdentity", session_tags, source_identity):
        call.authoriser.authorise_web_identity(
            identity,
            role,
            source_ip=call.source_ip or None,
            secure=call.secure,
            keys=keys,
            action=action,
        )
    packed = await _checked_session(call, role, duration, session_policy, session_tags)
    issued = await call.identity.assume_role_with_web_identity(
        identity,
        role,
        session_name,
        duration,
        session_policy,
        session_tags=session_tags,
        source_identity=source_identity,
    )
    _write_federated_credentials(call, issued)
    xml = call.result
    xml.element("SubjectFromWebIdentityToken", identity.subject)
    _write_assumed_role_user(call, issued, packed)
    xml.element("Provider", provider.url)
    xml.element("Audience", identity.audience)
    xml.element("SourceIdentity", source_identity)


async def assume_role_with_saml(call: Call) -> None:
    """Unsigned: the assertion vouches for the caller. In order, so that nothing about an
    account is told to one who holds no valid assertion of one of its providers: the
    parameters' shapes; the assertion against the provider ``PrincipalArn`` names in the role's
    account; the (role, provider) pair among the assertion's; the role and its trust policy
    (AccessDenied, the same for a role that does not exist); the session policies; the
    assertion taken (once); the credentials."""
    refuse_unsupported(call, "MinimumSessionTokenSize")
    role_arn = call.required("RoleArn")
    call.context["resource"] = role_arn
    principal_arn = call.required("PrincipalArn")
    assertion = call.required("SAMLAssertion")
    duration = _duration(call, ROLE_SESSION_MIN, ROLE_SESSION_MAX)
    session_policy = _session_policy(call)
    account = _role_account(role_arn)
    provider = parse_saml_provider_arn(principal_arn)
    if provider is None:
        raise QueryError("ValidationError", f"{principal_arn} is not a valid SAML provider ARN")
    if provider[0] != account:
        # A provider is trusted only by the roles of its own account.
        raise QueryError(
            "AccessDenied", f"Not authorized to perform sts:AssumeRoleWithSAML on {role_arn}"
        )
    identity = await call.identity.verify_saml_assertion(account, provider[1], assertion)
    # From here the assertion is known to be signed by a provider of the account: its audit
    # trail gets it.
    _audited_issuer(
        call, account, identity.provider.arn, identity.issuer, identity.subject, identity.recipient
    )
    if not _pair_asserted(identity, role_arn, identity.provider.arn):
        raise QueryError(
            "AccessDenied",
            f"Not authorized to perform sts:AssumeRoleWithSAML on {role_arn}: the assertion's "
            "Role attribute does not name this role and provider",
        )
    source_identity = identity.source_identity
    session_tags, keys = federated_session(
        identity.tags, identity.transitive_tag_keys, source_identity
    )
    role = await _role(call, role_arn, "sts:AssumeRoleWithSAML")
    for action in trust_actions("sts:AssumeRoleWithSAML", session_tags, source_identity):
        call.authoriser.authorise_saml(
            identity,
            role,
            source_ip=call.source_ip or None,
            secure=call.secure,
            keys=keys,
            action=action,
        )
    packed = await _checked_session(call, role, duration, session_policy, session_tags)
    issued = await call.identity.assume_role_with_saml(
        identity,
        role,
        duration,
        session_policy,
        session_tags=session_tags,
        source_identity=source_identity,
    )
    _write_federated_credentials(call, issued)
    _write_assumed_role_user(call, issued, packed)
    xml = call.result
    xml.element("Subject", identity.subject)
    xml.element("SubjectType", identity.subject_type)
    xml.element("Issuer", identity.issuer)
    xml.element("Audience", identity.recipient)
    xml.element("NameQualifier", identity.name_qualifier)
    xml.element("SourceIdentity", source_identity)


async def _checked_session(
    call: Call,
    role: Role,
    duration: int | None,
    session_policy: SessionPolicy | None,
    session_tags: SessionTags | None,
) -> int | None:
    """The packed size of the session's policy and tags (checked, or None without either),
    and the duration checked against the role's maximum, for a federated session."""
    packed = await _packed_size(call, role.tenant_id, session_policy, session_tags)
    if duration is not None and duration > role.max_session_duration:
        raise QueryError(
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        )
    return packed


async def _packed_size(
    call: Call,
    tenant_id: str,
    session_policy: SessionPolicy | None,
    session_tags: SessionTags | None,
) -> int | None:
    """The packed size of the session's policies and tags, checked against the tenant's
    managed policies and IAM's limits; None without either (no PackedPolicySize)."""
    if session_policy is None and session_tags is None:
        return None
    return await call.identity.check_session(tenant_id, session_policy, session_tags)


def _session_policy(call: Call) -> SessionPolicy | None:
    """The session policies the request passes (``Policy``, ``PolicyArns``), None for none."""
    inline, arns = call.get("Policy"), tuple(call.members("PolicyArns", "arn"))
    return SessionPolicy(inline, arns) if inline is not None or arns else None


def _request_tag_keys(asked: Tags) -> dict[str, ContextValue]:
    """The condition keys of the tags a request sets: ``aws:RequestTag/<key>`` for each and
    ``aws:TagKeys`` when there are any, as for IAM's tagging calls."""
    keys: dict[str, ContextValue] = {f"aws:RequestTag/{key}": value for key, value in asked}
    if asked:
        keys["aws:TagKeys"] = [key for key, _ in asked]
    return keys


def _role_account(role_arn: str) -> str:
    """The account of a role ARN a federated caller names (before any of its providers is
    known: only its form is checked)."""
    matched = _ROLE_ARN.fullmatch(role_arn)
    if matched is None:
        raise QueryError("ValidationError", f"{role_arn} is not a valid role ARN")
    return matched.group(1)


def _audited_issuer(
    call: Call, account: str, provider_arn: str, issuer: str, subject: str, audience: str
) -> None:
    """An unsigned call's audit record, once its token or assertion is verified: the account
    and the provider that vouched, with the issuer, subject and audience it vouched with."""
    call.context[UNSIGNED_TENANT] = account
    call.context[UNSIGNED_PRINCIPAL] = provider_arn
    call.context[UNSIGNED_DETAILS] = {"issuer": issuer, "subject": subject, "audience": audience}


def _write_federated_credentials(call: Call, issued: IssuedCredentials) -> None:
    """A federated session's credentials, and its session in the call's audit record."""
    call.context[UNSIGNED_DETAILS]["session"] = issued.principal.arn
    call.context[UNSIGNED_DETAILS].update(issued.principal.audit_details)
    _write_credentials(call, issued)


def _write_assumed_role_user(call: Call, issued: IssuedCredentials, packed: int | None) -> None:
    xml = call.result
    xml.open("AssumedRoleUser")
    xml.element("AssumedRoleId", issued.principal.aws_user_id)
    xml.element("Arn", issued.principal.arn)
    xml.close("AssumedRoleUser")
    xml.element("PackedPolicySize", packed)


def _pair_asserted(identity: VerifiedSamlAssertion, role_arn: str, provider_arn: str) -> bool:
    """Whether the assertion's Role attribute holds the pair, in either order (AWS takes
    both)."""
    return any({first, second} == {role_arn, provider_arn} for first, second in identity.roles)


_ACCESS_KEY_ID = re.compile(r"\w{16,128}")


async def get_access_key_info(call: Call) -> None:
    """The account of one of the caller's account's keys, long-term or temporary. AWS
    answers it for any well-formed key id, which names its account on AWS; here another
    tenant's key and one that does not exist get the same NoSuchEntity, so a caller learns
    nothing about keys not of its own account (decision 0095)."""
    key_id = call.required("AccessKeyId")
    if not _ACCESS_KEY_ID.fullmatch(key_id):
        raise QueryError(
            "ValidationError",
            "1 validation error detected: Value at 'accessKeyId' failed to satisfy constraint: "
            "Member must be 16 to 128 of [\\w]",
        )
    await call.allow("sts:GetAccessKeyInfo", "*")
    call.result.element("Account", await call.identity.access_key_account(call.tenant_id, key_id))


def _source_identity(call: Call) -> str | None:
    """The request's ``SourceIdentity``: 2 to 64 of ``[\\w+=,.@-]``, not ``aws:``-prefixed."""
    value = call.get("SourceIdentity")
    if value is not None and not valid_source_identity(value):
        raise QueryError(
            "ValidationError",
            "1 validation error detected: Value at 'sourceIdentity' failed to satisfy "
            "constraint: Member must be 2 to 64 characters of [\\w+=,.@-], not starting "
            "with aws:",
        )
    return value


def _chained_source_identity(caller: Principal, asked: str | None, role_arn: str) -> str | None:
    """The new session's source identity: the calling session's, which no request changes
    (AccessDenied for another value, as AWS), or the one asked for."""
    carried = caller.source_identity
    if carried is None or asked is None or asked == carried:
        return carried if carried is not None else asked
    raise QueryError(
        "AccessDenied",
        f"User: {caller.arn} is not authorized to perform: sts:SetSourceIdentity on resource: "
        f"{role_arn}: the source identity of a session cannot be changed",
    )


def _token_source_identity(claimed: str | None, asked: str | None) -> str | None:
    """A web identity session's source identity: the token's claim, which the IdP vouches for;
    the request's ``SourceIdentity`` only without one, or the same (a caller never overrides
    what its IdP set)."""
    if claimed is not None and asked is not None and asked != claimed:
        raise QueryError(
            "InvalidParameterValue",
            "SourceIdentity differs from the source identity of the web identity token",
        )
    return claimed if claimed is not None else asked


async def _role(call: Call, role_arn: str, action: str = "sts:AssumeRoleWithWebIdentity") -> Role:
    """The role ``role_arn`` names, AccessDenied when there is none (as when its trust policy
    refuses), so roles cannot be told apart from outside."""
    try:
        role = await call.identity.get_role_by_arn(role_arn)
    except (NoSuchEntity, InvalidInput) as exc:
        raise QueryError(
            "AccessDenied", f"Not authorized to perform {action} on {role_arn}"
        ) from exc
    return role


_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


def _session_tags(call: Call, asked: Tags) -> SessionTags | None:
    """The session tags of the new session: those the caller's session passes on
    (transitive, in role chaining), then those asked for, which may not set a key passed on;
    ``TransitiveTagKeys`` must name tags asked for. None: no tags."""
    transitive = tuple(call.members("TransitiveTagKeys"))
    asked_keys = {key.lower() for key, _ in asked}
    if any(key.lower() not in asked_keys for key in transitive):
        raise QueryError(
            "InvalidParameterValue", "TransitiveTagKeys must name tags of the request's Tags"
        )
    inherited: Tags = ()
    carried = call.principal.session_tags
    if carried is not None and carried.transitive:
        passed = {key.lower() for key in carried.transitive}
        inherited = tuple(t for t in carried.tags if t[0].lower() in passed)
    if any(key.lower() in asked_keys for key, _ in inherited):
        raise QueryError(
            "InvalidParameterValue",
            "One or more of the specified transitive tag keys can't be set because it "
            "conflicts with a transitive tag key from the calling session",
        )
    tags = check_tags(inherited + asked)
    if not tags:
        return None
    return SessionTags(tags, tuple(key for key, _ in inherited) + transitive)


_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")


def _external_id(call: Call) -> str | None:
    """AssumeRole's ``ExternalId``: 2 to 1,224 of AWS's characters."""
    value = call.get("ExternalId")
    if value is not None and not _EXTERNAL_ID.fullmatch(value):
        raise QueryError(
            "ValidationError",
            "1 validation error detected: Value at 'externalId' failed to satisfy constraint: "
            "Member must be 2 to 1224 characters of [\\w+=,.@:/-]",
        )
    return value


def _duration(call: Call, minimum: int, maximum: int) -> int | None:
    if call.get("DurationSeconds") is None:
        return None  # the service's default for the kind of session
    return call.integer("DurationSeconds", minimum=minimum, maximum=maximum, default=minimum)


def _write_credentials(call: Call, issued: IssuedCredentials) -> None:
    xml = call.result
    xml.open("Credentials")
    xml.element("AccessKeyId", issued.access_key_id)
    xml.element("SecretAccessKey", issued.secret_access_key)
    xml.element("SessionToken", issued.session_token)
    xml.element("Expiration", iso8601(issued.expiration))
    xml.close("Credentials")


ACTIONS: Final[Mapping[str, Action]] = {
    "GetCallerIdentity": Action(
        get_caller_identity, mutating=False, authorised=False, federated_user_may=True
    ),
    "GetSessionToken": Action(get_session_token, mutating=True, authorised=False),
    "GetFederationToken": Action(get_federation_token, mutating=True, authorised=False),
    "AssumeRole": Action(assume_role, mutating=True, authorised=False),
    "AssumeRoleWithWebIdentity": Action(
        assume_role_with_web_identity, mutating=True, authorised=False, unsigned=True
    ),
    "AssumeRoleWithSAML": Action(
        assume_role_with_saml, mutating=True, authorised=False, unsigned=True
    ),
    # Authorises itself: sts:GetAccessKeyInfo, then only the caller's account's keys.
    "GetAccessKeyInfo": Action(get_access_key_info, mutating=False, authorised=False),
}

STS = ServiceSpec(
    name="sts",
    namespace="https://sts.amazonaws.com/doc/2011-06-15/",
    version="2011-06-15",
    actions=ACTIONS,
)
