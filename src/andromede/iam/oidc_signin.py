"""What the console's sign-in through a tenant's OpenID Connect provider keeps between the
browser's two visits (part of IdentityService; decision 0141).

The console sends the browser to the issuer with a ``state``, a ``nonce`` and a PKCE challenge;
their secrets (the verifier above all) must meet the issuer's answer again, on whichever gateway
the browser comes back to, and only once. They travel in a short-lived cookie, sealed with the
secrets key (AES-GCM: neither readable nor forgeable by the browser), and the ``state`` is
taken once in the store, as a SAML assertion is, when the browser comes back.

Once signed in, what RP-initiated logout at the issuer needs (its ``end_session_endpoint``, the
client id, the ID token for ``id_token_hint``, bound to the console session it opened) is sealed
the same way, under its own associated data, for a cookie that lasts as the session does
(decision 0141's addendum); a sealing too large for a cookie drops the ID token, which the
logout request may leave out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidTag

from andromede.iam.credentials import CredentialsMixin
from andromede.iam.errors import InvalidConsoleSession, InvalidIdentityToken
from andromede.iam.federated_trust import roles_trusting
from andromede.iam.model import OidcProvider, Role
from andromede.iam.web_identity import VerifiedWebIdentity, issuer_url

__all__ = [
    "OIDC_LOGOUT_SEALED_MAX",
    "OIDC_SIGN_IN_LIFETIME",
    "OidcSignInMixin",
    "session_digest",
]

OIDC_SIGN_IN_LIFETIME: Final = 600  # seconds the user has to sign in at the issuer
_PURPOSE: Final = "console-oidc-sign-in"  # associated data of the sealing, no secret
_SEALED_MAX: Final = 4096
_LOGOUT_PURPOSE: Final = "console-oidc-logout"
_CHOICE_PURPOSE: Final = "console-oidc-role-choice"
# An ID token of STS's 20,000 characters, with the rest, sealed and encoded twice.
_CHOICE_SEALED_MAX: Final = 65536
_ROLES_PAGE: Final = 1000
# A cookie's name, value and attributes must stay within the 4096 bytes browsers keep.
OIDC_LOGOUT_SEALED_MAX: Final = 3800


def session_digest(session_token: str) -> str:
    """What binds a sealing to one console session without holding its token."""
    return hashlib.sha256(b"console-oidc-logout\0" + session_token.encode()).hexdigest()[:32]


class OidcSignInMixin(CredentialsMixin):
    async def oidc_sign_in_provider(self, account_id: str, url: str) -> OidcProvider:
        """The provider of ``url`` (an issuer, with or without ``https://``) in ``account_id``,
        an active account: InvalidIdentityToken otherwise, the same for an account that does
        not exist, so that the page tells nothing more about accounts than STS does."""
        found = None
        if account_id.isdigit() and len(account_id) == 12:
            found = await self._store.get_oidc_provider(account_id, issuer_url(url.strip()))
        if found is None or not await self._tenant_active(account_id):
            raise InvalidIdentityToken("No OpenIDConnect provider found in that account for it")
        return found

    def seal_oidc_sign_in(self, kept: dict[str, Any]) -> tuple[str, str]:
        """(sealed, state): ``kept`` with a new ``state`` and its end, for the cookie."""
        state = secrets.token_urlsafe(24)
        payload = {**kept, "state": state, "until": self._clock() + OIDC_SIGN_IN_LIFETIME}
        sealed = self._sealer.seal(_PURPOSE, json.dumps(payload))
        return base64.urlsafe_b64encode(sealed.encode()).decode(), state

    async def open_oidc_sign_in(self, sealed: str, state: str) -> dict[str, Any]:
        """What :meth:`seal_oidc_sign_in` kept, if ``state`` is its state, it has not ended, and
        it is taken now for the first time; InvalidConsoleSession otherwise."""
        try:
            if not sealed or len(sealed) > _SEALED_MAX:
                raise ValueError("no sealed sign-in")
            text = self._sealer.unseal(_PURPOSE, base64.urlsafe_b64decode(sealed).decode())
            kept: dict[str, Any] = json.loads(text)
            until, kept_state, account = (
                float(kept["until"]),
                str(kept["state"]),
                str(kept["account"]),
            )
        except (ValueError, KeyError, TypeError, InvalidTag, UnicodeDecodeError):
            raise InvalidConsoleSession("The sign-in is not one this console began.") from None
        if not secrets.compare_digest(kept_state.encode(), state.encode()):
            raise InvalidConsoleSession("The sign-in's state does not match.")
        if until <= self._clock():
            raise InvalidConsoleSession("The sign-in has expired.")
        used_until = datetime.fromtimestamp(until, UTC)
        if not await self._store.use_saml_assertion(
            account, f"console-oidc-state:{kept_state}", used_until, self._now()
        ):
            raise InvalidConsoleSession("The sign-in was used before.")
        return kept

    async def roles_for_web_identity(
        self, identity: VerifiedWebIdentity, *, source_ip: str | None, secure: bool, region: str
    ) -> list[Role]:
        """The roles of the identity's provider's account whose trust policy would let it in
        as STS's AssumeRoleWithWebIdentity decides (``federated_trust.roles_trusting``), by
        name; for a user the issuer has signed in, who may assume each of them anyway."""
        roles: list[Role] = []
        after: str | None = None
        while True:
            found = await self._store.list_entities(
                Role, identity.provider.tenant_id, "/", after, _ROLES_PAGE
            )
            roles.extend(found)
            if len(found) < _ROLES_PAGE:
                break
            after = found[-1].name.lower()
        return roles_trusting(identity, roles, source_ip=source_ip, secure=secure, region=region)

    def seal_oidc_role_choice(self, kept: dict[str, Any], lifetime: int) -> tuple[str, str]:
        """(sealed, binding): ``kept`` (the ID token among it) with a one-use ``choice`` id, a
        random ``binding`` for the browser's cookie and its end, ``lifetime`` seconds on."""
        binding = secrets.token_urlsafe(24)
        payload = {
            **kept,
            "choice": secrets.token_urlsafe(24),
            "binding": binding,
            "until": self._clock() + lifetime,
        }
        return self._seal_text(_CHOICE_PURPOSE, payload), binding

    async def open_oidc_role_choice(self, sealed: str, binding: str) -> dict[str, Any]:
        """What :meth:`seal_oidc_role_choice` kept, if ``binding`` is its binding, it has not
        ended, and it is taken now for the first time; InvalidConsoleSession otherwise."""
        try:
            if not sealed or len(sealed) > _CHOICE_SEALED_MAX:
                raise ValueError("no sealed choice")
            text = self._sealer.unseal(_CHOICE_PURPOSE, base64.urlsafe_b64decode(sealed).decode())
            kept: dict[str, Any] = json.loads(text)
            until, kept_binding, choice, account = (
                float(kept["until"]),
                str(kept["binding"]),
                str(kept["choice"]),
                str(kept["account"]),
            )
        except (ValueError, KeyError, TypeError, InvalidTag, UnicodeDecodeError):
            raise InvalidConsoleSession("The role choice is not one this console began.") from None
        if not secrets.compare_digest(kept_binding.encode(), binding.encode()):
            raise InvalidConsoleSession("The role choice is another browser's.")
        if until <= self._clock():
            raise InvalidConsoleSession("The role choice has expired.")
        used_until = datetime.fromtimestamp(until, UTC)
        if not await self._store.use_saml_assertion(
            account, f"console-oidc-choice:{choice}", used_until, self._now()
        ):
            raise InvalidConsoleSession("The role was chosen before.")
        return kept

    def seal_oidc_logout(self, kept: dict[str, Any]) -> str:
        """``kept`` sealed for the logout cookie, within :data:`OIDC_LOGOUT_SEALED_MAX`
        characters: without its ``id_token`` when the whole would be longer."""
        sealed = self._seal_text(_LOGOUT_PURPOSE, kept)
        if len(sealed) > OIDC_LOGOUT_SEALED_MAX:
            sealed = self._seal_text(
                _LOGOUT_PURPOSE, {k: v for k, v in kept.items() if k != "id_token"}
            )
        return sealed

    def open_oidc_logout(self, sealed: str) -> dict[str, Any] | None:
        """What :meth:`seal_oidc_logout` kept; None for anything else."""
        if not sealed or len(sealed) > OIDC_LOGOUT_SEALED_MAX:
            return None
        try:
            text = self._sealer.unseal(_LOGOUT_PURPOSE, base64.urlsafe_b64decode(sealed).decode())
            kept = json.loads(text)
        except (ValueError, TypeError, InvalidTag, UnicodeDecodeError):
            return None
        return kept if isinstance(kept, dict) else None

    def _seal_text(self, purpose: str, kept: dict[str, Any]) -> str:
        sealed = self._sealer.seal(purpose, json.dumps(kept, separators=(",", ":")))
        return base64.urlsafe_b64encode(sealed.encode()).decode()
