"""Identity store on SQLAlchemy Core (SQLite now, PostgreSQL with the distributed issue).

Tenants, named entities (users, groups, roles, managed policies), group membership, access keys
and operators live here; policies' versions, attachments and inline documents, MFA devices,
temporary credentials and console logins in :mod:`store_sql_grants`, instance profiles in
:mod:`store_sql_profiles` (both mixed in below). Every check that guards a write runs inside
that write's transaction, on the single writer.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
    TenantAlreadyExists,
)
from andromede.iam.model import (
    AccessKey,
    AccessKeyStatus,
    EntityType,
    Group,
    KeyUse,
    ManagedPolicy,
    Operator,
    Role,
    Tenant,
    TenantQuota,
    TenantStatus,
    User,
)
from andromede.iam.store import Entity
from andromede.iam.store_sql_certificates import SqlServerCertificatesMixin
from andromede.iam.store_sql_grants import SqlGrantsMixin
from andromede.iam.store_sql_oidc import SqlOidcProvidersMixin
from andromede.iam.store_sql_profiles import SqlInstanceProfilesMixin, stored_tags, tags_text
from andromede.iam.store_sql_reports import SqlCredentialReportsMixin
from andromede.iam.store_sql_saml import SqlSamlProvidersMixin

__all__ = ["SqlIdentityStore"]

_TABLES: dict[type[Any], sa.Table] = {
    User: tables.users,
    Group: tables.iam_groups,
    Role: tables.iam_roles,
    ManagedPolicy: tables.managed_policies,
}
_ENTITY_TYPES: dict[type[Any], EntityType] = {
    User: EntityType.USER,
    Group: EntityType.GROUP,
    Role: EntityType.ROLE,
}


def _tenant(row: Any) -> Tenant:
    return Tenant(
        id=row.id, name=row.name, status=TenantStatus(row.status), created_at=row.created_at
    )


def _key(row: Any, user_column: str = "user_id") -> AccessKey:
    return AccessKey(
        access_key_id=row.access_key_id,
        user_id=getattr(row, user_column),
        status=AccessKeyStatus(row.status),
        created_at=row.created_at,
        last_used_at=getattr(row, "last_used_at", None),
        last_used_service=getattr(row, "last_used_service", None),
        last_used_region=getattr(row, "last_used_region", None),
    )


def _entity(kind: type[Entity], row: Any) -> Entity:
    entity: Entity = _build(kind, row)  # typed here: _build's branches differ per kind
    return entity


def _build(kind: type[Any], row: Any) -> Any:
    if kind is User:
        return User(
            id=row.id,
            tenant_id=row.tenant_id,
            name=row.name,
            is_root=bool(row.is_root),
            created_at=row.created_at,
            path=row.path,
            permissions_boundary=row.permissions_boundary,
            tags=stored_tags(row.tags),
        )
    if kind is Group:
        return Group(
            id=row.id,
            tenant_id=row.tenant_id,
            name=row.name,
            path=row.path,
            created_at=row.created_at,
        )
    if kind is Role:
        return Role(
            id=row.id,
            tenant_id=row.tenant_id,
            name=row.name,
            path=row.path,
            created_at=row.created_at,
            assume_role_policy_document=row.assume_role_policy,
            max_session_duration=row.max_session_duration,
            description=row.description,
            permissions_boundary=row.permissions_boundary,
            tags=stored_tags(row.tags),
        )
    return ManagedPolicy(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        path=row.path,
        created_at=row.created_at,
        default_version_id=row.default_version,
        description=row.description,
        attachment_count=int(row.attachment_count),
        updated_at=row.updated_at,
        tags=stored_tags(row.tags),
    )


def _values(entity: User | Group | Role) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": entity.id,
        "tenant_id": entity.tenant_id,
        "name": entity.name,
        "name_key": entity.name.lower(),
        "path": entity.path,
        "created_at": entity.created_at,
    }
    if isinstance(entity, User):
        values["is_root"] = entity.is_root
        values["permissions_boundary"] = entity.permissions_boundary
        values["tags"] = tags_text(entity.tags)
    elif isinstance(entity, Role):
        values["assume_role_policy"] = entity.assume_role_policy_document
        values["max_session_duration"] = entity.max_session_duration
        values["description"] = entity.description
        values["permissions_boundary"] = entity.permissions_boundary
        values["tags"] = tags_text(entity.tags)
    return values


def _select(kind: type[Any]) -> sa.Select[Any]:
    table = _TABLES[kind]
    if kind is not ManagedPolicy:
        return sa.select(table)
    a = tables.policy_attachments
    count = (
        sa.select(sa.func.count())
        .where(a.c.policy_id == table.c.id)
        .scalar_subquery()
        .label("attachment_count")
    )
    return sa.select(table, count)


class SqlIdentityStore(
    SqlGrantsMixin,
    SqlInstanceProfilesMixin,
    SqlOidcProvidersMixin,
    SqlSamlProvidersMixin,
    SqlServerCertificatesMixin,
    SqlCredentialReportsMixin,
):
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- tenants --------------------------------------------------------------------------------
    async def count_tenants(self) -> int:
        query = sa.select(sa.func.count()).select_from(tables.tenants)
        count = await self._db.read(lambda conn: conn.scalar(query))
        return int(count or 0)

    async def create_tenant_with_root(
        self, tenant: Tenant, root: User, key: AccessKey, secret_sealed: str
    ) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                tables.tenants.insert().values(
                    id=tenant.id,
                    name=tenant.name,
                    status=tenant.status.value,
                    created_at=tenant.created_at,
                )
            )
            conn.execute(tables.users.insert().values(**_values(root)))
            conn.execute(
                tables.access_keys.insert().values(
                    access_key_id=key.access_key_id,
                    user_id=key.user_id,
                    secret_sealed=secret_sealed,
                    status=key.status.value,
                    created_at=key.created_at,
                    last_used_at=key.last_used_at,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise TenantAlreadyExists(tenant.name) from exc

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        t = tables.tenants
        row = await self._first(sa.select(t).where(t.c.id == tenant_id))
        return None if row is None else _tenant(row)

    async def get_tenant_by_name(self, name: str) -> Tenant | None:
        t = tables.tenants
        row = await self._first(sa.select(t).where(t.c.name == name))
        return None if row is None else _tenant(row)

    async def list_tenants(self) -> list[Tenant]:
        t = tables.tenants
        return [_tenant(row) for row in await self._all(sa.select(t).order_by(t.c.name))]

    async def set_tenant_status(self, tenant_id: str, status: TenantStatus) -> None:
        t, u, k = tables.tenants, tables.users, tables.access_keys

        def work(conn: Connection) -> None:
            done = conn.execute(t.update().where(t.c.id == tenant_id).values(status=status.value))
            if done.rowcount == 0:
                raise NoSuchEntity(tenant_id)
            if status is not TenantStatus.CLOSED:
                return
            users = sa.select(u.c.id).where(u.c.tenant_id == tenant_id)
            conn.execute(
                k.update()
                .where(k.c.user_id.in_(users))
                .values(status=AccessKeyStatus.INACTIVE.value)
            )
            s, c = tables.session_credentials, tables.console_sessions
            conn.execute(s.delete().where(s.c.tenant_id == tenant_id))
            conn.execute(c.delete().where(c.c.tenant_id == tenant_id))

        await self._db.write(work)

    async def get_quota(self, tenant_id: str) -> TenantQuota:
        q = tables.tenant_quotas
        row = await self._first(sa.select(q).where(q.c.tenant_id == tenant_id))
        if row is None:
            return TenantQuota(tenant_id=tenant_id)
        return TenantQuota(tenant_id, max_buckets=row.max_buckets, max_bytes=row.max_bytes)

    async def put_quota(self, quota: TenantQuota) -> None:
        q = tables.tenant_quotas

        def work(conn: Connection) -> None:
            conn.execute(q.delete().where(q.c.tenant_id == quota.tenant_id))
            conn.execute(
                q.insert().values(
                    tenant_id=quota.tenant_id,
                    max_buckets=quota.max_buckets,
                    max_bytes=quota.max_bytes,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise NoSuchEntity(quota.tenant_id) from exc

    async def get_allowed_regions(self, tenant_id: str) -> frozenset[str]:
        r = tables.tenant_regions
        query = sa.select(r.c.region).where(r.c.tenant_id == tenant_id)
        return frozenset(await self._db.read(lambda conn: conn.scalars(query).all()))

    async def put_allowed_regions(self, tenant_id: str, regions: frozenset[str]) -> None:
        r = tables.tenant_regions

        def work(conn: Connection) -> None:
            conn.execute(r.delete().where(r.c.tenant_id == tenant_id))
            if regions:
                conn.execute(
                    r.insert(), [{"tenant_id": tenant_id, "region": name} for name in regions]
                )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise NoSuchEntity(tenant_id) from exc

    async def count_entities(self, tenant_id: str) -> dict[str, int]:
        u, k, m = tables.users, tables.access_keys, tables.mfa_devices

        def count(conn: Connection, query: sa.Select[Any]) -> int:
            return int(conn.scalar(query) or 0)

        def work(conn: Connection) -> dict[str, int]:
            n = sa.func.count()
            in_tenant = u.c.tenant_id == tenant_id
            roots = sa.select(u.c.id).where(in_tenant, u.c.is_root.is_(True))
            users = sa.select(u.c.id).where(in_tenant, u.c.is_root.is_(False))
            result = {
                "Users": count(conn, sa.select(n).select_from(u).where(u.c.id.in_(users))),
                "MFADevices": count(conn, sa.select(n).where(m.c.tenant_id == tenant_id)),
                "MFADevicesInUse": count(
                    conn, sa.select(n).where(m.c.tenant_id == tenant_id, m.c.user_id.is_not(None))
                ),
                "AccessKeys": count(conn, sa.select(n).where(k.c.user_id.in_(users))),
                "RootAccessKeys": count(conn, sa.select(n).where(k.c.user_id.in_(roots))),
                "RootMFADevices": count(conn, sa.select(n).where(m.c.user_id.in_(roots))),
            }
            for label, table in (
                ("Groups", tables.iam_groups),
                ("Roles", tables.iam_roles),
                ("InstanceProfiles", tables.instance_profiles),
                ("Policies", tables.managed_policies),
            ):
                result[label] = count(conn, sa.select(n).where(table.c.tenant_id == tenant_id))
            return result

        return await self._db.read(work)

    # -- named entities --------------------------------------------------------------------------
    async def create_entity(self, entity: User | Group | Role) -> None:
        table = _TABLES[type(entity)]
        try:
            await self._db.write(lambda conn: conn.execute(table.insert().values(_values(entity))))
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(entity.name) from exc

    async def get_entity(self, kind: type[Entity], tenant_id: str, name: str) -> Entity | None:
        table = _TABLES[kind]
        query = _select(kind).where(
            table.c.tenant_id == tenant_id, table.c.name_key == name.lower()
        )
        row = await self._first(query)
        return None if row is None else _entity(kind, row)

    async def get_entity_by_id(self, kind: type[Entity], entity_id: str) -> Entity | None:
        row = await self._first(_select(kind).where(_TABLES[kind].c.id == entity_id))
        return None if row is None else _entity(kind, row)

    async def list_entities(
        self, kind: type[Entity], tenant_id: str, path_prefix: str, after: str | None, limit: int
    ) -> list[Entity]:
        table = _TABLES[kind]
        query = _select(kind).where(table.c.tenant_id == tenant_id)
        if path_prefix != "/":
            query = query.where(table.c.path.startswith(path_prefix, autoescape=True))
        if kind is User:
            query = query.where(table.c.is_root.is_(False))
        if after is not None:
            query = query.where(table.c.name_key > after)
        query = query.order_by(table.c.name_key).limit(limit)
        return [_entity(kind, row) for row in await self._all(query)]

    async def update_entity(self, entity: User | Group | Role) -> None:
        table = _TABLES[type(entity)]
        values = _values(entity)
        del values["id"], values["tenant_id"], values["created_at"]

        def work(conn: Connection) -> None:
            done = conn.execute(table.update().where(table.c.id == entity.id).values(values))
            if done.rowcount == 0:
                raise NoSuchEntity(entity.name)

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(entity.name) from exc

    async def delete_entity(
        self, kind: type[User] | type[Group] | type[Role] | type[ManagedPolicy], entity_id: str
    ) -> None:
        table = _TABLES[kind]

        def work(conn: Connection) -> None:
            if conn.execute(sa.select(table.c.id).where(table.c.id == entity_id)).first() is None:
                raise NoSuchEntity(entity_id)
            if kind is ManagedPolicy:
                _check_policy_deletable(conn, entity_id)
                v = tables.policy_versions
                conn.execute(v.delete().where(v.c.policy_id == entity_id))
            else:
                _check_nothing_hangs_off(conn, _ENTITY_TYPES[kind], entity_id)
            conn.execute(table.delete().where(table.c.id == entity_id))

        await self._db.write(work)

    # -- group membership ----------------------------------------------------------------------
    async def add_group_member(self, group_id: str, user_id: str) -> None:
        gm = tables.group_members

        def work(conn: Connection) -> None:
            present = sa.select(gm.c.group_id).where(
                gm.c.group_id == group_id, gm.c.user_id == user_id
            )
            if conn.execute(present).first() is None:
                conn.execute(gm.insert().values(group_id=group_id, user_id=user_id))

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise NoSuchEntity(group_id) from exc

    async def remove_group_member(self, group_id: str, user_id: str) -> bool:
        gm = tables.group_members
        query = gm.delete().where(gm.c.group_id == group_id, gm.c.user_id == user_id)
        return bool(await self._db.write(lambda conn: conn.execute(query).rowcount))

    async def list_groups_for_user(self, user_id: str) -> list[Group]:
        g, gm = tables.iam_groups, tables.group_members
        query = (
            sa.select(g)
            .join(gm, gm.c.group_id == g.c.id)
            .where(gm.c.user_id == user_id)
            .order_by(g.c.name_key)
        )
        return [_entity(Group, row) for row in await self._all(query)]

    async def list_group_members(self, group_id: str) -> list[User]:
        u, gm = tables.users, tables.group_members
        query = (
            sa.select(u)
            .join(gm, gm.c.user_id == u.c.id)
            .where(gm.c.group_id == group_id)
            .order_by(u.c.name_key)
        )
        return [_entity(User, row) for row in await self._all(query)]

    # -- access keys -------------------------------------------------------------------------
    async def create_access_key(self, key: AccessKey, secret_sealed: str, limit: int) -> None:
        k = tables.access_keys

        def work(conn: Connection) -> None:
            count = conn.scalar(sa.select(sa.func.count()).where(k.c.user_id == key.user_id))
            if int(count or 0) >= limit:
                raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {limit}")
            conn.execute(
                k.insert().values(
                    access_key_id=key.access_key_id,
                    user_id=key.user_id,
                    secret_sealed=secret_sealed,
                    status=key.status.value,
                    created_at=key.created_at,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise NoSuchEntity(key.user_id) from exc

    async def get_access_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        k = tables.access_keys
        row = await self._first(sa.select(k).where(k.c.access_key_id == access_key_id))
        return None if row is None else (_key(row), str(row.secret_sealed))

    async def list_access_keys(self, user_id: str) -> list[AccessKey]:
        k = tables.access_keys
        query = (
            sa.select(k).where(k.c.user_id == user_id).order_by(k.c.created_at, k.c.access_key_id)
        )
        return [_key(row) for row in await self._all(query)]

    async def set_access_key_status(self, access_key_id: str, status: AccessKeyStatus) -> bool:
        k = tables.access_keys
        query = k.update().where(k.c.access_key_id == access_key_id).values(status=status.value)
        return bool(await self._db.write(lambda conn: conn.execute(query).rowcount))

    async def delete_access_key(self, access_key_id: str) -> bool:
        k = tables.access_keys
        query = k.delete().where(k.c.access_key_id == access_key_id)
        return bool(await self._db.write(lambda conn: conn.execute(query).rowcount))

    async def record_key_uses(self, uses: dict[str, KeyUse]) -> None:
        k = tables.access_keys

        def work(conn: Connection) -> None:
            for key_id, use in uses.items():
                conn.execute(
                    k.update()
                    .where(
                        k.c.access_key_id == key_id,
                        sa.or_(k.c.last_used_at.is_(None), k.c.last_used_at < use.when),
                    )
                    .values(
                        last_used_at=use.when,
                        last_used_service=use.service,
                        last_used_region=use.region,
                    )
                )

        if uses:
            await self._db.write(work)

    # -- platform operators ------------------------------------------------------------------
    async def create_operator(self, operator: Operator, key: AccessKey, secret_sealed: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                tables.operators.insert().values(
                    id=operator.id, name=operator.name, created_at=operator.created_at
                )
            )
            conn.execute(
                tables.operator_access_keys.insert().values(
                    access_key_id=key.access_key_id,
                    operator_id=operator.id,
                    secret_sealed=secret_sealed,
                    status=key.status.value,
                    created_at=key.created_at,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(operator.name) from exc

    async def get_operator(self, operator_id: str) -> Operator | None:
        o = tables.operators
        row = await self._first(sa.select(o).where(o.c.id == operator_id))
        return None if row is None else Operator(row.id, row.name, row.created_at)

    async def list_operators(self) -> list[Operator]:
        o = tables.operators
        rows = await self._all(sa.select(o).order_by(o.c.name))
        return [Operator(row.id, row.name, row.created_at) for row in rows]

    async def get_operator_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        k = tables.operator_access_keys
        row = await self._first(sa.select(k).where(k.c.access_key_id == access_key_id))
        return None if row is None else (_key(row, "operator_id"), str(row.secret_sealed))


def _exists(conn: Connection, query: sa.Select[Any]) -> bool:
    return conn.execute(query.limit(1)).first() is not None


def _check_policy_deletable(conn: Connection, policy_id: str) -> None:
    a, v = tables.policy_attachments, tables.policy_versions
    if _exists(conn, sa.select(a.c.policy_id).where(a.c.policy_id == policy_id)):
        raise DeleteConflict("the policy is still attached")
    versions = conn.scalar(sa.select(sa.func.count()).where(v.c.policy_id == policy_id))
    if int(versions or 0) > 1:
        raise DeleteConflict("the policy has versions other than the default")


def _check_nothing_hangs_off(conn: Connection, entity_type: EntityType, entity_id: str) -> None:
    a, i = tables.policy_attachments, tables.inline_policies
    mine_a = sa.and_(a.c.entity_type == entity_type.value, a.c.entity_id == entity_id)
    if _exists(conn, sa.select(a.c.policy_id).where(mine_a)):
        raise DeleteConflict("it still has attached policies")
    mine_i = sa.and_(i.c.entity_type == entity_type.value, i.c.entity_id == entity_id)
    if _exists(conn, sa.select(i.c.name).where(mine_i)):
        raise DeleteConflict("it still has inline policies")
    gm = tables.group_members
    if entity_type is EntityType.ROLE:
        pr = tables.instance_profile_roles
        if _exists(conn, sa.select(pr.c.profile_id).where(pr.c.role_id == entity_id)):
            raise DeleteConflict("the role is still in an instance profile")
        return
    if entity_type is EntityType.GROUP:
        if _exists(conn, sa.select(gm.c.user_id).where(gm.c.group_id == entity_id)):
            raise DeleteConflict("the group still has members")
        return
    if entity_type is not EntityType.USER:
        return
    k, m, p = tables.access_keys, tables.mfa_devices, tables.login_profiles
    checks = (
        (sa.select(k.c.access_key_id).where(k.c.user_id == entity_id), "access keys"),
        (sa.select(gm.c.group_id).where(gm.c.user_id == entity_id), "group memberships"),
        (sa.select(m.c.serial).where(m.c.user_id == entity_id), "an MFA device"),
        (sa.select(p.c.user_id).where(p.c.user_id == entity_id), "a login profile"),
    )
    for query, what in checks:
        if _exists(conn, query):
            raise DeleteConflict(f"the user still has {what}")
    # Console sessions end with the user; they are not something an admin must detach first.
    c = tables.console_sessions
    conn.execute(c.delete().where(c.c.user_id == entity_id))
