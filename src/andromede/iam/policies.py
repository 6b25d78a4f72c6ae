"""Managed policies and their versions, attachments, inline policies, and the documents that
apply to a principal (part of IdentityService).

Managed policies are addressed by ARN as in the IAM API; an ARN of another account is
NoSuchEntity. The only AWS-managed policies are the service-linked roles' (decision 0208,
``linked_services``): readable, never attachable, held by those roles alone.

``policies_for`` is what the authoriser evaluates for an identity: cached per worker for
``cache_ttl`` seconds, like keys, and dropped on this worker whenever something here changes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from andromede.iam import policy as policy_engine
from andromede.iam.errors import DeleteConflict, InvalidInput, NoSuchEntity, PackedPolicyTooLarge
from andromede.iam.linked_services import aws_policy, refuse_linked, service_of
from andromede.iam.model import (
    POLICY_VERSIONS_MAX,
    EntityType,
    Group,
    InlinePolicy,
    ManagedPolicy,
    Page,
    PolicyVersion,
    Principal,
    PrincipalKind,
    PrincipalPolicies,
    Role,
    SessionPolicy,
    SessionTags,
    Tags,
    User,
    new_entity_id,
)
from andromede.iam.service_core import (
    PolicyKind,
    ServiceCore,
    check_max_items,
    check_name,
    check_path,
)
from andromede.iam.tags import check_tags, merged, over, without

__all__ = ["PoliciesMixin"]

_NO_POLICIES = PrincipalPolicies()
_ROOT_FEDERATION_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
)
# AssumeRole's session policies and tags: STS's limits (the plaintext of the inline policy, the
# ARNs and the tags together; ten managed policies).
SESSION_POLICY_MAX_CHARS = 2048
SESSION_POLICY_ARNS_MAX = 10
_ALLOWS_NOTHING = '{"Version": "2012-10-17", "Statement": []}'

# AWS's character quotas of inline policies, by the entity they belong to.
_INLINE_MAX = {
    EntityType.USER: policy_engine.IAM_USER_INLINE_POLICY_MAX,
    EntityType.GROUP: policy_engine.IAM_GROUP_INLINE_POLICY_MAX,
    EntityType.ROLE: policy_engine.IAM_ROLE_INLINE_POLICY_MAX,
}


class PoliciesMixin(ServiceCore):
    # -- managed policies -----------------------------------------------------------------------
    async def create_policy(
        self,
        tenant_id: str,
        policy_name: str,
        policy_document: str,
        path: str = "/",
        description: str = "",
        tags: Tags = (),
    ) -> ManagedPolicy:
        now = self._now()
        policy = ManagedPolicy(
            id=new_entity_id("ANPA"),
            tenant_id=tenant_id,
            name=check_name("policyName", policy_name, 128),
            path=check_path(path),
            created_at=now,
            description=description[:1000],
            updated_at=now,
            tags=check_tags(tags),
        )
        document = self._validate_policy(
            policy_document, PolicyKind.IDENTITY, policy_engine.IAM_MANAGED_POLICY_MAX
        )
        await self._store.create_policy(policy, PolicyVersion(policy.id, "v1", document, now, True))
        return policy

    async def _policy(self, tenant_id: str, arn: str) -> ManagedPolicy:
        prefix = f"arn:aws:iam::{tenant_id}:policy/"
        if not arn.startswith(prefix):
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        policy = await self._store.get_entity(ManagedPolicy, tenant_id, arn.rsplit("/", 1)[-1])
        if policy is None or policy.arn != arn:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        return policy

    async def get_policy(self, tenant_id: str, policy_arn: str) -> ManagedPolicy:
        service = aws_policy(policy_arn)
        if service is not None:  # AWS-managed (decision 0208): how many of the account's roles
            linked = await self._linked_roles(tenant_id, service.principal)
            return replace(service.policy, attachment_count=len(linked))
        return await self._policy(tenant_id, policy_arn)

    async def _linked_roles(self, tenant_id: str, principal: str) -> list[Role]:
        return await self._store.list_entities(
            Role, tenant_id, f"/aws-service-role/{principal}/", None, 1000
        )

    async def tag_policy(self, tenant_id: str, policy_arn: str, tags: Tags) -> None:
        """As TagUser (decision 0074): merged, keys regardless of case, 50 at most."""
        policy = await self._policy(tenant_id, policy_arn)
        await self._store.set_tags(ManagedPolicy, policy.id, merged(policy.tags, tags))

    async def untag_policy(self, tenant_id: str, policy_arn: str, keys: list[str]) -> None:
        policy = await self._policy(tenant_id, policy_arn)
        await self._store.set_tags(ManagedPolicy, policy.id, without(policy.tags, keys))

    async def list_policy_tags(self, tenant_id: str, policy_arn: str) -> Tags:
        return (await self._policy(tenant_id, policy_arn)).tags

    async def list_policies(
        self,
        tenant_id: str,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int | None = None,
        only_attached: bool = False,
    ) -> Page[ManagedPolicy]:
        """The tenant's customer-managed policies (Scope=Local)."""
        limit = check_max_items(max_items)
        items: list[ManagedPolicy] = []
        after = marker
        while True:
            batch = await self._store.list_entities(
                ManagedPolicy, tenant_id, path_prefix, after, limit + 1
            )
            items += [p for p in batch if p.attachment_count or not only_attached]
            if len(batch) <= limit or len(items) > limit:
                break
            after = batch[-1].name.lower()
        truncated = len(items) > limit
        page = items[:limit]
        return Page(page, truncated, page[-1].name.lower() if truncated else None)

    async def delete_policy(self, tenant_id: str, policy_arn: str) -> None:
        """DeleteConflict while attached, while it is a user's or a role's permissions
        boundary, or while versions other than the default remain."""
        policy = await self._policy(tenant_id, policy_arn)
        if any((await self.boundary_users(tenant_id, policy.arn)).values()):
            raise DeleteConflict("Cannot delete a policy attached to entities.")
        await self._store.delete_entity(ManagedPolicy, policy.id)

    # -- permissions boundaries -----------------------------------------------------------------
    async def boundary_policy(self, tenant_id: str, policy_arn: str) -> str:
        """The ARN of a managed policy of the account that may be a permissions boundary
        (NoSuchEntity otherwise: AWS-managed policies do not exist here)."""
        return (await self._policy(tenant_id, policy_arn)).arn

    async def put_user_permissions_boundary(
        self, tenant_id: str, user_name: str, policy_arn: str
    ) -> None:
        await self._set_boundary(User, tenant_id, user_name, policy_arn)

    async def delete_user_permissions_boundary(self, tenant_id: str, user_name: str) -> None:
        await self._set_boundary(User, tenant_id, user_name, None)

    async def put_role_permissions_boundary(
        self, tenant_id: str, role_name: str, policy_arn: str
    ) -> None:
        await self._set_boundary(Role, tenant_id, role_name, policy_arn)

    async def delete_role_permissions_boundary(self, tenant_id: str, role_name: str) -> None:
        await self._set_boundary(Role, tenant_id, role_name, None)

    async def _set_boundary(
        self, kind: type[User] | type[Role], tenant_id: str, name: str, policy_arn: str | None
    ) -> None:
        """Set (None: remove) a user's or role's boundary. NoSuchEntity for no such user or
        role (the root user has none) or no such policy."""
        entity = await self._user_or_role(kind, tenant_id, name)
        if isinstance(entity, Role):
            refuse_linked(entity)
        boundary = None if policy_arn is None else await self.boundary_policy(tenant_id, policy_arn)
        await self._store.update_entity(replace(entity, permissions_boundary=boundary))
        self._policy_cache.clear()

    async def user_permissions_boundary(self, tenant_id: str, user_name: str) -> str | None:
        """The permissions boundary of a user (None: none, or no such user)."""
        user = await self._store.get_entity(User, tenant_id, user_name)
        return None if user is None else user.permissions_boundary

    async def role_permissions_boundary(self, tenant_id: str, role_name: str) -> str | None:
        """The permissions boundary of a role (None: none, or no such role)."""
        role = await self._store.get_entity(Role, tenant_id, role_name)
        return None if role is None else role.permissions_boundary

    async def boundary_users(self, tenant_id: str, policy_arn: str) -> dict[EntityType, list[str]]:
        """The names of the users and roles whose permissions boundary is ``policy_arn``."""
        found: dict[EntityType, list[str]] = {EntityType.USER: [], EntityType.ROLE: []}
        for entity_type, name, boundary in await self._bounded_entities(tenant_id):
            if boundary == policy_arn:
                found[entity_type].append(name)
        return found

    async def boundary_usage(self, tenant_id: str) -> dict[str, int]:
        """How many users and roles each managed policy of the account bounds, by ARN."""
        usage: dict[str, int] = {}
        for _, _, boundary in await self._bounded_entities(tenant_id):
            usage[boundary] = usage.get(boundary, 0) + 1
        return usage

    async def _bounded_entities(self, tenant_id: str) -> list[tuple[EntityType, str, str]]:
        """(type, name, boundary ARN) of every user and role of the account with a boundary,
        users first, each kind by name."""
        found: list[tuple[EntityType, str, str]] = []
        after: str | None = None
        while users := await self._store.list_entities(User, tenant_id, "/", after, 1000):
            found += [
                (EntityType.USER, u.name, u.permissions_boundary)
                for u in users
                if u.permissions_boundary is not None
            ]
            after = users[-1].name.lower()
        after = None
        while roles := await self._store.list_entities(Role, tenant_id, "/", after, 1000):
            found += [
                (EntityType.ROLE, r.name, r.permissions_boundary)
                for r in roles
                if r.permissions_boundary is not None
            ]
            after = roles[-1].name.lower()
        return found

    # -- versions -----------------------------------------------------------------------------
    async def create_policy_version(
        self, tenant_id: str, policy_arn: str, policy_document: str, set_as_default: bool = False
    ) -> PolicyVersion:
        """LimitExceeded at five versions: delete one first, as on AWS."""
        policy = await self._policy(tenant_id, policy_arn)
        document = self._validate_policy(
            policy_document, PolicyKind.IDENTITY, policy_engine.IAM_MANAGED_POLICY_MAX
        )
        version = await self._store.create_policy_version(
            policy.id, document, self._now(), set_as_default, POLICY_VERSIONS_MAX
        )
        if set_as_default:
            self._policy_cache.clear()
        return version

    async def get_policy_version(
        self, tenant_id: str, policy_arn: str, version_id: str
    ) -> PolicyVersion:
        service = aws_policy(policy_arn)
        if service is not None:
            if version_id != service.version.version_id:
                raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist.")
            return service.version
        policy = await self._policy(tenant_id, policy_arn)
        version = await self._store.get_policy_version(policy.id, version_id)
        if version is None:
            raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist.")
        return version

    async def list_policy_versions(self, tenant_id: str, policy_arn: str) -> list[PolicyVersion]:
        service = aws_policy(policy_arn)
        if service is not None:
            return [service.version]
        policy = await self._policy(tenant_id, policy_arn)
        return await self._store.list_policy_versions(policy.id)

    async def delete_policy_version(self, tenant_id: str, policy_arn: str, version_id: str) -> None:
        """DeleteConflict for the default version."""
        policy = await self._policy(tenant_id, policy_arn)
        await self._store.delete_policy_version(policy.id, version_id)

    async def set_default_policy_version(
        self, tenant_id: str, policy_arn: str, version_id: str
    ) -> None:
        policy = await self._policy(tenant_id, policy_arn)
        await self._store.set_default_policy_version(policy.id, version_id)
        self._policy_cache.clear()

    # -- attachments --------------------------------------------------------------------------
    async def _entity_id(
        self, tenant_id: str, entity_type: EntityType, name: str, *, changing: bool = False
    ) -> str:
        """``changing``: UnmodifiableEntity for a service-linked role (decision 0208)."""
        entity: User | Group | Role | None
        if entity_type is EntityType.USER:
            entity = await self._store.get_entity(User, tenant_id, name)
        elif entity_type is EntityType.GROUP:
            entity = await self._store.get_entity(Group, tenant_id, name)
        else:
            entity = await self._store.get_entity(Role, tenant_id, name)
        if entity is None or (isinstance(entity, User) and entity.is_root):
            raise NoSuchEntity(f"The {entity_type.value} with name {name} cannot be found.")
        if changing and isinstance(entity, Role):
            refuse_linked(entity)
        return entity.id

    async def _attach(self, tenant_id: str, entity_type: EntityType, name: str, arn: str) -> None:
        entity_id = await self._entity_id(tenant_id, entity_type, name, changing=True)
        policy = await self._policy(tenant_id, arn)
        limit = self._limits.max_policies_per_entity
        await self._store.attach_policy(entity_type, entity_id, policy.id, limit)
        self._policy_cache.clear()

    async def _detach(self, tenant_id: str, entity_type: EntityType, name: str, arn: str) -> None:
        entity_id = await self._entity_id(tenant_id, entity_type, name, changing=True)
        policy = await self._policy(tenant_id, arn)
        if not await self._store.detach_policy(entity_type, entity_id, policy.id):
            raise NoSuchEntity(f"Policy {arn} was not found attached to {name}.")
        self._policy_cache.clear()

    async def _attached(
        self, tenant_id: str, entity_type: EntityType, name: str, path_prefix: str
    ) -> list[ManagedPolicy]:
        entity_id = await self._entity_id(tenant_id, entity_type, name)
        policies = await self._store.list_attached_policies(entity_type, entity_id)
        if entity_type is EntityType.ROLE:  # a service-linked role holds its service's
            role = await self._store.get_entity_by_id(Role, entity_id)
            service = None if role is None else service_of(role)
            if service is not None:
                policies = [service.policy, *policies]
        return [p for p in policies if p.path.startswith(path_prefix)]

    async def attach_user_policy(self, tenant_id: str, user_name: str, policy_arn: str) -> None:
        await self._attach(tenant_id, EntityType.USER, user_name, policy_arn)

    async def attach_group_policy(self, tenant_id: str, group_name: str, policy_arn: str) -> None:
        await self._attach(tenant_id, EntityType.GROUP, group_name, policy_arn)

    async def attach_role_policy(self, tenant_id: str, role_name: str, policy_arn: str) -> None:
        await self._attach(tenant_id, EntityType.ROLE, role_name, policy_arn)

    async def detach_user_policy(self, tenant_id: str, user_name: str, policy_arn: str) -> None:
        await self._detach(tenant_id, EntityType.USER, user_name, policy_arn)

    async def detach_group_policy(self, tenant_id: str, group_name: str, policy_arn: str) -> None:
        await self._detach(tenant_id, EntityType.GROUP, group_name, policy_arn)

    async def detach_role_policy(self, tenant_id: str, role_name: str, policy_arn: str) -> None:
        await self._detach(tenant_id, EntityType.ROLE, role_name, policy_arn)

    async def list_attached_user_policies(
        self, tenant_id: str, user_name: str, path_prefix: str = "/"
    ) -> list[ManagedPolicy]:
        return await self._attached(tenant_id, EntityType.USER, user_name, path_prefix)

    async def list_attached_group_policies(
        self, tenant_id: str, group_name: str, path_prefix: str = "/"
    ) -> list[ManagedPolicy]:
        return await self._attached(tenant_id, EntityType.GROUP, group_name, path_prefix)

    async def list_attached_role_policies(
        self, tenant_id: str, role_name: str, path_prefix: str = "/"
    ) -> list[ManagedPolicy]:
        return await self._attached(tenant_id, EntityType.ROLE, role_name, path_prefix)

    async def list_entities_for_policy(
        self, tenant_id: str, policy_arn: str
    ) -> dict[EntityType, list[str]]:
        """The names of the users, groups and roles the policy is attached to."""
        result: dict[EntityType, list[str]] = {t: [] for t in EntityType}
        service = aws_policy(policy_arn)
        if service is not None:  # the service-linked roles hold it (decision 0208)
            linked = await self._linked_roles(tenant_id, service.principal)
            result[EntityType.ROLE] = [r.name for r in linked]
            return result
        policy = await self._policy(tenant_id, policy_arn)
        for entity_type, entity_id in await self._store.list_policy_attachments(policy.id):
            entity: User | Group | Role | None
            if entity_type is EntityType.USER:
                entity = await self._store.get_entity_by_id(User, entity_id)
            elif entity_type is EntityType.GROUP:
                entity = await self._store.get_entity_by_id(Group, entity_id)
            else:
                entity = await self._store.get_entity_by_id(Role, entity_id)
            if entity is not None:
                result[entity_type].append(entity.name)
        return {t: sorted(names, key=str.lower) for t, names in result.items()}

    # -- inline policies ----------------------------------------------------------------------
    async def _put_inline(
        self, tenant_id: str, entity_type: EntityType, name: str, policy_name: str, document: str
    ) -> None:
        entity_id = await self._entity_id(tenant_id, entity_type, name, changing=True)
        text = self._validate_policy(document, PolicyKind.IDENTITY, _INLINE_MAX[entity_type])
        check_name("policyName", policy_name, 128)
        await self._store.put_inline_policy(InlinePolicy(entity_type, entity_id, policy_name, text))
        self._policy_cache.clear()

    async def _get_inline(
        self, tenant_id: str, entity_type: EntityType, name: str, policy_name: str
    ) -> str:
        entity_id = await self._entity_id(tenant_id, entity_type, name)
        policy = await self._store.get_inline_policy(entity_type, entity_id, policy_name)
        if policy is None:
            raise NoSuchEntity(f"The {entity_type.value} policy {policy_name} cannot be found.")
        return policy.document

    async def _list_inline(self, tenant_id: str, entity_type: EntityType, name: str) -> list[str]:
        entity_id = await self._entity_id(tenant_id, entity_type, name)
        return [p.name for p in await self._store.list_inline_policies(entity_type, entity_id)]

    async def _delete_inline(
        self, tenant_id: str, entity_type: EntityType, name: str, policy_name: str
    ) -> None:
        entity_id = await self._entity_id(tenant_id, entity_type, name, changing=True)
        if not await self._store.delete_inline_policy(entity_type, entity_id, policy_name):
            raise NoSuchEntity(f"The {entity_type.value} policy {policy_name} cannot be found.")
        self._policy_cache.clear()

    async def put_user_policy(
        self, tenant_id: str, user_name: str, policy_name: str, policy_document: str
    ) -> None:
        await self._put_inline(tenant_id, EntityType.USER, user_name, policy_name, policy_document)

    async def put_group_policy(
        self, tenant_id: str, group_name: str, policy_name: str, policy_document: str
    ) -> None:
        await self._put_inline(
            tenant_id, EntityType.GROUP, group_name, policy_name, policy_document
        )

    async def put_role_policy(
        self, tenant_id: str, role_name: str, policy_name: str, policy_document: str
    ) -> None:
        await self._put_inline(tenant_id, EntityType.ROLE, role_name, policy_name, policy_document)

    async def get_user_policy(self, tenant_id: str, user_name: str, policy_name: str) -> str:
        return await self._get_inline(tenant_id, EntityType.USER, user_name, policy_name)

    async def get_group_policy(self, tenant_id: str, group_name: str, policy_name: str) -> str:
        return await self._get_inline(tenant_id, EntityType.GROUP, group_name, policy_name)

    async def get_role_policy(self, tenant_id: str, role_name: str, policy_name: str) -> str:
        return await self._get_inline(tenant_id, EntityType.ROLE, role_name, policy_name)

    async def list_user_policies(self, tenant_id: str, user_name: str) -> list[str]:
        return await self._list_inline(tenant_id, EntityType.USER, user_name)

    async def list_group_policies(self, tenant_id: str, group_name: str) -> list[str]:
        return await self._list_inline(tenant_id, EntityType.GROUP, group_name)

    async def list_role_policies(self, tenant_id: str, role_name: str) -> list[str]:
        return await self._list_inline(tenant_id, EntityType.ROLE, role_name)

    async def delete_user_policy(self, tenant_id: str, user_name: str, policy_name: str) -> None:
        await self._delete_inline(tenant_id, EntityType.USER, user_name, policy_name)

    async def delete_group_policy(self, tenant_id: str, group_name: str, policy_name: str) -> None:
        await self._delete_inline(tenant_id, EntityType.GROUP, group_name, policy_name)

    async def delete_role_policy(self, tenant_id: str, role_name: str, policy_name: str) -> None:
        await self._delete_inline(tenant_id, EntityType.ROLE, role_name, policy_name)

    # -- what applies to a principal ----------------------------------------------------------
    async def policies_for(self, principal: Principal) -> PrincipalPolicies:
        """The identity-policy documents of a principal — a user's inline and attached policies
        and those of its groups; a role session's role's — and its permissions boundary's (the
        user's, or the role's for its sessions). Root, operators and anonymous callers have
        none (root is not bound by identity policies; the authoriser knows that)."""
        if principal.user_id is None or principal.kind not in (
            PrincipalKind.USER,
            PrincipalKind.ROLE_SESSION,
            PrincipalKind.FEDERATED_USER,
        ):
            return _NO_POLICIES
        federated = principal.kind is PrincipalKind.FEDERATED_USER
        policies = await self._entity_policies(
            PrincipalKind.USER if federated else principal.kind, principal.user_id
        )
        if principal.session_policy is not None and principal.tenant_id is not None:
            # The session's own, beside its role's (which are cached by role).
            session = await self._session_documents(principal.tenant_id, principal.session_policy)
            policies = replace(policies, session=session)
        elif federated:
            # AWS: a federated user given no session policy has no identity permission at all
            # (a resource policy naming its session may still let it in). No statement allows.
            policies = replace(policies, session=())
        if principal.session_tags is not None and principal.session_tags.tags:
            # Session tags stand over the role's tags of the same key, as on AWS.
            policies = replace(policies, tags=over(policies.tags, principal.session_tags.tags))
        if principal.source_identity is not None:
            policies = replace(policies, source_identity=principal.source_identity)
        return policies

    async def _entity_policies(self, kind: PrincipalKind, entity_id: str) -> PrincipalPolicies:
        """A user's or a role's policies, boundary and tags, remembered ``cache_ttl``."""
        cache_key = (kind, entity_id)
        now = time.monotonic()
        cached = self._policy_cache.get(cache_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        holder: User | Role | None
        if kind is PrincipalKind.ROLE_SESSION:
            entities = [(EntityType.ROLE, entity_id)]
            holder = await self._store.get_entity_by_id(Role, entity_id)
        else:
            groups = await self._store.list_groups_for_user(entity_id)
            entities = [(EntityType.USER, entity_id)]
            entities += [(EntityType.GROUP, g.id) for g in groups]
            holder = await self._store.get_entity_by_id(User, entity_id)
        documents: Sequence[str] = await self._store.policy_documents_for(entities)
        service = service_of(holder) if isinstance(holder, Role) else None
        if service is not None:  # a service-linked role's permissions (decision 0208)
            documents = (*documents, service.document)
        if isinstance(holder, User) and holder.is_root:
            # Only a federated user of root's own gets here (root itself has no identity
            # policies to read): it may do what root may in its account, within its session
            # policies, which the session always has (empty if none was passed).
            documents = (_ROOT_FEDERATION_POLICY,)
        boundary = None
        if holder is not None and holder.permissions_boundary is not None:
            boundary = await self._default_document(holder.tenant_id, holder.permissions_boundary)
        policies = PrincipalPolicies(
            tuple(documents), boundary, () if holder is None else holder.tags
        )
        if len(self._policy_cache) > 10_000:
            self._policy_cache.clear()
        self._policy_cache[cache_key] = (now + self._limits.cache_ttl, policies)
        return policies

    async def check_session(
        self,
        tenant_id: str,
        session_policy: SessionPolicy | None,
        session_tags: SessionTags | None = None,
    ) -> int:
        """Validate AssumeRole's session policies (and the size of its session tags) for a
        role of ``tenant_id``, as STS does: the inline document an identity policy
        (MalformedPolicyDocument), at most ``SESSION_POLICY_ARNS_MAX`` managed policies of the
        role's account (NoSuchEntity), and the inline text, the ARNs and the tags within
        ``SESSION_POLICY_MAX_CHARS`` together (PackedPolicyTooLarge). Returns
        ``PackedPolicySize``: the percentage of that used."""
        arns = () if session_policy is None else session_policy.arns
        inline = None if session_policy is None else session_policy.inline
        if len(arns) > SESSION_POLICY_ARNS_MAX:
            raise InvalidInput(
                f"PolicyArns: at most {SESSION_POLICY_ARNS_MAX} managed session policies"
            )
        tags = () if session_tags is None else session_tags.tags
        used = (
            len(inline or "")
            + sum(len(arn) for arn in arns)
            + sum(len(key) + len(value) for key, value in tags)
        )
        if used > SESSION_POLICY_MAX_CHARS:
            raise PackedPolicyTooLarge(
                f"The session policies and tags take {used} characters; at most "
                f"{SESSION_POLICY_MAX_CHARS} may be passed"
            )
        if inline is not None:
            self._validate_policy(inline, PolicyKind.IDENTITY)
        for arn in arns:
            await self._policy(tenant_id, arn)
        return max(1, -(-100 * used // SESSION_POLICY_MAX_CHARS))

    async def _session_documents(
        self, tenant_id: str, session_policy: SessionPolicy
    ) -> tuple[str, ...]:
        """The documents of a session's policies, read now: the inline one and each managed
        policy's default version. A managed policy deleted since allows nothing, so the session
        narrows, never widens."""
        documents = [] if session_policy.inline is None else [session_policy.inline]
        for arn in session_policy.arns:
            documents.append(await self._default_document(tenant_id, arn))
        return tuple(documents)

    async def _default_document(self, tenant_id: str, policy_arn: str) -> str:
        """The default version's document of a boundary policy. One that vanished (it cannot
        be deleted while it is a boundary) allows nothing: a boundary never lapses open."""
        try:
            policy = await self._policy(tenant_id, policy_arn)
        except NoSuchEntity:
            return _ALLOWS_NOTHING
        version = await self._store.get_policy_version(policy.id, policy.default_version_id)
        return _ALLOWS_NOTHING if version is None else version.document
