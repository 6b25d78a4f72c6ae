"""OpenID Connect providers, and the web identities they vouch for (part of IdentityService;
decision 0087).

A provider is an issuer URL the account trusts, with the client ids (audiences) its tokens may
be for. STS AssumeRoleWithWebIdentity asks :meth:`verify_web_identity` to check a token against
the provider of its issuer **in the role's account** — another account's provider is never
consulted, so one tenant's IdP can never open another tenant's roles — and then
:meth:`assume_role_with_web_identity` issues the role's credentials, once the role's trust
policy has allowed the provider (the adapter decides it with the policy engine).

Validation follows IAM: the URL begins with ``https://``, has a host, no query or fragment, and
at most 255 characters; at most 100 client ids of 1 to 255 characters; at most 5 thumbprints of
40 hex digits; at most 100 providers per account. Thumbprints are kept and answered, not used:
an IdP's TLS is trusted through the CA store (see ``web_identity.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from andromede.iam.credentials import (
    ROLE_SESSION_DEFAULT,
    CredentialsMixin,
    IssuedCredentials,
    check_duration,
    check_session_name,
)
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
    OidcProvider,
    Role,
    SessionPolicy,
    SessionSource,
    SessionTags,
    Tags,
)
from andromede.iam.tags import check_tags, merged, without
from andromede.iam.web_identity import (
    VerifiedWebIdentity,
    issuer_url,
    unverified_issuer,
    verify_token,
)

__all__ = ["CLIENT_IDS_MAX", "OIDC_PROVIDERS_MAX", "THUMBPRINTS_MAX", "OidcProvidersMixin"]

URL_MAX: Final = 255
CLIENT_ID_MAX: Final = 255
CLIENT_IDS_MAX: Final = 100
THUMBPRINTS_MAX: Final = 5
OIDC_PROVIDERS_MAX: Final = 100  # AWS's quota of OIDC providers per account
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_CHANGE_ATTEMPTS: Final = 5
_ARN = re.compile(r"arn:aws:iam::(\d{12}):oidc-provider/(.+)")


def check_url(url: str) -> str:
    """The provider's URL as stored: the issuer without ``https://``. InvalidInput unless it
    begins with ``https://``, names a host, and has no query, fragment or white space."""
    rest = url[len("https://") :] if url[:8].lower() == "https://" else None
    if (
        rest is None
        or not 1 <= len(url) <= URL_MAX
        or not rest
        or rest.startswith("/")
        or any(c in rest for c in "?#")
        or any(c.isspace() or not c.isprintable() for c in rest)
    ):
        raise InvalidInput("Invalid Url: it must be https://<host>[/path], at most 255 characters")
    return rest


def check_client_ids(client_ids: list[str]) -> tuple[str, ...]:
    """The client ids, each once, in the order given."""
    unique = tuple(dict.fromkeys(client_ids))
    for client_id in unique:
        if not 1 <= len(client_id) <= CLIENT_ID_MAX:
            raise InvalidInput(f"Client ids must be 1 to {CLIENT_ID_MAX} characters")
    if len(unique) > CLIENT_IDS_MAX:
        raise LimitExceeded(
            f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS_MAX}"
        )
    return unique


def check_thumbprints(thumbprints: list[str]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(t.lower() for t in thumbprints))
    if any(not _THUMBPRINT.fullmatch(t) for t in unique):
        raise InvalidInput("A thumbprint is the 40 hex digits of a certificate's SHA-1")
    if len(unique) > THUMBPRINTS_MAX:
        raise InvalidInput(f"Thumbprint list must contain at most {THUMBPRINTS_MAX} entries")
    return unique


class OidcProvidersMixin(CredentialsMixin):
    # -- the IAM actions -----------------------------------------------------------------------
    async def create_open_id_connect_provider(
        self,
        tenant_id: str,
        url: str,
        client_ids: list[str],
        thumbprints: list[str],
        tags: Tags = (),
    ) -> OidcProvider:
        provider = OidcProvider(
            tenant_id=tenant_id,
            url=check_url(url),
            client_ids=check_client_ids(client_ids),
            thumbprints=check_thumbprints(thumbprints),
            created_at=self._now(),
            tags=check_tags(tags),
        )
        if len(await self._store.list_oidc_providers(tenant_id)) >= OIDC_PROVIDERS_MAX:
            raise LimitExceeded(
                f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {OIDC_PROVIDERS_MAX}"
            )
        try:
            await self._store.create_oidc_provider(provider)
        except EntityAlreadyExists as exc:
            raise EntityAlreadyExists(
                f"Provider with url {provider.issuer} already exists."
            ) from exc
        return provider

    async def get_open_id_connect_provider(self, tenant_id: str, arn: str) -> OidcProvider:
        """NoSuchEntity for another account's ARN too; InvalidInput for what is no such ARN."""
        matched = _ARN.fullmatch(arn)
        if matched is None:
            raise InvalidInput(f"ARN {arn} is not valid.")
        account, url = matched.groups()
        provider = None
        if account == tenant_id:
            provider = await self._store.get_oidc_provider(tenant_id, url)
        if provider is None:
            raise NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")
        return provider

    async def list_open_id_connect_providers(self, tenant_id: str) -> list[OidcProvider]:
        return await self._store.list_oidc_providers(tenant_id)

    async def delete_open_id_connect_provider(self, tenant_id: str, arn: str) -> None:
        provider = await self.get_open_id_connect_provider(tenant_id, arn)
        if not await self._store.delete_oidc_provider(tenant_id, provider.url):
            raise NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")

    async def add_client_id_to_open_id_connect_provider(
        self, tenant_id: str, arn: str, client_id: str
    ) -> None:
        """Adding a client id already there changes nothing (as IAM)."""
        await self._change_provider(
            tenant_id,
            arn,
            lambda p: replace(p, client_ids=check_client_ids([*p.client_ids, client_id])),
        )

    async def remove_client_id_from_open_id_connect_provider(
        self, tenant_id: str, arn: str, client_id: str
    ) -> None:
        """Removing one not there changes nothing (IAM: the action is idempotent)."""
        await self._change_provider(
            tenant_id,
            arn,
            lambda p: replace(p, client_ids=tuple(c for c in p.client_ids if c != client_id)),
        )

    async def update_open_id_connect_provider_thumbprint(
        self, tenant_id: str, arn: str, thumbprints: list[str]
    ) -> None:
        checked = check_thumbprints(thumbprints)
        await self._change_provider(tenant_id, arn, lambda p: replace(p, thumbprints=checked))

    async def tag_open_id_connect_provider(self, tenant_id: str, arn: str, tags: Tags) -> None:
        await self._change_provider(tenant_id, arn, lambda p: replace(p, tags=merged(p.tags, tags)))

    async def untag_open_id_connect_provider(
        self, tenant_id: str, arn: str, keys: list[str]
    ) -> None:
        await self._change_provider(
            tenant_id, arn, lambda p: replace(p, tags=without(p.tags, keys))
        )

    async def _change_provider(
        self, tenant_id: str, arn: str, change: Callable[[OidcProvider], OidcProvider]
    ) -> None:
        """Read the provider, apply ``change``, and write it only if nobody changed it since
        (two gateways adding client ids at once both get theirs in): read again and retry a
        few times, then ConcurrentModification, as IAM answers."""
        for _ in range(_CHANGE_ATTEMPTS):
            provider = await self.get_open_id_connect_provider(tenant_id, arn)
            changed = change(provider)
            if changed == provider or await self._store.update_oidc_provider(changed, provider):
                return
        raise ConcurrentModification(
            "The provider was changed by another request meanwhile; try again"
        )

    # -- web identities (STS AssumeRoleWithWebIdentity) --------------------------------------
    async def verify_web_identity(self, account_id: str, token: str) -> VerifiedWebIdentity:
        """The identity ``token`` proves, checked against the provider of its issuer in
        ``account_id`` (the role's account, never the caller's choice of another).
        InvalidIdentityToken, ExpiredIdentityToken, IdpRejectedClaim, IdpCommunicationError."""
        iss, _ = unverified_issuer(token)
        provider = await self._store.get_oidc_provider(account_id, issuer_url(iss))
        if provider is None or not await self._tenant_active(account_id):
            raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {iss}")
        return await verify_token(token, provider, self._web_identity_keys)

    async def assume_role_with_web_identity(
        self,
        identity: VerifiedWebIdentity,
        role: Role,
        role_session_name: str,
        duration_seconds: int | None = None,
        session_policy: SessionPolicy | None = None,
        session_tags: SessionTags | None = None,
        source_identity: str | None = None,
    ) -> IssuedCredentials:
        """Issue credentials for ``role`` to ``identity``. The caller has decided the role's
        trust policy with the policy engine (``sts:TagSession`` and ``sts:SetSourceIdentity``
        too, when the session gets tags or a source identity), and ``session_policy`` and
        ``session_tags`` with ``check_session``."""
        if role.tenant_id != identity.provider.tenant_id:
            raise AccessDenied("a web identity assumes only roles of its provider's account")
        check_session_name(role_session_name)
        duration = check_duration(
            duration_seconds, ROLE_SESSION_DEFAULT, 900, role.max_session_duration
        )
        return await self._issue(
            role.tenant_id,
            SessionSource.WEB_IDENTITY,
            duration,
            False,
            role=role,
            role_session_name=role_session_name,
            session_policy=session_policy,
            session_tags=session_tags,
            source_identity=source_identity,
        )
