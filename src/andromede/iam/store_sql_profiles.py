"""The SQL identity store's instance profiles: the profiles and the role each holds.

Mixed into :class:`~andromede.iam.store_sql.SqlIdentityStore`; split off only for size. A
profile holds at most one role because ``instance_profile_roles`` is keyed by the profile alone:
two gateways adding a role at once cannot both succeed, whatever the isolation level.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from andromede.iam.model import (
    ROLES_PER_INSTANCE_PROFILE,
    InstanceProfile,
    ManagedPolicy,
    MfaDevice,
    Role,
    Tags,
)

__all__ = ["SqlInstanceProfilesMixin", "stored_tags", "tags_text"]

_LIMIT = f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_INSTANCE_PROFILE}"


def tags_text(tags: Tags) -> str | None:
    """The column form of tags (NULL for none)."""
    return json.dumps([list(tag) for tag in tags]) if tags else None


def stored_tags(text: str | None) -> Tags:
    """A user's or role's tags from their column (JSON ``[[key, value], …]``; NULL: none)."""
    return () if text is None else tuple((key, value) for key, value in json.loads(text))


def _role(row: Any) -> Role:
    """The profile's role, whole: its tags answer aws:ResourceTag on iam:PassRole."""
    return Role(
        id=row.role_id,
        tenant_id=row.role_tenant_id,
        name=row.role_name,
        path=row.role_path,
        created_at=row.role_created_at,
        assume_role_policy_document=row.role_trust,
        max_session_duration=row.role_max_session_duration,
        description=row.role_description,
        permissions_boundary=row.role_permissions_boundary,
        tags=stored_tags(row.role_tags),
    )


def _select() -> sa.Select[Any]:
    """Profiles with their role, if any (one row per profile: it holds at most one)."""
    p, pr, r = tables.instance_profiles, tables.instance_profile_roles, tables.iam_roles
    return (
        sa.select(
            p,
            r.c.id.label("role_id"),
            r.c.tenant_id.label("role_tenant_id"),
            r.c.name.label("role_name"),
            r.c.path.label("role_path"),
            r.c.created_at.label("role_created_at"),
            r.c.assume_role_policy.label("role_trust"),
            r.c.max_session_duration.label("role_max_session_duration"),
            r.c.description.label("role_description"),
            r.c.permissions_boundary.label("role_permissions_boundary"),
            r.c.tags.label("role_tags"),
        )
        .select_from(p)
        .outerjoin(pr, pr.c.profile_id == p.c.id)
        .outerjoin(r, r.c.id == pr.c.role_id)
    )


def _profile(row: Any) -> InstanceProfile:
    return InstanceProfile(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        path=row.path,
        created_at=row.created_at,
        roles=() if row.role_id is None else (_role(row),),
        tags=stored_tags(row.tags),
    )


class SqlInstanceProfilesMixin:
    _db: Database

    async def _profiles(self, query: sa.Select[Any]) -> list[InstanceProfile]:
        rows = await self._db.read(lambda conn: list(conn.execute(query)))
        return [_profile(row) for row in rows]

    async def create_instance_profile(self, profile: InstanceProfile) -> None:
        p = tables.instance_profiles
        statement = p.insert().values(
            id=profile.id,
            tenant_id=profile.tenant_id,
            name=profile.name,
            name_key=profile.name.lower(),
            path=profile.path,
            created_at=profile.created_at,
            tags=tags_text(profile.tags),
        )
        try:
            await self._db.write(lambda conn: conn.execute(statement))
        except sa.exc.IntegrityError as exc:
            raise EntityAlreadyExists(profile.name) from exc

    async def set_tags(
        self,
        kind: type[ManagedPolicy] | type[InstanceProfile] | type[MfaDevice],
        resource_id: str,
        tags: Tags,
    ) -> None:
        """Replace the tags of a managed policy, an instance profile or an MFA device (by its
        serial). NoSuchEntity."""
        if kind is MfaDevice:
            key = tables.mfa_devices.c.serial
        else:
            table = tables.managed_policies if kind is ManagedPolicy else tables.instance_profiles
            key = table.c.id
        statement = key.table.update().where(key == resource_id).values(tags=tags_text(tags))

        def work(conn: Connection) -> None:
            if conn.execute(statement).rowcount == 0:
                raise NoSuchEntity(resource_id)

        await self._db.write(work)

    async def get_instance_profile(self, tenant_id: str, name: str) -> InstanceProfile | None:
        p = tables.instance_profiles
        found = await self._profiles(
            _select().where(p.c.tenant_id == tenant_id, p.c.name_key == name.lower())
        )
        return found[0] if found else None

    async def list_instance_profiles(
        self, tenant_id: str, path_prefix: str, after: str | None, limit: int
    ) -> list[InstanceProfile]:
        p = tables.instance_profiles
        query = _select().where(p.c.tenant_id == tenant_id)
        if path_prefix != "/":
            query = query.where(p.c.path.startswith(path_prefix, autoescape=True))
        if after is not None:
            query = query.where(p.c.name_key > after)
        return await self._profiles(query.order_by(p.c.name_key).limit(limit))

    async def list_instance_profiles_for_role(self, role_id: str) -> list[InstanceProfile]:
        p, pr = tables.instance_profiles, tables.instance_profile_roles
        return await self._profiles(_select().where(pr.c.role_id == role_id).order_by(p.c.name_key))

    async def delete_instance_profile(self, profile_id: str) -> None:
        p, pr = tables.instance_profiles, tables.instance_profile_roles

        def work(conn: Connection) -> None:
            if conn.execute(sa.select(p.c.id).where(p.c.id == profile_id)).first() is None:
                raise NoSuchEntity(profile_id)
            held = sa.select(pr.c.role_id).where(pr.c.profile_id == profile_id)
            if conn.execute(held).first() is not None:
                raise DeleteConflict("the instance profile still holds a role")
            conn.execute(p.delete().where(p.c.id == profile_id))

        await self._db.write(work)

    async def add_role_to_instance_profile(self, profile_id: str, role_id: str) -> None:
        p, pr, r = tables.instance_profiles, tables.instance_profile_roles, tables.iam_roles

        def work(conn: Connection) -> None:
            for table, key in ((p, profile_id), (r, role_id)):
                if conn.execute(sa.select(table.c.id).where(table.c.id == key)).first() is None:
                    raise NoSuchEntity(key)
            held = sa.select(pr.c.role_id).where(pr.c.profile_id == profile_id)
            if conn.execute(held).first() is not None:
                raise LimitExceeded(_LIMIT)
            conn.execute(pr.insert().values(profile_id=profile_id, role_id=role_id))

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError as exc:  # another gateway added a role in between
            raise LimitExceeded(_LIMIT) from exc

    async def remove_role_from_instance_profile(self, profile_id: str, role_id: str) -> bool:
        pr = tables.instance_profile_roles
        statement = pr.delete().where(pr.c.profile_id == profile_id, pr.c.role_id == role_id)
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))
