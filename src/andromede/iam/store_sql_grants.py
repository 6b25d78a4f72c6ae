"""The SQL identity store's second half: what grants or proves access.

Managed policies' versions and attachments, inline policies, virtual MFA devices, temporary
credentials and console logins. Mixed into :class:`SqlIdentityStore`; split off only for size.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from andromede.iam.model import (
    ConsoleSession,
    EntityType,
    InlinePolicy,
    LoginProfile,
    ManagedPolicy,
    MfaDevice,
    PolicyVersion,
    SessionCredentials,
    SessionPolicy,
    SessionSource,
    SessionTags,
)
from andromede.iam.store_sql_profiles import stored_tags, tags_text

__all__ = ["SqlGrantsMixin"]


def _version(row: Any, default: str) -> PolicyVersion:
    return PolicyVersion(
        policy_id=row.policy_id,
        version_id=row.version_id,
        document=row.document,
        created_at=row.created_at,
        is_default=row.version_id == default,
    )


def _device(row: Any) -> MfaDevice:
    return MfaDevice(
        serial=row.serial,
        tenant_id=row.tenant_id,
        name=row.name,
        path=row.path,
        seed_sealed=row.seed_sealed,
        created_at=row.created_at,
        user_id=row.user_id,
        enabled_at=row.enabled_at,
        last_step=row.last_step,
        tags=stored_tags(row.tags),
    )


def _default_version(conn: Connection, policy_id: str) -> str:
    p = tables.managed_policies
    default = conn.scalar(sa.select(p.c.default_version).where(p.c.id == policy_id))
    if default is None:
        raise NoSuchEntity(policy_id)
    return str(default)


class SqlGrantsMixin:
    _db: Database

    async def _first(self, query: sa.Select[Any]) -> Any:
        return await self._db.read(lambda conn: conn.execute(query).first())

    async def _all(self, query: sa.Select[Any]) -> list[Any]:
        return await self._db.read(lambda conn: list(conn.execute(query)))

    async def _write_count(self, statement: Any) -> int:
        return int(await self._db.write(lambda conn: conn.execute(statement).rowcount))

    # -- managed policies and their versions -----------------------------------------------
    async def create_policy(self, policy: ManagedPolicy, first: PolicyVersion) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                tables.managed_policies.insert().values(
                    id=policy.id,
                    tenant_id=policy.tenant_id,
                    name=policy.name,
                    name_key=policy.name.lower(),
                    path=policy.path,
                    created_at=policy.created_at,
                    updated_at=policy.updated_at,
                    description=policy.description,
                    default_version=first.version_id,
                    next_version=2,
                    tags=tags_text(policy.tags),
                )
            )
            conn.execute(
                tables.policy_versions.insert().values(
                    policy_id=policy.id,
                    version_id=first.version_id,
                    version_number=1,
                    document=first.document,
                    created_at=first.created_at,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(policy.name) from exc

    async def create_policy_version(
        self, policy_id: str, document: str, created_at: datetime, set_default: bool, limit: int
    ) -> PolicyVersion:
        p, v = tables.managed_policies, tables.policy_versions

        def work(conn: Connection) -> PolicyVersion:
            number = conn.scalar(sa.select(p.c.next_version).where(p.c.id == policy_id))
            if number is None:
                raise NoSuchEntity(policy_id)
            count = conn.scalar(sa.select(sa.func.count()).where(v.c.policy_id == policy_id))
            if int(count or 0) >= limit:
                raise LimitExceeded(f"A managed policy can have up to {limit} versions")
            version_id = f"v{number}"
            conn.execute(
                v.insert().values(
                    policy_id=policy_id,
                    version_id=version_id,
                    version_number=number,
                    document=document,
                    created_at=created_at,
                )
            )
            changes: dict[str, Any] = {"next_version": number + 1, "updated_at": created_at}
            if set_default:
                changes["default_version"] = version_id
            conn.execute(p.update().where(p.c.id == policy_id).values(changes))
            return PolicyVersion(policy_id, version_id, document, created_at, set_default)

        return await self._db.write(work)

    async def get_policy_version(self, policy_id: str, version_id: str) -> PolicyVersion | None:
        p, v = tables.managed_policies, tables.policy_versions
        query = (
            sa.select(v, p.c.default_version)
            .join(p, p.c.id == v.c.policy_id)
            .where(v.c.policy_id == policy_id, v.c.version_id == version_id)
        )
        row = await self._first(query)
        return None if row is None else _version(row, row.default_version)

    async def list_policy_versions(self, policy_id: str) -> list[PolicyVersion]:
        v = tables.policy_versions

        def work(conn: Connection) -> list[PolicyVersion]:
            default = _default_version(conn, policy_id)
            query = (
                sa.select(v).where(v.c.policy_id == policy_id).order_by(v.c.version_number.desc())
            )
            return [_version(row, default) for row in conn.execute(query)]

        return await self._db.read(work)

    async def delete_policy_version(self, policy_id: str, version_id: str) -> None:
        v = tables.policy_versions

        def work(conn: Connection) -> None:
            if _default_version(conn, policy_id) == version_id:
                raise DeleteConflict("Cannot delete the default version of a policy")
            mine = sa.and_(v.c.policy_id == policy_id, v.c.version_id == version_id)
            if conn.execute(v.delete().where(mine)).rowcount == 0:
                raise NoSuchEntity(version_id)

        await self._db.write(work)

    async def set_default_policy_version(self, policy_id: str, version_id: str) -> None:
        p, v = tables.managed_policies, tables.policy_versions

        def work(conn: Connection) -> None:
            mine = sa.and_(v.c.policy_id == policy_id, v.c.version_id == version_id)
            if conn.execute(sa.select(v.c.version_id).where(mine)).first() is None:
                raise NoSuchEntity(version_id)
            conn.execute(p.update().where(p.c.id == policy_id).values(default_version=version_id))

        await self._db.write(work)

    # -- attachments and inline policies ---------------------------------------------------
    async def attach_policy(
        self, entity_type: EntityType, entity_id: str, policy_id: str, limit: int
    ) -> None:
        a = tables.policy_attachments
        mine = sa.and_(a.c.entity_type == entity_type.value, a.c.entity_id == entity_id)

        def work(conn: Connection) -> None:
            if not conn.execute(
                sa.select(tables.managed_policies.c.id).where(
                    tables.managed_policies.c.id == policy_id
                )
            ).first():
                raise NoSuchEntity(policy_id)
            if conn.execute(
                sa.select(a.c.policy_id).where(mine, a.c.policy_id == policy_id)
            ).first():
                return
            if int(conn.scalar(sa.select(sa.func.count()).where(mine)) or 0) >= limit:
                raise LimitExceeded(f"Cannot exceed quota for PoliciesPerEntity: {limit}")
            conn.execute(
                a.insert().values(
                    entity_type=entity_type.value, entity_id=entity_id, policy_id=policy_id
                )
            )

        await self._db.write(work)

    async def detach_policy(self, entity_type: EntityType, entity_id: str, policy_id: str) -> bool:
        a = tables.policy_attachments
        return bool(
            await self._write_count(
                a.delete().where(
                    a.c.entity_type == entity_type.value,
                    a.c.entity_id == entity_id,
                    a.c.policy_id == policy_id,
                )
            )
        )

    async def list_attached_policies(
        self, entity_type: EntityType, entity_id: str
    ) -> list[ManagedPolicy]:
        p, a = tables.managed_policies, tables.policy_attachments
        other = a.alias("other")
        count = (
            sa.select(sa.func.count())
            .where(other.c.policy_id == p.c.id)
            .scalar_subquery()
            .label("attachment_count")
        )
        query = (
            sa.select(p, count)
            .join(a, a.c.policy_id == p.c.id)
            .where(a.c.entity_type == entity_type.value, a.c.entity_id == entity_id)
            .order_by(p.c.name_key)
        )
        return [
            ManagedPolicy(
                id=row.id,
                tenant_id=row.tenant_id,
                name=row.name,
                path=row.path,
                created_at=row.created_at,
                default_version_id=row.default_version,
                description=row.description,
                attachment_count=int(row.attachment_count),
                updated_at=row.updated_at,
            )
            for row in await self._all(query)
        ]

    async def list_policy_attachments(self, policy_id: str) -> list[tuple[EntityType, str]]:
        a = tables.policy_attachments
        query = (
            sa.select(a.c.entity_type, a.c.entity_id)
            .where(a.c.policy_id == policy_id)
            .order_by(a.c.entity_type, a.c.entity_id)
        )
        return [(EntityType(row.entity_type), row.entity_id) for row in await self._all(query)]

    async def put_inline_policy(self, policy: InlinePolicy) -> None:
        i = tables.inline_policies
        mine = sa.and_(
            i.c.entity_type == policy.entity_type.value,
            i.c.entity_id == policy.entity_id,
            i.c.name == policy.name,
        )

        def work(conn: Connection) -> None:
            conn.execute(i.delete().where(mine))
            conn.execute(
                i.insert().values(
                    entity_type=policy.entity_type.value,
                    entity_id=policy.entity_id,
                    name=policy.name,
                    document=policy.document,
                )
            )

        await self._db.write(work)

    async def get_inline_policy(
        self, entity_type: EntityType, entity_id: str, name: str
    ) -> InlinePolicy | None:
        i = tables.inline_policies
        query = sa.select(i.c.document).where(
            i.c.entity_type == entity_type.value, i.c.entity_id == entity_id, i.c.name == name
        )
        row = await self._first(query)
        return None if row is None else InlinePolicy(entity_type, entity_id, name, row.document)

    async def list_inline_policies(
        self, entity_type: EntityType, entity_id: str
    ) -> list[InlinePolicy]:
        i = tables.inline_policies
        query = (
            sa.select(i.c.name, i.c.document)
            .where(i.c.entity_type == entity_type.value, i.c.entity_id == entity_id)
            .order_by(i.c.name)
        )
        return [
            InlinePolicy(entity_type, entity_id, row.name, row.document)
            for row in await self._all(query)
        ]

    async def delete_inline_policy(
        self, entity_type: EntityType, entity_id: str, name: str
    ) -> bool:
        i = tables.inline_policies
        return bool(
            await self._write_count(
                i.delete().where(
                    i.c.entity_type == entity_type.value,
                    i.c.entity_id == entity_id,
                    i.c.name == name,
                )
            )
        )

    async def policy_documents_for(self, entities: list[tuple[EntityType, str]]) -> list[str]:
        if not entities:
            return []
        i, a = tables.inline_policies, tables.policy_attachments
        p, v = tables.managed_policies, tables.policy_versions
        keys = [sa.and_(i.c.entity_type == t.value, i.c.entity_id == e) for t, e in entities]
        inline = sa.select(i.c.document).where(sa.or_(*keys))
        attached_keys = [
            sa.and_(a.c.entity_type == t.value, a.c.entity_id == e) for t, e in entities
        ]
        managed = (
            sa.select(v.c.document)
            .join(p, p.c.id == v.c.policy_id)
            .join(a, a.c.policy_id == p.c.id)
            .where(v.c.version_id == p.c.default_version, sa.or_(*attached_keys))
        )

        def work(conn: Connection) -> list[str]:
            return [row.document for row in conn.execute(inline)] + [
                row.document for row in conn.execute(managed)
            ]

        return await self._db.read(work)

    # -- virtual MFA devices -----------------------------------------------------------------
    async def create_mfa_device(self, device: MfaDevice) -> None:
        m = tables.mfa_devices
        try:
            await self._db.write(
                lambda conn: conn.execute(
                    m.insert().values(
                        serial=device.serial,
                        tenant_id=device.tenant_id,
                        name=device.name,
                        path=device.path,
                        seed_sealed=device.seed_sealed,
                        created_at=device.created_at,
                        user_id=device.user_id,
                        enabled_at=device.enabled_at,
                        last_step=device.last_step,
                        tags=tags_text(device.tags),
                    )
                )
            )
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(device.serial) from exc

    async def get_mfa_device(self, serial: str) -> MfaDevice | None:
        m = tables.mfa_devices
        row = await self._first(sa.select(m).where(m.c.serial == serial))
        return None if row is None else _device(row)

    async def list_mfa_devices(self, tenant_id: str, user_id: str | None) -> list[MfaDevice]:
        m = tables.mfa_devices
        query = sa.select(m).where(m.c.tenant_id == tenant_id).order_by(m.c.serial)
        if user_id is not None:
            query = query.where(m.c.user_id == user_id)
        return [_device(row) for row in await self._all(query)]

    async def enable_mfa_device(
        self, serial: str, user_id: str, enabled_at: datetime, last_step: int
    ) -> None:
        m = tables.mfa_devices

        def work(conn: Connection) -> None:
            row = conn.execute(sa.select(m.c.user_id).where(m.c.serial == serial)).first()
            if row is None:
                raise NoSuchEntity(serial)
            if row.user_id is not None:
                raise EntityAlreadyExists(serial)
            conn.execute(
                m.update()
                .where(m.c.serial == serial)
                .values(user_id=user_id, enabled_at=enabled_at, last_step=last_step)
            )

        await self._db.write(work)

    async def deactivate_mfa_device(self, serial: str) -> bool:
        m = tables.mfa_devices
        return bool(
            await self._write_count(
                m.update()
                .where(m.c.serial == serial, m.c.user_id.is_not(None))
                .values(user_id=None, enabled_at=None)
            )
        )

    async def accept_mfa_step(self, serial: str, step: int) -> bool:
        m = tables.mfa_devices
        return bool(
            await self._write_count(
                m.update()
                .where(m.c.serial == serial, sa.or_(m.c.last_step.is_(None), m.c.last_step < step))
                .values(last_step=step)
            )
        )

    async def delete_mfa_device(self, serial: str) -> None:
        m = tables.mfa_devices

        def work(conn: Connection) -> None:
            row = conn.execute(sa.select(m.c.user_id).where(m.c.serial == serial)).first()
            if row is None:
                raise NoSuchEntity(serial)
            if row.user_id is not None:
                raise DeleteConflict("the MFA device is still assigned to a user")
            conn.execute(m.delete().where(m.c.serial == serial))

        await self._db.write(work)

    # -- temporary credentials (STS) -----------------------------------------------------------
    async def create_session(self, session: SessionCredentials, secret_sealed: str) -> None:
        s = tables.session_credentials
        await self._db.write(
            lambda conn: conn.execute(
                s.insert().values(
                    access_key_id=session.access_key_id,
                    tenant_id=session.tenant_id,
                    secret_sealed=secret_sealed,
                    token_hash=session.token_hash,
                    source=session.source.value,
                    mfa_present=session.mfa_present,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                    user_id=session.user_id,
                    role_id=session.role_id,
                    role_session_name=session.role_session_name,
                    session_policy=(
                        None if session.session_policy is None else session.session_policy.to_json()
                    ),
                    session_tags=(
                        None if session.session_tags is None else session.session_tags.to_json()
                    ),
                    source_identity=session.source_identity,
                )
            )
        )

    async def get_session(self, access_key_id: str) -> tuple[SessionCredentials, str] | None:
        s = tables.session_credentials
        row = await self._first(sa.select(s).where(s.c.access_key_id == access_key_id))
        if row is None:
            return None
        session = SessionCredentials(
            access_key_id=row.access_key_id,
            tenant_id=row.tenant_id,
            token_hash=row.token_hash,
            source=SessionSource(row.source),
            mfa_present=bool(row.mfa_present),
            created_at=row.created_at,
            expires_at=row.expires_at,
            user_id=row.user_id,
            role_id=row.role_id,
            role_session_name=row.role_session_name,
            session_policy=SessionPolicy.from_json(row.session_policy),
            session_tags=SessionTags.from_json(row.session_tags),
            source_identity=row.source_identity,
        )
        return session, str(row.secret_sealed)

    async def delete_expired_sessions(self, now: datetime) -> int:
        s = tables.session_credentials
        return await self._write_count(s.delete().where(s.c.expires_at <= now))

    # -- console login -----------------------------------------------------------------------
    async def put_login_profile(self, profile: LoginProfile) -> None:
        lp = tables.login_profiles

        def work(conn: Connection) -> None:
            conn.execute(lp.delete().where(lp.c.user_id == profile.user_id))
            conn.execute(
                lp.insert().values(
                    user_id=profile.user_id,
                    password_hash=profile.password_hash,
                    created_at=profile.created_at,
                    failed_attempts=profile.failed_attempts,
                    locked_until=profile.locked_until,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise NoSuchEntity(profile.user_id) from exc

    async def get_login_profile(self, user_id: str) -> LoginProfile | None:
        lp = tables.login_profiles
        row = await self._first(sa.select(lp).where(lp.c.user_id == user_id))
        if row is None:
            return None
        return LoginProfile(
            user_id=row.user_id,
            password_hash=row.password_hash,
            created_at=row.created_at,
            failed_attempts=row.failed_attempts,
            locked_until=row.locked_until,
        )

    async def delete_login_profile(self, user_id: str) -> bool:
        lp, c = tables.login_profiles, tables.console_sessions

        def work(conn: Connection) -> int:
            conn.execute(c.delete().where(c.c.user_id == user_id))
            return int(conn.execute(lp.delete().where(lp.c.user_id == user_id)).rowcount)

        return bool(await self._db.write(work))

    async def record_login_attempt(
        self, user_id: str, failed_attempts: int, locked_until: datetime | None
    ) -> None:
        lp = tables.login_profiles
        await self._write_count(
            lp.update()
            .where(lp.c.user_id == user_id)
            .values(failed_attempts=failed_attempts, locked_until=locked_until)
        )

    async def create_console_session(self, session: ConsoleSession) -> None:
        c = tables.console_sessions
        await self._write_count(
            c.insert().values(
                token_hash=session.token_hash,
                user_id=session.user_id,
                tenant_id=session.tenant_id,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                mfa_present=session.mfa_present,
                session_key_id=session.session_key_id,
            )
        )

    async def get_console_session(self, token_hash: str) -> ConsoleSession | None:
        c = tables.console_sessions
        row = await self._first(sa.select(c).where(c.c.token_hash == token_hash))
        if row is None:
            return None
        return ConsoleSession(
            token_hash=row.token_hash,
            user_id=row.user_id,
            tenant_id=row.tenant_id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            mfa_present=bool(row.mfa_present),
            session_key_id=row.session_key_id,
        )

    async def touch_console_session(self, token_hash: str, last_seen_at: datetime) -> None:
        c = tables.console_sessions
        await self._write_count(
            c.update().where(c.c.token_hash == token_hash).values(last_seen_at=last_seen_at)
        )

    async def delete_console_session(self, token_hash: str) -> bool:
        c = tables.console_sessions
        return bool(await self._write_count(c.delete().where(c.c.token_hash == token_hash)))

    async def delete_console_sessions_of_user(self, user_id: str) -> int:
        c = tables.console_sessions
        return await self._write_count(c.delete().where(c.c.user_id == user_id))
