"""Console login for people (part of IdentityService): passwords, a second factor, backoff,
sessions.

- Passwords are hashed with argon2id (argon2-cffi's RFC 9106 low-memory profile) off the event
  loop; a hash made with older parameters is redone at the next successful login. The policy:
  ``password_min_length`` characters at least, not the user name, and three of the four
  character classes (lower, upper, digit, other) unless the password has 16 characters or more.
- A user with an enabled MFA device must also give a fresh TOTP code.
- After ``login_max_failures`` failures in a row each attempt must wait 2, 4, 8… seconds (at
  most ``login_backoff_max``); the counter lives in the store, so every gateway sees it. An
  unknown user costs the same hash verification as a known one and gets the same error.
- A session token is 256 random bits shown once and stored as its SHA-256; it ends after
  ``console_session_idle_timeout`` without use or ``console_session_lifetime`` after login.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag

from andromede.iam.errors import (
    AccessDenied,
    EntityAlreadyExists,
    ExpiredToken,
    InvalidAuthenticationCode,
    InvalidClientTokenId,
    InvalidConsoleSession,
    InvalidInput,
    LoginFailed,
    LoginLocked,
    NoSuchEntity,
    PasswordPolicyViolation,
)
from andromede.iam.model import (
    ConsoleSession,
    LoginProfile,
    Principal,
    PrincipalKind,
    Tenant,
    TenantStatus,
    User,
)
from andromede.iam.service_core import ServiceCore, user_principal

__all__ = ["ConsoleLogin", "LoginMixin", "check_password_policy"]

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory parameters
_BACKOFF_BASE = 2.0  # seconds after the first failure past the limit, doubling each time
_TOUCH_EVERY = timedelta(seconds=60)  # last-seen writes, at most one a minute per session
_FAILED = "The account, user name, password or MFA code is not valid."
# The federation endpoint's sign-in tokens: sealed for this purpose only, good 15 minutes.
_SIGNIN_TOKEN_PURPOSE = "console-signin-token"  # noqa: S105 - associated data, no secret
_SIGNIN_TOKEN_LIFETIME = 900.0
PASSWORD_MAX_LENGTH = 128
UNCONDITIONAL_LENGTH = 16


def check_password_policy(password: str, user_name: str, min_length: int) -> None:
    """PasswordPolicyViolation with the rule it breaks (never echoing the password)."""
    if len(password) < min_length:
        raise PasswordPolicyViolation(f"A password has at least {min_length} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordPolicyViolation(f"A password has at most {PASSWORD_MAX_LENGTH} characters.")
    if password.casefold() == user_name.casefold():
        raise PasswordPolicyViolation("A password is not the user name.")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 3 and len(password) < UNCONDITIONAL_LENGTH:
        raise PasswordPolicyViolation(
            "A password shorter than 16 characters mixes three of: lower case, upper case, "
            "digits, other characters."
        )


@functools.cache
def _dummy_hash() -> str:
    """Verified when the user does not exist, so that case takes as long as a wrong password."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _verify(hash_: str, password: str) -> bool:
    try:
        return _HASHER.verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class ConsoleLogin:
    token: str  # the bearer token, shown once
    principal: Principal
    expires_at: datetime


class LoginMixin(ServiceCore):
    # -- login profiles (Create/Get/Update/DeleteLoginProfile) -------------------------------
    async def create_login_profile(self, tenant_id: str, user_name: str, password: str) -> None:
        user = await self._user(tenant_id, user_name)
        if await self._store.get_login_profile(user.id) is not None:
            raise EntityAlreadyExists(f"Login Profile for user {user_name} already exists.")
        await self._set_password(user, password)

    async def get_login_profile(self, tenant_id: str, user_name: str) -> datetime:
        """When the user's console password was set (GetLoginProfile's CreateDate); the hash
        never leaves identity."""
        user = await self._user(tenant_id, user_name)
        profile = await self._store.get_login_profile(user.id)
        if profile is None:
            raise NoSuchEntity(f"Login Profile for user {user_name} cannot be found.")
        return profile.created_at

    async def update_login_profile(self, tenant_id: str, user_name: str, password: str) -> None:
        """A new password; ends the user's console sessions and resets the failure count."""
        user = await self._user(tenant_id, user_name)
        if await self._store.get_login_profile(user.id) is None:
            raise NoSuchEntity(f"Login Profile for user {user_name} cannot be found.")
        await self._set_password(user, password)
        await self._store.delete_console_sessions_of_user(user.id)

    async def delete_login_profile(self, tenant_id: str, user_name: str) -> None:
        user = await self._user(tenant_id, user_name)
        if not await self._store.delete_login_profile(user.id):
            raise NoSuchEntity(f"Login Profile for user {user_name} cannot be found.")

    async def _set_password(self, user: User, password: str) -> None:
        check_password_policy(password, user.name, self._limits.password_min_length)
        hashed = await asyncio.to_thread(_HASHER.hash, password)
        await self._store.put_login_profile(LoginProfile(user.id, hashed, self._now()))

    # -- login and sessions -------------------------------------------------------------------
    async def console_login(
        self, account: str, user_name: str, password: str, mfa_code: str | None = None
    ) -> ConsoleLogin:
        """A console session for a user of tenant ``account`` (its id or name; the root user's
        name is ``root``). LoginFailed for any wrong input; LoginLocked while backing off."""
        user = await self._login_user(account, user_name)
        profile = await self._store.get_login_profile(user.id) if user else None
        now = self._now()
        if profile is not None and profile.locked_until is not None and profile.locked_until > now:
            wait = (profile.locked_until - now).total_seconds()
            raise LoginLocked(f"Too many failed logins: retry in {wait:.0f} s.", wait)
        hashed = profile.password_hash if profile else _dummy_hash()
        good = await asyncio.to_thread(_verify, hashed, password)
        if user is None or profile is None:
            raise LoginFailed(_FAILED)
        if not good:
            await self._login_failed(profile, now)
            raise LoginFailed(_FAILED)
        mfa_present = await self._second_factor(user, profile, mfa_code, now)
        if profile.failed_attempts or profile.locked_until is not None:
            await self._store.record_login_attempt(user.id, 0, None)
        if _HASHER.check_needs_rehash(profile.password_hash):
            rehashed = await asyncio.to_thread(_HASHER.hash, password)
            await self._store.put_login_profile(LoginProfile(user.id, rehashed, profile.created_at))
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=self._limits.console_session_lifetime)
        await self._store.create_console_session(
            ConsoleSession(
                _token_hash(token), user.id, user.tenant_id, now, now, expires, mfa_present
            )
        )
        principal = user_principal(user, mfa_present=mfa_present)
        return ConsoleLogin(token, principal, expires)

    async def _second_factor(
        self, user: User, profile: LoginProfile, mfa_code: str | None, now: datetime
    ) -> bool:
        devices = await self._store.list_mfa_devices(user.tenant_id, user.id)
        if not devices:
            return False
        if mfa_code is None:
            raise LoginFailed("An MFA code is required for this user.")
        for device in devices:
            try:
                await self.verify_mfa_code(user.tenant_id, user.id, device.serial, mfa_code)
            except InvalidAuthenticationCode:
                continue
            return True
        await self._login_failed(profile, now)
        raise LoginFailed(_FAILED)

    async def _login_user(self, account: str, user_name: str) -> User | None:
        tenant: Tenant | None = None
        if account.isdigit():
            tenant = await self._store.get_tenant(account)
        if tenant is None:
            tenant = await self._store.get_tenant_by_name(account)
        if tenant is None or tenant.status is not TenantStatus.ACTIVE:
            return None
        return await self._store.get_entity(User, tenant.id, user_name)

    async def _login_failed(self, profile: LoginProfile, now: datetime) -> None:
        failures = profile.failed_attempts + 1
        over = failures - self._limits.login_max_failures
        locked_until = None
        if over >= 0:
            wait = min(self._limits.login_backoff_max, _BACKOFF_BASE * 2.0 ** min(over, 30))
            locked_until = now + timedelta(seconds=wait)
        await self._store.record_login_attempt(profile.user_id, failures, locked_until)

    async def federated_console_login(self, access_key_id: str, session_token: str) -> ConsoleLogin:
        """A console session for the role session of temporary credentials STS just issued
        from a SAML assertion: the console then acts as that role session, until the sooner of
        the credentials' expiry and the console's own lifetime. The pair is checked as a signed
        request's would be (InvalidClientTokenId, ExpiredToken); only a role's session opens
        one (AccessDenied otherwise: a user signs in with a password)."""
        _, principal = await self.resolve_access_key(access_key_id, session_token)
        if principal.kind is not PrincipalKind.ROLE_SESSION:
            raise AccessDenied("only a role's session signs in to the console this way")
        return await self._federated_session(access_key_id, principal, None)

    async def console_signin_token(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str,
        session_duration: int | None = None,
    ) -> str:
        """AWS's federation endpoint, ``getSigninToken``: a sign-in token for temporary
        credentials of a role session or a federated user (what a custom identity broker holds
        after AssumeRole, AssumeRoleWithWebIdentity or GetFederationToken), proven by all three
        of their parts. Good for one sign-in within 15 minutes; sealed with the secrets key, so
        any gateway of the region takes it. ``session_duration`` (900 to 43,200 s) shortens
        the console session; the credentials' own expiry always ends it."""
        secret, principal = await self.resolve_access_key(access_key_id, session_token)
        if not hmac.compare_digest(secret.encode(), secret_access_key.encode()):
            raise InvalidClientTokenId("The security token included in the request is invalid")
        if principal.kind not in (PrincipalKind.ROLE_SESSION, PrincipalKind.FEDERATED_USER):
            raise AccessDenied(
                "only a role session's or a federated user's credentials open a console session"
            )
        if session_duration is not None and not 900 <= session_duration <= 43200:
            raise InvalidInput("SessionDuration must be 900 to 43200 seconds")
        sealed = self._sealer.seal(
            _SIGNIN_TOKEN_PURPOSE,
            json.dumps(
                {
                    "key": access_key_id,
                    "until": self._clock() + _SIGNIN_TOKEN_LIFETIME,
                    "once": secrets.token_hex(16),
                    "duration": session_duration,
                }
            ),
        )
        return base64.urlsafe_b64encode(sealed.encode()).decode()

    async def console_login_with_signin_token(self, signin_token: str) -> ConsoleLogin:
        """The federation endpoint's ``login``: a console session for the sign-in token's
        credentials, once (InvalidConsoleSession for a token that is not one of ours, expired,
        or used before)."""
        try:
            sealed = base64.urlsafe_b64decode(signin_token.encode()).decode()
            claims = json.loads(self._sealer.unseal(_SIGNIN_TOKEN_PURPOSE, sealed))
            access_key_id, until = str(claims["key"]), float(claims["until"])
            once, duration = str(claims["once"]), claims.get("duration")
        except (ValueError, KeyError, TypeError, InvalidTag, UnicodeDecodeError):
            raise InvalidConsoleSession("The sign-in token is not valid.") from None
        if until <= self._clock():
            raise InvalidConsoleSession("The sign-in token has expired.")
        try:
            principal = await self.session_principal(access_key_id)
        except (InvalidClientTokenId, ExpiredToken):
            raise InvalidConsoleSession("The sign-in token's credentials are gone.") from None
        used_until = datetime.fromtimestamp(until, UTC)
        if principal.tenant_id is None or not await self._store.use_saml_assertion(
            principal.tenant_id, f"console-signin-token:{once}", used_until, self._now()
        ):
            raise InvalidConsoleSession("The sign-in token was used before.")
        return await self._federated_session(
            access_key_id, principal, duration if isinstance(duration, int) else None
        )

    async def _federated_session(
        self, access_key_id: str, principal: Principal, duration: int | None
    ) -> ConsoleLogin:
        if principal.tenant_id is None:
            raise AccessDenied("only a tenant's principal signs in to the console")
        now = self._now()
        expires = now + timedelta(seconds=self._limits.console_session_lifetime)
        if duration is not None:
            expires = min(expires, now + timedelta(seconds=duration))
        if principal.session_expires_at is not None:
            expires = min(expires, principal.session_expires_at)
        token = secrets.token_urlsafe(32)
        await self._store.create_console_session(
            ConsoleSession(
                _token_hash(token),
                None,
                principal.tenant_id,
                now,
                now,
                expires,
                mfa_present=principal.mfa_present,
                session_key_id=access_key_id,
            )
        )
        return ConsoleLogin(token, principal, expires)

    async def resolve_console_session(self, token: str) -> Principal:
        """The principal of a live console session; InvalidConsoleSession otherwise."""
        token_hash = _token_hash(token)
        session = await self._store.get_console_session(token_hash)
        if session is None:
            raise InvalidConsoleSession("The session is not valid.")
        now = self._now()
        idle = timedelta(seconds=self._limits.console_session_idle_timeout)
        if now >= session.expires_at or now - session.last_seen_at >= idle:
            await self._store.delete_console_session(token_hash)
            raise InvalidConsoleSession("The session has expired.")
        if session.session_key_id is not None:
            return await self._federated_principal(token_hash, session, now)
        user = await self._store.get_entity_by_id(User, session.user_id or "")
        tenant = await self._store.get_tenant(session.tenant_id)
        if user is None or tenant is None or tenant.status is not TenantStatus.ACTIVE:
            raise InvalidConsoleSession("The session is not valid.")
        if now - session.last_seen_at >= _TOUCH_EVERY:
            await self._store.touch_console_session(token_hash, now)
        principal = user_principal(user, mfa_present=session.mfa_present)
        return Principal(
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            user_name=principal.user_name,
            kind=principal.kind,
            arn=principal.arn,
            mfa_present=principal.mfa_present,
            session_expires_at=session.expires_at,
        )

    async def _federated_principal(
        self, token_hash: str, session: ConsoleSession, now: datetime
    ) -> Principal:
        try:
            principal = await self.session_principal(session.session_key_id or "")
        except (InvalidClientTokenId, ExpiredToken):  # the role or its tenant went meanwhile
            await self._store.delete_console_session(token_hash)
            raise InvalidConsoleSession("The session is not valid.") from None
        if principal.tenant_id != session.tenant_id:
            raise InvalidConsoleSession("The session is not valid.")
        if now - session.last_seen_at >= _TOUCH_EVERY:
            await self._store.touch_console_session(token_hash, now)
        return principal

    if TYPE_CHECKING:  # CredentialsMixin's, beside this one in IdentityService

        async def resolve_access_key(
            self,
            access_key_id: str,
            session_token: str | None = None,
            *,
            allow_operator: bool = False,
            allow_operator_access: bool = False,
        ) -> tuple[str, Principal]: ...

        async def session_principal(self, access_key_id: str) -> Principal: ...

    async def revoke_console_session(self, token: str) -> None:
        """Log out. Idempotent."""
        await self._store.delete_console_session(_token_hash(token))

    async def revoke_console_sessions(self, tenant_id: str, user_name: str) -> int:
        user = await self._user(tenant_id, user_name)
        return await self._store.delete_console_sessions_of_user(user.id)
