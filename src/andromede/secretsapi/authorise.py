"""Authorisation of Secrets Manager calls (decision 0190).

A call on a secret is decided as AWS decides it: the caller's identity policies and the
secret's resource policy, an explicit deny in any winning; within the secret's account either
may allow, across accounts both must (the policy engine's rule for a resource of another
account). The request context carries ``secretsmanager:Name``, ``secretsmanager:SecretId``
(the ARN), and each tag as ``secretsmanager:ResourceTag/<key>`` and ``aws:ResourceTag/<key>``.
A call on no secret (CreateSecret, ListSecrets, GetRandomPassword…) is on ``*``; CreateSecret
also sees ``secretsmanager:Name`` and the request's tags.

A secret of another account is reached by its ARN only (a name is always the caller's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal
from andromede.iam.policy import (
    ContextValue,
    MalformedPolicy,
    PolicyKind,
    load_policy,
    parse_policy,
)
from andromede.iam.policy.public import is_public
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.secrets.errors import MalformedPolicy as MalformedSecretPolicy
from andromede.secrets.errors import PublicPolicy
from andromede.secrets.model import Secret
from andromede.secretsapi.errors import SecretsWireError

__all__ = ["KeyUser", "SecretsAuthoriser", "check_policy", "validation_errors"]


@dataclass(frozen=True, slots=True)
class KeyUser:
    """Who a seal or an open uses the secret's KMS key for: the request's principal, where it
    came from and the request's id, for the key policy's conditions and the audit record."""

    principal: Principal
    source_ip: str | None
    secure: bool
    request_id: str


def check_policy(text: str, *, max_size: int, block_public: bool) -> None:
    """MalformedPolicyDocumentException for a text that is no valid resource policy;
    PublicPolicyException for a policy open to anyone when ``block_public``."""
    if len(text.encode()) > max_size:
        raise MalformedSecretPolicy(f"The resource policy is larger than {max_size} bytes.")
    try:
        document = parse_policy(text, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise MalformedSecretPolicy(exc.message) from exc
    if block_public and is_public(document):
        raise PublicPolicy(
            "The BlockPublicPolicy parameter is set to true, and the resource policy did not "
            "prevent broad access to the secret."
        )


def validation_errors(text: str, *, max_size: int) -> list[dict[str, str]]:
    """ValidateResourcePolicy's findings: empty when the policy is valid and not public."""
    try:
        check_policy(text, max_size=max_size, block_public=True)
    except MalformedSecretPolicy as exc:
        return [{"CheckName": "SYNTAX_CHECK", "ErrorMessage": str(exc)}]
    except PublicPolicy as exc:
        return [{"CheckName": "PUBLIC_POLICY", "ErrorMessage": str(exc)}]
    return []


def secret_keys(secret: Secret) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {
        "secretsmanager:Name": secret.name,
        "secretsmanager:SecretId": secret.arn,
    }
    for key, value in secret.tags:
        keys[f"secretsmanager:ResourceTag/{key}"] = value
        keys[f"aws:ResourceTag/{key}"] = value
    return keys


class SecretsAuthoriser:
    def __init__(self, identity: IdentityService, region: str) -> None:
        self._identity = identity
        self._region = region

    async def authorise(
        self,
        user: KeyUser,
        action: str,
        secret: Secret | None,
        request_keys: Mapping[str, ContextValue] | None = None,
        region: str | None = None,
        *,
        other_resource: str | None = None,
    ) -> None:
        """AccessDeniedException unless ``user`` may do ``action`` on ``secret`` (None:
        ``*``), its identity policies or the secret's policy allowing; ``other_resource``:
        an action on another service's resource the call needs (RotateSecret's
        ``lambda:InvokeFunction`` on its function, decision 0303), by identity policies."""
        principal = user.principal
        resource = other_resource or ("*" if secret is None else secret.arn)
        if principal.is_anonymous or principal.is_operator or principal.tenant_id is None:
            raise _denied(principal, action, resource)
        policies = await self._identity.policies_for(principal)
        keys: dict[str, ContextValue] = dict(principal_keys(policies))
        if secret is not None:
            keys.update(secret_keys(secret))
        keys.update(request_keys or {})
        context = principal_context(
            principal,
            action=action,
            resource=resource,
            source_ip=user.source_ip,
            secure=user.secure,
            region=region or self._region,
            keys=keys,
        )
        # Through a Secrets Manager endpoint its policy bounds every call (decision 0174's
        # session-48 addendum): no identity or secret policy makes up for it.
        refusal = endpoint_refusal(context)
        if refusal is not None:
            raise _denied(principal, action, resource, refusal)
        text = None if secret is None else secret.policy
        if not policies_allow(
            context,
            policies,
            resource_policy=None if not text else load_policy(text, kind=PolicyKind.RESOURCE),
            resource_account=None if secret is None else secret.tenant_id,
        ):
            raise _denied(principal, action, resource)


def _denied(
    principal: Principal, action: str, resource: str, why: str | None = None
) -> SecretsWireError:
    """AccessDeniedException in AWS's words; ``why`` the endpoint policy's refusal."""
    return SecretsWireError(
        "AccessDeniedException",
        f"User: {principal.arn} is not authorized to perform: {action} on resource: "
        f"{resource} " + (why or f"because no identity-based policy allows the {action} action"),
    )
