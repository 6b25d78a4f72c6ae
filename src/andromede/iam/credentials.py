"""Access keys, their resolution on the request path, and STS temporary credentials (part of
IdentityService).

Resolution sits on the hot path of every signed request, so a resolved key is cached for
``cache_ttl`` seconds: a disabled key stops working within that time on every gateway, without
a database read per request. The last use of a key is noted in memory and written in batches
(``flush_key_usage``, every ``key_usage_flush_interval``), never one write per request.

Temporary credentials (``ASIA…``) need their session token: it is 256 random bits shown once,
stored as its SHA-256 and compared in constant time; expiry is checked on every request, the
cached ones included.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from andromede.iam.errors import (
    AccessDenied,
    ExpiredToken,
    InvalidAccessKeyId,
    InvalidClientTokenId,
    InvalidInput,
    NoSuchEntity,
)
from andromede.iam.model import (
    ACCESS_KEYS_PER_USER,
    AccessKey,
    AccessKeyStatus,
    KeyUse,
    Principal,
    PrincipalKind,
    Role,
    SessionCredentials,
    SessionPolicy,
    SessionSource,
    SessionTags,
    TenantStatus,
    User,
    federated_user_arn,
    new_access_key_id,
    new_secret_access_key,
    new_session_access_key_id,
)
from andromede.iam.service_core import ServiceCore, user_principal

__all__ = [
    "AccessKeyLastUsed",
    "CreatedAccessKey",
    "CredentialsMixin",
    "IssuedCredentials",
    "check_duration",
    "check_federated_name",
    "check_session_name",
]

_UNKNOWN_KEY = "The AWS Access Key Id you provided does not exist in our records."
_BAD_TOKEN = "The security token included in the request is invalid."  # noqa: S105
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_FEDERATED_NAME = re.compile(r"[\w+=,.@-]{2,32}", re.ASCII)
SESSION_TOKEN_MIN, SESSION_TOKEN_MAX, SESSION_TOKEN_DEFAULT = 900, 129600, 43200
ROOT_SESSION_MAX = 3600  # AWS: root's GetSessionToken lasts an hour at most
ROLE_SESSION_DEFAULT = 3600
ROLE_CHAINING_MAX = 3600  # AWS: a role session assuming a role gets an hour at most
_CACHE_ENTRIES_MAX = 10_000


@dataclass(frozen=True, slots=True)
class CreatedAccessKey:
    key: AccessKey
    user_name: str
    secret_access_key: str  # shown once


@dataclass(frozen=True, slots=True)
class AccessKeyLastUsed:
    user_name: str
    last_used_at: datetime | None
    service_name: str  # "N/A" when never used, as AWS answers
    region: str


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    principal: Principal  # who the credentials act as (assumed-role ARN and id for roles)


@dataclass(frozen=True, slots=True)
class _Resolved:
    valid_until: float  # monotonic: when to look again
    secret: str
    principal: Principal
    token_hash: str | None = None  # temporary credentials only


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CredentialsMixin(ServiceCore):
    # -- access keys (IAM) ------------------------------------------------------------------
    async def create_access_key(self, tenant_id: str, user_name: str) -> CreatedAccessKey:
        """A new active key; LimitExceeded when the user has two already."""
        user = await self._user(tenant_id, user_name)
        key_id, secret = new_access_key_id(), new_secret_access_key()
        key = AccessKey(key_id, user.id, AccessKeyStatus.ACTIVE, self._now())
        sealed = self._sealer.seal(key_id, secret)
        await self._store.create_access_key(key, sealed, ACCESS_KEYS_PER_USER)
        return CreatedAccessKey(key, user.name, secret)

    async def list_access_keys(self, tenant_id: str, user_name: str) -> list[AccessKey]:
        user = await self._user(tenant_id, user_name)
        return await self._store.list_access_keys(user.id)

    async def _own_key(self, tenant_id: str, user_name: str, access_key_id: str) -> AccessKey:
        user = await self._user(tenant_id, user_name)
        found = await self._store.get_access_key(access_key_id)
        if found is None or found[0].user_id != user.id:
            raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
        return found[0]

    async def update_access_key(
        self, tenant_id: str, user_name: str, access_key_id: str, status: str
    ) -> None:
        try:
            wanted = AccessKeyStatus(status)
        except ValueError as exc:
            raise InvalidInput("Status must be Active or Inactive") from exc
        await self._own_key(tenant_id, user_name, access_key_id)
        await self._store.set_access_key_status(access_key_id, wanted)
        self._key_cache.pop(access_key_id, None)

    async def delete_access_key(self, tenant_id: str, user_name: str, access_key_id: str) -> None:
        await self._own_key(tenant_id, user_name, access_key_id)
        await self._store.delete_access_key(access_key_id)
        self._key_cache.pop(access_key_id, None)
        self._pending_uses.pop(access_key_id, None)

    async def get_access_key_last_used(
        self, tenant_id: str, access_key_id: str
    ) -> AccessKeyLastUsed:
        found = await self._store.get_access_key(access_key_id)
        user = await self._store.get_entity_by_id(User, found[0].user_id) if found else None
        if found is None or user is None or user.tenant_id != tenant_id:
            raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
        use = self.key_last_use(found[0])
        if use is None:
            return AccessKeyLastUsed(user.name, None, "N/A", "N/A")
        return AccessKeyLastUsed(user.name, use.when, use.service, use.region)

    def key_last_use(self, key: AccessKey) -> KeyUse | None:
        """The key's last use: the stored one, or this worker's not yet written if later;
        None if never used. Service and region ``N/A`` when not recorded."""
        noted = self._pending_uses.get(key.access_key_id)  # this worker's, not yet written
        use = _key_use(noted) if noted is not None else None
        if use is not None and (key.last_used_at is None or key.last_used_at < use.when):
            return use
        if key.last_used_at is None:
            return None
        return KeyUse(
            key.last_used_at, key.last_used_service or "N/A", key.last_used_region or "N/A"
        )

    async def access_key_account(self, tenant_id: str, access_key_id: str) -> str:
        """STS GetAccessKeyInfo for a caller of ``tenant_id``: the account of a long-term or
        session key **of that account** (decision 0095). Another tenant's key and a key that
        does not exist are one NoSuchEntity, so nobody learns of another tenant's keys."""
        account = None
        found = await self._store.get_access_key(access_key_id)
        if found is not None:
            user = await self._store.get_entity_by_id(User, found[0].user_id)
            account = user.tenant_id if user is not None else None
        else:
            session = await self._store.get_session(access_key_id)
            account = session[0].tenant_id if session is not None else None
        if account is None or account != tenant_id:
            raise NoSuchEntity(f"The access key {access_key_id} is not one of your account's")
        return account

    def note_access_key_use(self, access_key_id: str, service: str, region: str) -> None:
        """Remember a successful use (no I/O, on every request: a tuple, no datetime yet);
        ``flush_key_usage`` writes it later."""
        if access_key_id.startswith("AKIA"):
            self._pending_uses[access_key_id] = (self._clock(), service, region)

    async def flush_key_usage(self) -> int:
        """Write the uses noted since the last flush in one batch; how many keys it covered."""
        pending, self._pending_uses = self._pending_uses, {}
        if pending:
            await self._store.record_key_uses({k: _key_use(use) for k, use in pending.items()})
        return len(pending)

    # -- resolution (every signed request) ------------------------------------------------
    async def resolve_access_key(
        self,
        access_key_id: str,
        session_token: str | None = None,
        *,
        allow_operator: bool = False,
        allow_operator_access: bool = False,
    ) -> tuple[str, Principal]:
        """The secret and principal of an active key of an active tenant.

        InvalidAccessKeyId otherwise — the same error whether the key is unknown, inactive or its
        tenant suspended, so a caller learns nothing about which keys exist. Temporary
        credentials (``ASIA…``) need their ``session_token``: InvalidClientTokenId when it is
        missing or wrong, ExpiredToken after their expiry.

        Operator keys resolve only with ``allow_operator`` (the management API): on the tenant
        APIs (S3, IAM, STS) they are unknown keys, so an operator can never act on tenant data
        whatever an authoriser would make of a principal without a tenant. An operator's
        credentials for an approved access request resolve only with ``allow_operator_access``
        (S3, decision 0107): on IAM, STS, KMS, EC2 and the management API they are unknown.
        """
        now = time.monotonic()
        cached = self._key_cache.get(access_key_id)
        if not (isinstance(cached, _Resolved) and cached.valid_until > now):
            cached = await self._resolve_uncached(access_key_id, now)
            if len(self._key_cache) > _CACHE_ENTRIES_MAX:
                self._key_cache.clear()
            self._key_cache[access_key_id] = cached
        if cached.token_hash is not None:
            self._check_session(cached, session_token)
        if cached.principal.is_operator and not allow_operator:
            raise InvalidAccessKeyId(_UNKNOWN_KEY)
        if cached.principal.is_operator_access and not allow_operator_access:
            raise InvalidClientTokenId(_BAD_TOKEN)
        return cached.secret, cached.principal

    async def session_principal(self, access_key_id: str) -> Principal:
        """The principal of live temporary credentials (``ASIA…``), for an in-process caller
        that holds its own proof of them — a console session made from them at sign-in, with
        their session token then: no token is asked again. InvalidClientTokenId when they are
        gone (their role deleted, their tenant suspended), ExpiredToken once expired."""
        if not access_key_id.startswith("ASIA"):
            raise InvalidClientTokenId(_BAD_TOKEN)
        now = time.monotonic()
        cached = self._key_cache.get(access_key_id)
        if not (isinstance(cached, _Resolved) and cached.valid_until > now):
            cached = await self._resolve_uncached(access_key_id, now)
            if len(self._key_cache) > _CACHE_ENTRIES_MAX:
                self._key_cache.clear()
            self._key_cache[access_key_id] = cached
        expires = cached.principal.session_expires_at
        if expires is not None and expires <= self._now():
            raise ExpiredToken(
                "The security token included in the request is expired", cached.principal
            )
        return cached.principal

    def _check_session(self, resolved: _Resolved, session_token: str | None) -> None:
        if session_token is None or not hmac.compare_digest(
            _token_hash(session_token), resolved.token_hash or ""
        ):
            raise InvalidClientTokenId(_BAD_TOKEN)
        expires = resolved.principal.session_expires_at
        if expires is not None and expires <= self._now():
            raise ExpiredToken(
                "The security token included in the request is expired", resolved.principal
            )

    async def _resolve_uncached(self, access_key_id: str, now: float) -> _Resolved:
        valid_until = now + self._limits.cache_ttl
        if access_key_id.startswith("ASIA"):
            return await self._resolve_session(access_key_id, valid_until)
        found = await self._store.get_access_key(access_key_id)
        if found is None:
            found = await self._store.get_operator_key(access_key_id)
            if found is None or found[0].status is not AccessKeyStatus.ACTIVE:
                raise InvalidAccessKeyId(_UNKNOWN_KEY)
            operator = await self._store.get_operator(found[0].user_id)
            if operator is None:
                raise InvalidAccessKeyId(_UNKNOWN_KEY)
            principal = Principal(
                tenant_id=None,
                user_id=operator.id,
                user_name=operator.name,
                kind=PrincipalKind.OPERATOR,
                arn=operator.arn,
            )
            secret = self._sealer.unseal(access_key_id, found[1])
            return _Resolved(valid_until, secret, principal)
        key, sealed = found
        if key.status is not AccessKeyStatus.ACTIVE:
            raise InvalidAccessKeyId(_UNKNOWN_KEY)
        user = await self._store.get_entity_by_id(User, key.user_id)
        if user is None or not await self._tenant_active(user.tenant_id):
            raise InvalidAccessKeyId(_UNKNOWN_KEY)
        secret = self._sealer.unseal(access_key_id, sealed)
        return _Resolved(valid_until, secret, user_principal(user))

    async def _tenant_active(self, tenant_id: str) -> bool:
        tenant = await self._store.get_tenant(tenant_id)
        return tenant is not None and tenant.status is TenantStatus.ACTIVE

    async def _resolve_session(self, access_key_id: str, valid_until: float) -> _Resolved:
        found = await self._store.get_session(access_key_id)
        if found is None or not await self._tenant_active(found[0].tenant_id):
            raise InvalidClientTokenId(_BAD_TOKEN)
        session, sealed = found
        principal: Principal | None = None
        if session.source is SessionSource.OPERATOR_ACCESS:
            operator = await self._store.get_operator(session.user_id or "")
            if operator is not None:
                principal = Principal(
                    tenant_id=session.tenant_id,
                    user_id=operator.id,
                    user_name=operator.name,
                    kind=PrincipalKind.OPERATOR_ACCESS,
                    arn=operator.arn,
                    session_expires_at=session.expires_at,
                    session_name=session.role_session_name,
                )
        elif session.role_id is not None:
            role = await self._store.get_entity_by_id(Role, session.role_id)
            if role is not None:
                principal = _role_principal(role, session)
        elif session.source is SessionSource.GET_FEDERATION_TOKEN:
            user = await self._store.get_entity_by_id(User, session.user_id or "")
            if user is not None:
                principal = _federated_principal(user, session)
        elif session.user_id is not None:
            user = await self._store.get_entity_by_id(User, session.user_id)
            if user is not None:
                principal = Principal(
                    tenant_id=user.tenant_id,
                    user_id=user.id,
                    user_name=user.name,
                    kind=PrincipalKind.ROOT if user.is_root else PrincipalKind.USER,
                    arn=user.arn,
                    mfa_present=session.mfa_present,
                    session_expires_at=session.expires_at,
                )
        if principal is None:  # the user or role was deleted since
            raise InvalidClientTokenId(_BAD_TOKEN)
        secret = self._sealer.unseal(access_key_id, sealed)
        return _Resolved(valid_until, secret, principal, session.token_hash)

    # -- STS ----------------------------------------------------------------------------------
    async def get_session_token(
        self,
        caller: Principal,
        duration_seconds: int | None = None,
        serial_number: str | None = None,
        token_code: str | None = None,
    ) -> IssuedCredentials:
        """Temporary credentials for a user (or root) acting as itself; MFA-present when a
        code of one of its MFA devices is given and valid (InvalidAuthenticationCode if not)."""
        if caller.kind not in (PrincipalKind.USER, PrincipalKind.ROOT) or caller.session_expires_at:
            raise AccessDenied("GetSessionToken needs the long-term credentials of a user")
        upper = ROOT_SESSION_MAX if caller.is_root else SESSION_TOKEN_MAX
        duration = check_duration(duration_seconds, SESSION_TOKEN_DEFAULT, SESSION_TOKEN_MIN, upper)
        mfa = await self._mfa_given(caller, serial_number, token_code)
        return await self._issue(
            caller.tenant_id or "",
            SessionSource.GET_SESSION_TOKEN,
            duration,
            mfa,
            user_id=caller.user_id,
        )

    async def get_federation_token(
        self,
        caller: Principal,
        name: str,
        duration_seconds: int | None = None,
        *,
        session_policy: SessionPolicy | None = None,
        session_tags: SessionTags | None = None,
    ) -> IssuedCredentials:
        """Credentials of ``arn:aws:sts::ACCOUNT:federated-user/<name>`` for a user (or root)
        calling with its long-term key: the user's permissions limited by ``session_policy``
        (without one, none at all), for 15 minutes to 36 hours (an hour for root). The caller
        has checked ``sts:GetFederationToken`` and the session policies (``check_session``)."""
        if caller.kind not in (PrincipalKind.USER, PrincipalKind.ROOT) or caller.session_expires_at:
            raise AccessDenied("GetFederationToken needs the long-term credentials of a user")
        check_federated_name(name)
        upper = ROOT_SESSION_MAX if caller.is_root else SESSION_TOKEN_MAX
        duration = check_duration(duration_seconds, SESSION_TOKEN_DEFAULT, SESSION_TOKEN_MIN, upper)
        return await self._issue(
            caller.tenant_id or "",
            SessionSource.GET_FEDERATION_TOKEN,
            duration,
            False,  # AWS: a federated user's session never counts as MFA-authenticated
            user_id=caller.user_id,
            role_session_name=name,
            session_policy=session_policy,
            session_tags=session_tags,
        )

    async def assume_role(
        self,
        caller: Principal,
        role: Role,
        role_session_name: str,
        duration_seconds: int | None = None,
        serial_number: str | None = None,
        token_code: str | None = None,
        session_policy: SessionPolicy | None = None,
        session_tags: SessionTags | None = None,
        source_identity: str | None = None,
    ) -> IssuedCredentials:
        """Issue credentials for ``role``. The caller has checked the role's trust policy (and
        the caller's permission to sts:AssumeRole) with the policy engine before calling, and
        ``session_policy`` with ``check_session``."""
        if caller.is_anonymous or caller.is_operator:
            raise AccessDenied("only a tenant's principals can assume its roles")
        check_session_name(role_session_name)
        chained = caller.kind is PrincipalKind.ROLE_SESSION
        upper = ROLE_CHAINING_MAX if chained else role.max_session_duration
        duration = check_duration(duration_seconds, ROLE_SESSION_DEFAULT, 900, upper)
        mfa = caller.mfa_present or await self._mfa_given(caller, serial_number, token_code)
        return await self._issue(
            role.tenant_id,
            SessionSource.ASSUME_ROLE,
            duration,
            mfa,
            role=role,
            role_session_name=role_session_name,
            session_policy=session_policy,
            session_tags=session_tags,
            source_identity=source_identity,
        )

    async def issue_operator_access_credentials(
        self, tenant_id: str, operator_id: str, request_id: str, expires_at: datetime
    ) -> IssuedCredentials:
        """Temporary credentials of an operator in ``tenant_id``'s S3 data under the approved
        access request ``request_id``, ending at ``expires_at`` (the request's end; decision
        0107). The access service has checked the request; S3's authoriser checks its scope
        and state again on every request."""
        seconds = int((expires_at - self._now()).total_seconds())
        if seconds <= 0:
            raise AccessDenied("the access request has ended")
        return await self._issue(
            tenant_id,
            SessionSource.OPERATOR_ACCESS,
            seconds,
            False,
            user_id=operator_id,
            role_session_name=request_id,
            allow_operator_access=True,
        )

    async def _mfa_given(
        self, caller: Principal, serial_number: str | None, token_code: str | None
    ) -> bool:
        if serial_number is None and token_code is None:
            return False
        if serial_number is None or token_code is None or caller.user_id is None:
            raise InvalidInput("SerialNumber and TokenCode go together")
        await self.verify_mfa_code(
            caller.tenant_id or "", caller.user_id, serial_number, token_code
        )
        return True

    async def _issue(
        self,
        tenant_id: str,
        source: SessionSource,
        duration: int,
        mfa_present: bool,
        *,
        user_id: str | None = None,
        role: Role | None = None,
        role_session_name: str | None = None,
        session_policy: SessionPolicy | None = None,
        session_tags: SessionTags | None = None,
        source_identity: str | None = None,
        allow_operator_access: bool = False,
    ) -> IssuedCredentials:
        now = self._now()
        key_id, secret = new_session_access_key_id(), new_secret_access_key()
        token = secrets.token_urlsafe(32)  # 256 bits
        session = SessionCredentials(
            access_key_id=key_id,
            tenant_id=tenant_id,
            token_hash=_token_hash(token),
            source=source,
            mfa_present=mfa_present,
            created_at=now,
            expires_at=now + timedelta(seconds=duration),
            user_id=user_id,
            role_id=role.id if role else None,
            role_session_name=role_session_name,
            session_policy=session_policy,
            session_tags=session_tags,
            source_identity=source_identity,
        )
        await self._store.create_session(session, self._sealer.seal(key_id, secret))
        _, principal = await self.resolve_access_key(
            key_id, token, allow_operator_access=allow_operator_access
        )
        return IssuedCredentials(key_id, secret, token, session.expires_at, principal)

    async def purge_expired_sessions(self) -> int:
        return await self._store.delete_expired_sessions(self._now())


def _key_use(noted: tuple[float, str, str]) -> KeyUse:
    when, service, region = noted
    return KeyUse(datetime.fromtimestamp(when, UTC), service, region)


def _role_principal(role: Role, session: SessionCredentials) -> Principal:
    name = session.role_session_name or ""
    return Principal(
        tenant_id=role.tenant_id,
        user_id=role.id,
        user_name=role.name,
        kind=PrincipalKind.ROLE_SESSION,
        arn=f"arn:aws:sts::{role.tenant_id}:assumed-role/{role.name}/{name}",
        mfa_present=session.mfa_present,
        session_expires_at=session.expires_at,
        session_name=name,
        session_policy=session.session_policy,
        session_tags=session.session_tags,
        source_identity=session.source_identity,
    )


def _federated_principal(user: User, session: SessionCredentials) -> Principal:
    """A GetFederationToken session: its own ARN and name, the user's id (whose policies it
    is limited to) and name."""
    name = session.role_session_name or ""
    return Principal(
        tenant_id=user.tenant_id,
        user_id=user.id,
        user_name=user.name,
        kind=PrincipalKind.FEDERATED_USER,
        arn=federated_user_arn(user.tenant_id, name),
        session_expires_at=session.expires_at,
        session_name=name,
        session_policy=session.session_policy,
        session_tags=session.session_tags,
    )


def check_federated_name(name: str) -> str:
    """GetFederationToken's ``Name``: 2 to 32 of the characters of a session name."""
    if not _FEDERATED_NAME.fullmatch(name):
        raise InvalidInput("Name must be 2 to 32 characters of [\\w+=,.@-]")
    return name


def check_session_name(name: str) -> str:
    if not _SESSION_NAME.fullmatch(name):
        raise InvalidInput("RoleSessionName must be 2 to 64 characters of [\\w+=,.@-]")
    return name


def check_duration(given: int | None, default: int, lower: int, upper: int) -> int:
    """``given`` (``default`` when None, capped at ``upper``), InvalidInput outside the bounds."""
    duration = default if given is None else given
    if given is None:
        duration = min(default, upper)
    if not lower <= duration <= upper:
        raise InvalidInput(f"DurationSeconds must be between {lower} and {upper}")
    return duration
