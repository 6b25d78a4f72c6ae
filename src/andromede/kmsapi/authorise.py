"""KMS authorisation: key policies evaluated together with IAM policies, as AWS KMS does.

AWS KMS differs from S3 in one rule: the key policy is authoritative. No principal — the
account's root user included — may use a key unless its key policy allows it, either by naming
the principal (enough on its own within the key's account), or by naming the account
(``arn:aws:iam::ACCOUNT:root``), which delegates to the account's IAM policies: then an IAM
policy must allow the call too. The default key policy does the latter, so out of the box IAM
decides. A key policy without the account statement means IAM policies alone grant nothing.
Across accounts, both sides must allow (the key policy naming the caller or its account, and
the caller's IAM policies), exactly the engine's cross-account rule. Explicit deny anywhere wins.

The engine (``andromede.iam.policy.evaluate``) treats a same-account resource policy S3's way
(identity allow alone suffices; root always allowed), so the KMS rule is composed from two
evaluations: one as if the key belonged to another account (both sides must allow; root needs
the key policy) and one with no identity policies (a statement naming the caller directly).

Through an Interface VPC endpoint to KMS (decision 0174) the endpoint's policy must allow the
call as well, and a grant cannot make up for it; ``aws:SourceVpce``, ``aws:SourceVpc`` and
``aws:VpcSourceIp`` are in the context of every policy, ``aws:SourceIp`` is not.

Actions without a key (CreateKey, ListKeys, ListAliases, GenerateRandom) are decided by the
caller's identity policies alone; the root user may do them in its own account.

A platform operator under a tenant's approved access request (decision 0114) reaches KMS only
through S3, for ``kms:Decrypt`` of an SSE-KMS object of the request's scope, and only after S3
checked that the tenant's approval included SSE-KMS objects: then the key policy alone decides,
as for a caller with no identity policy — a statement naming ``"*"`` (narrowed by conditions,
``aws:PrincipalType`` ``PlatformOperator``, ``aws:PrincipalArn`` the operator's ARN) allows; the
default key policy, naming only the account, does not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from andromede.iam.endpoint_origin import endpoint_refusal, origin_for, origin_keys
from andromede.iam.model import Principal, PrincipalKind, PrincipalPolicies
from andromede.iam.policy import (
    ContextValue,
    MalformedPolicy,
    Outcome,
    PolicyKind,
    RequestContext,
    SizeLimit,
    SizeMeasure,
    evaluate,
    load_policy,
    parse_policy,
)
from andromede.iam.policy_context import (
    LoadedPolicies,
    loaded_policies,
    principal_keys,
    principal_type,
    session_role_arn,
)
from andromede.kms.customer_keys import Caller, Decision, RequestKeys
from andromede.kms.keys_errors import CmkAccessDenied, MalformedKeyPolicy
from andromede.kms.keys_model import CustomerKey
from andromede.kms.keys_store import CustomerKeyStore

__all__ = [
    "KEY_POLICY_MAX",
    "MAX_RESOURCE_ALIASES",
    "IdentityPolicies",
    "KeyAliases",
    "KmsAuthoriser",
    "alias_names",
]

# The identity-policy documents of a principal (JSON texts), from the identity service.
IdentityPolicies = Callable[[Principal], Awaitable[PrincipalPolicies]]
# The names of the aliases that point at a key (``kms:ResourceAliases``), from the key store.
KeyAliases = Callable[[CustomerKey], Awaitable[Sequence[str]]]
# AWS evaluates kms:ResourceAliases over at most this many aliases of a key.
MAX_RESOURCE_ALIASES = 50
_MENTIONS_MEMO_SIZE = 4096

KEY_POLICY_MAX = SizeLimit(32 * 1024, SizeMeasure.BYTES)  # AWS KMS's key policy limit
_NO_REQUEST_KEYS: RequestKeys = {}
_DECISIONS = {
    Outcome.ALLOW: Decision.ALLOW,
    Outcome.IMPLICIT_DENY: Decision.DENY,
    Outcome.EXPLICIT_DENY: Decision.EXPLICIT_DENY,
}
# An account id no tenant has: evaluating as if the key were foreign makes both sides count.
_FOREIGN = "000000000000-kms"
# Who may use a tenant's keys at all: anonymous callers and platform operators never do.
_TENANT_PRINCIPALS = frozenset(
    {
        PrincipalKind.ROOT,
        PrincipalKind.USER,
        PrincipalKind.ROLE_SESSION,
        PrincipalKind.FEDERATED_USER,
    }
)


def alias_names(store: CustomerKeyStore) -> KeyAliases:
    """``kms:ResourceAliases`` from the key store: the names of a key's aliases."""

    async def names(key: CustomerKey) -> list[str]:
        # The key's own record (one region's) and that region's aliases: a multi-Region key
        # has other aliases in each region (decision 0138).
        aliases = await store.list_aliases(
            key.tenant_id,
            key.region,
            key_id=key.record_id,
            after=None,
            limit=MAX_RESOURCE_ALIASES,
        )
        return [alias.name for alias in aliases]

    return names


class KmsAuthoriser:
    def __init__(
        self,
        identity_policies: IdentityPolicies,
        region: str,
        key_aliases: KeyAliases | None = None,
    ) -> None:
        """``key_aliases`` answers ``kms:ResourceAliases``; it is asked only when one of the
        policies of the call mentions that key, so other calls pay no alias lookup."""
        self._identity_policies = identity_policies
        self._region = region
        self._key_aliases = key_aliases
        # Policy text → whether it mentions kms:ResourceAliases (texts repeat call after call).
        self._mentions: dict[str, bool] = {}

    def _mention_aliases(self, texts: Sequence[str]) -> bool:
        for text in texts:
            mentions = self._mentions.get(text)
            if mentions is None:
                if len(self._mentions) >= _MENTIONS_MEMO_SIZE:
                    self._mentions.clear()
                mentions = self._mentions[text] = "kms:resourcealiases" in text.lower()
            if mentions:
                return True
        return False

    def check_policy(self, text: str) -> None:
        try:
            parse_policy(text, kind=PolicyKind.RESOURCE, max_size=KEY_POLICY_MAX)
        except MalformedPolicy as exc:
            raise MalformedKeyPolicy(str(exc)) from None

    async def allowed(
        self,
        caller: Caller,
        action: str,
        key: CustomerKey | None,
        encryption_context: Mapping[str, str],
        request: RequestKeys = _NO_REQUEST_KEYS,
    ) -> bool:
        decision = await self.decide(caller, action, key, encryption_context, request)
        return decision is Decision.ALLOW

    async def decide(
        self,
        caller: Caller,
        action: str,
        key: CustomerKey | None,
        encryption_context: Mapping[str, str],
        request: RequestKeys = _NO_REQUEST_KEYS,
    ) -> Decision:
        principal = caller.principal
        if isinstance(principal, Principal) and principal.kind is PrincipalKind.OPERATOR_ACCESS:
            return await self._operator_access(caller, principal, action, key, encryption_context)
        if not isinstance(principal, Principal) or principal.kind not in _TENANT_PRINCIPALS:
            # Anonymous callers and platform operators use no tenant key, nor any grant.
            return Decision.EXPLICIT_DENY
        context, (identity, boundary, session) = await self._prepared(
            caller, principal, action, key, encryption_context, request
        )
        refusal = endpoint_refusal(context)
        if refusal is not None:
            # Through a KMS endpoint whose policy does not allow it: no grant may either, and
            # AWS's message names the endpoint's policy (not "no policy allows").
            raise CmkAccessDenied(
                f"User: {caller.arn} is not authorized to perform: {action} on resource: "
                f"{context.resource} {refusal}"
            )
        if key is None:
            return _DECISIONS[
                evaluate(
                    context,
                    identity_policies=identity,
                    permissions_boundary=boundary,
                    session_policy=session,
                ).outcome
            ]
        key_policy = load_policy(key.policy, kind=PolicyKind.RESOURCE)
        if key.tenant_id != principal.tenant_id:
            return _DECISIONS[
                evaluate(
                    context,
                    identity_policies=identity,
                    permissions_boundary=boundary,
                    session_policy=session,
                    resource_policy=key_policy,
                    resource_account=key.tenant_id,
                ).outcome
            ]
        both = evaluate(
            context,
            identity_policies=identity,
            permissions_boundary=boundary,
            session_policy=session,
            resource_policy=key_policy,
            resource_account=_FOREIGN,
        )
        if both.outcome is not Outcome.IMPLICIT_DENY:
            return _DECISIONS[both.outcome]  # allowed by key policy and IAM, or denied
        if principal.kind is PrincipalKind.ROOT:
            return Decision.DENY
        # A key-policy statement naming the user grants without IAM (within the account); one
        # naming a role, only within the role's permissions boundary.
        return _DECISIONS[
            evaluate(
                context,
                permissions_boundary=boundary,
                session_policy=session,
                resource_policy=key_policy,
                resource_account=key.tenant_id,
            ).outcome
        ]

    async def _operator_access(
        self,
        caller: Caller,
        principal: Principal,
        action: str,
        key: CustomerKey | None,
        encryption_context: Mapping[str, str],
    ) -> Decision:
        """An operator's decrypt of its tenant's SSE-KMS object through S3: the key policy
        alone, naming ``"*"``; anything else, another account's key included, never."""
        if (
            action != "kms:Decrypt"
            or key is None
            or key.tenant_id != principal.tenant_id
            or caller.via_service is None
        ):
            return Decision.EXPLICIT_DENY
        context, (_, boundary, session) = await self._prepared(
            caller, principal, action, key, encryption_context, _NO_REQUEST_KEYS
        )
        return _DECISIONS[
            evaluate(
                context,
                permissions_boundary=boundary,
                session_policy=session,
                resource_policy=load_policy(key.policy, kind=PolicyKind.RESOURCE),
                resource_account=key.tenant_id,
            ).outcome
        ]

    async def identity_allows(
        self,
        caller: Caller,
        action: str,
        key: CustomerKey,
        encryption_context: Mapping[str, str],
        request: RequestKeys = _NO_REQUEST_KEYS,
    ) -> bool:
        principal = caller.principal
        if not isinstance(principal, Principal) or principal.kind not in _TENANT_PRINCIPALS:
            return False
        if principal.kind is PrincipalKind.ROOT:
            return False  # the account itself: a grant naming it matches it directly
        context, (identity, boundary, session) = await self._prepared(
            caller, principal, action, key, encryption_context, request
        )
        decision = evaluate(
            context,
            identity_policies=identity,
            permissions_boundary=boundary,
            session_policy=session,
        )
        return decision.outcome is Outcome.ALLOW

    async def _prepared(
        self,
        caller: Caller,
        principal: Principal,
        action: str,
        key: CustomerKey | None,
        encryption_context: Mapping[str, str],
        request: RequestKeys,
    ) -> tuple[RequestContext, LoadedPolicies]:
        """The request's context, and the caller's identity policies, permissions boundary and
        session policies, parsed."""
        policies = await self._identity_policies(principal)
        texts = [
            *policies.documents,
            *([policies.boundary] if policies.boundary else []),
            *(policies.session or ()),
        ]
        if (
            key is not None
            and self._key_aliases is not None
            and self._mention_aliases([key.policy, *texts])
        ):
            names = list(await self._key_aliases(key))[:MAX_RESOURCE_ALIASES]
            request = {**request, "kms:ResourceAliases": names}
        if policies.tags or policies.source_identity:  # aws:PrincipalTag, aws:SourceIdentity
            request = {**request, **principal_keys(policies)}
        context = self._context(caller, principal, action, key, encryption_context, request)
        return context, loaded_policies(policies)

    def _context(
        self,
        caller: Caller,
        principal: Principal,
        action: str,
        key: CustomerKey | None,
        encryption_context: Mapping[str, str],
        request: RequestKeys,
    ) -> RequestContext:
        keys: dict[str, ContextValue] = {"kms:CallerAccount": caller.account_id}
        if caller.via_service is not None:
            keys["kms:ViaService"] = caller.via_service
        for name, value in encryption_context.items():
            keys[f"kms:EncryptionContext:{name}"] = value
        if encryption_context:
            keys["kms:EncryptionContextKeys"] = sorted(encryption_context)
        if key is not None:
            # The key's own attributes, for attribute-based policies (tags) and key-type rules.
            for tag_key, tag_value in key.tags:
                keys[f"aws:ResourceTag/{tag_key}"] = tag_value
            keys["kms:KeySpec"] = key.key_spec
            keys["kms:KeyUsage"] = key.key_usage
            keys["kms:KeyOrigin"] = key.origin
            keys["kms:MultiRegion"] = key.multi_region
            if key.multi_region_type is not None:
                keys["kms:MultiRegionKeyType"] = key.multi_region_type.value
        keys.update(request)
        source_ip = caller.source_ip
        origin = origin_for("kms")
        if origin is not None:
            # Through a KMS endpoint (decision 0174): its keys, and no aws:SourceIp.
            keys.update(origin_keys(origin))
            source_ip = None
        return RequestContext(
            action=action,
            resource=key.arn if key is not None else "*",
            principal_type=principal_type(principal.kind),
            principal_arn=principal.arn,
            principal_account=principal.tenant_id,
            role_arn=session_role_arn(principal),
            user_id=principal.aws_user_id,
            username=principal.user_name if principal.kind is PrincipalKind.USER else None,
            mfa_present=principal.mfa_present,
            canonical_user_id=principal.canonical_id,
            source_ip=source_ip,
            secure_transport=caller.secure,
            requested_region=caller.region or self._region,
            keys=keys,
        )
