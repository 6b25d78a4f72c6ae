"""SAML 2.0 providers, and the federated identities their assertions vouch for (part of
IdentityService; decision 0095).

A provider is an IdP's metadata document the account trusts, under a name: its entity id and
signing certificates are read from it (``saml_metadata.py``). STS AssumeRoleWithSAML asks
:meth:`verify_saml_assertion` to check an assertion against the provider its ``PrincipalArn``
names **in the role's account** — another account's provider is never consulted, so one
tenant's IdP can never open another tenant's roles — and then :meth:`assume_role_with_saml`
takes the assertion (once: a replay is refused, on every gateway sharing the database) and
issues the role's credentials, once the role's trust policy has allowed the provider (the
adapter decides it with the policy engine).

Validation follows IAM: a name of 1 to 128 of ``[\\w._-]``; a metadata document of at least
1,000 characters, at most ``saml_max_metadata_size`` bytes; at most 100 providers per account.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Final

from andromede.iam.credentials import ROLE_SESSION_DEFAULT, CredentialsMixin, IssuedCredentials
from andromede.iam.errors import (
    AccessDenied,
    ConcurrentModification,
    EntityAlreadyExists,
    InvalidIdentityToken,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
)
from andromede.iam.model import (
    Role,
    SamlProvider,
    SessionPolicy,
    SessionSource,
    SessionTags,
    Tags,
)
from andromede.iam.saml import VerifiedSamlAssertion, decode_response, verify_response
from andromede.iam.saml_metadata import parse_metadata
from andromede.iam.tags import check_tags, merged, without

__all__ = ["SAML_PROVIDERS_MAX", "SamlProvidersMixin", "parse_saml_provider_arn"]

SAML_PROVIDERS_MAX: Final = 100  # AWS's quota of SAML providers per account
_NAME = re.compile(r"[\w._-]{1,128}")
_ARN = re.compile(r"arn:aws:iam::(\d{12}):saml-provider/([\w._-]{1,128})")
_CHANGE_ATTEMPTS: Final = 5
_UUID_ALPHABET = string.ascii_uppercase + string.digits


def parse_saml_provider_arn(arn: str) -> tuple[str, str] | None:
    """(account, name) of a SAML provider's ARN; None for what is none."""
    matched = _ARN.fullmatch(arn)
    return None if matched is None else (matched.group(1), matched.group(2))


class SamlProvidersMixin(CredentialsMixin):
    # -- the IAM actions -----------------------------------------------------------------------
    async def create_saml_provider(
        self, tenant_id: str, name: str, metadata: str, tags: Tags = ()
    ) -> SamlProvider:
        if not _NAME.fullmatch(name):
            raise InvalidInput("The SAML provider's name must be 1 to 128 of [\\w._-]")
        parsed = parse_metadata(metadata, self._limits.saml_max_metadata_size)
        provider = SamlProvider(
            tenant_id=tenant_id,
            name=name,
            uuid="".join(secrets.choice(_UUID_ALPHABET) for _ in range(26)),
            metadata=metadata,
            entity_id=parsed.entity_id,
            certificates=parsed.certificates,
            created_at=self._now(),
            valid_until=parsed.valid_until,
            tags=check_tags(tags),
        )
        if len(await self._store.list_saml_providers(tenant_id)) >= SAML_PROVIDERS_MAX:
            raise LimitExceeded(
                f"Cannot exceed quota for SamlProvidersPerAccount: {SAML_PROVIDERS_MAX}"
            )
        try:
            await self._store.create_saml_provider(provider)
        except EntityAlreadyExists as exc:
            raise EntityAlreadyExists(f"SAMLProvider {name} already exists.") from exc
        return provider

    async def get_saml_provider(self, tenant_id: str, arn: str) -> SamlProvider:
        """NoSuchEntity for another account's ARN too; InvalidInput for what is no such ARN."""
        parsed = parse_saml_provider_arn(arn)
        if parsed is None:
            raise InvalidInput(f"ARN {arn} is not valid.")
        account, name = parsed
        provider = None
        if account == tenant_id:
            provider = await self._store.get_saml_provider(tenant_id, name)
        if provider is None:
            raise NoSuchEntity(f"SAMLProvider not found for arn {arn}")
        return provider

    async def list_saml_providers(self, tenant_id: str) -> list[SamlProvider]:
        return await self._store.list_saml_providers(tenant_id)

    async def update_saml_provider(self, tenant_id: str, arn: str, metadata: str) -> SamlProvider:
        parsed = parse_metadata(metadata, self._limits.saml_max_metadata_size)
        return await self._change_saml_provider(
            tenant_id,
            arn,
            lambda p: replace(
                p,
                metadata=metadata,
                entity_id=parsed.entity_id,
                certificates=parsed.certificates,
                valid_until=parsed.valid_until,
            ),
        )

    async def delete_saml_provider(self, tenant_id: str, arn: str) -> None:
        provider = await self.get_saml_provider(tenant_id, arn)
        if not await self._store.delete_saml_provider(tenant_id, provider.name):
            raise NoSuchEntity(f"SAMLProvider not found for arn {arn}")

    async def tag_saml_provider(self, tenant_id: str, arn: str, tags: Tags) -> None:
        await self._change_saml_provider(
            tenant_id, arn, lambda p: replace(p, tags=merged(p.tags, tags))
        )

    async def untag_saml_provider(self, tenant_id: str, arn: str, keys: list[str]) -> None:
        await self._change_saml_provider(
            tenant_id, arn, lambda p: replace(p, tags=without(p.tags, keys))
        )

    async def _change_saml_provider(
        self, tenant_id: str, arn: str, change: Callable[[SamlProvider], SamlProvider]
    ) -> SamlProvider:
        """Read, change, write only if unchanged since (compare-and-set), a few times, then
        ConcurrentModification (as for OIDC providers, decision 0087)."""
        for _ in range(_CHANGE_ATTEMPTS):
            provider = await self.get_saml_provider(tenant_id, arn)
            changed = change(provider)
            if changed == provider or await self._store.update_saml_provider(changed, provider):
                return changed
        raise ConcurrentModification(
            "The provider was changed by another request meanwhile; try again"
        )

    # -- federated identities (STS AssumeRoleWithSAML) -----------------------------------------
    async def verify_saml_assertion(
        self, account_id: str, provider_name: str, assertion: str
    ) -> VerifiedSamlAssertion:
        """The identity the base64 ``assertion`` proves, checked against the provider
        ``provider_name`` of ``account_id`` (the role's account, never another). Not yet taken:
        :meth:`assume_role_with_saml` takes it. InvalidIdentityToken, ExpiredIdentityToken,
        IdpRejectedClaim."""
        document = decode_response(assertion)
        provider = await self._store.get_saml_provider(account_id, provider_name)
        if provider is None or not await self._tenant_active(account_id):
            raise InvalidIdentityToken("No SAML provider of that ARN in the role's account")
        limits = self._limits
        verified = verify_response(
            document,
            provider,
            recipients=frozenset(limits.saml_recipients),
            audiences=frozenset(limits.saml_audiences),
            now=self._now(),
            clock_skew=limits.saml_clock_skew,
        )
        tag_keys = {key.lower() for key, _ in verified.tags}
        if any(key.lower() not in tag_keys for key in verified.transitive_tag_keys):
            raise InvalidIdentityToken("TransitiveTagKeys must name PrincipalTag attributes")
        return verified

    async def assume_role_with_saml(
        self,
        identity: VerifiedSamlAssertion,
        role: Role,
        duration_seconds: int | None = None,
        session_policy: SessionPolicy | None = None,
        session_tags: SessionTags | None = None,
        source_identity: str | None = None,
    ) -> IssuedCredentials:
        """Take the assertion (InvalidIdentityToken if it was taken before) and issue
        credentials for ``role``. The caller has decided the role's trust policy with the policy
        engine, and ``session_policy`` and ``session_tags`` with ``check_session``. The
        duration: ``duration_seconds`` (or an hour), within the role's MaxSessionDuration,
        capped by the assertion's SessionDuration."""
        if role.tenant_id != identity.provider.tenant_id:
            raise AccessDenied("a SAML identity assumes only roles of its provider's account")
        duration = ROLE_SESSION_DEFAULT if duration_seconds is None else duration_seconds
        if duration_seconds is None:
            duration = min(duration, role.max_session_duration)
        if duration > role.max_session_duration:
            raise InvalidInput(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        if identity.session_duration is not None:
            duration = min(duration, identity.session_duration)
        await self._take_assertion(identity)
        return await self._issue(
            role.tenant_id,
            SessionSource.SAML,
            duration,
            False,
            role=role,
            role_session_name=identity.session_name,
            session_policy=session_policy,
            session_tags=session_tags,
            source_identity=source_identity,
        )

    async def _take_assertion(self, identity: VerifiedSamlAssertion) -> None:
        now: datetime = self._now()
        if not await self._store.use_saml_assertion(
            identity.provider.tenant_id, identity.replay_key, identity.expires_at, now
        ):
            raise InvalidIdentityToken("The SAML assertion has already been used")
