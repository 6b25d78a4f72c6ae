"""IAM handlers for policies: managed policies and their versions, attaching them to users,
groups and roles, and inline policies embedded in those.

Managed policies are the tenant's own (Scope=Local) and the platform's AWS-managed ones, those
of the service-linked roles (Scope=AWS, decision 0208), listed after the tenant's for
Scope=All: a marker ``aws-managed:<name>`` continues among them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from andromede.iam.model import EntityType, ManagedPolicy
from andromede.iamapi.errors import QueryError
from andromede.iamapi.iam_common import (
    already_exists_as,
    encoded,
    page,
    request_tags,
    target_user,
    write_policy,
    write_tag_list,
    write_truncation,
    write_version,
)
from andromede.iamapi.protocol import Call, Handler

__all__ = [
    "ATTACHMENT_HANDLERS",
    "INLINE_HANDLERS",
    "create_policy",
    "create_policy_version",
    "delete_policy",
    "delete_policy_version",
    "get_policy",
    "get_policy_version",
    "list_entities_for_policy",
    "list_policies",
    "list_policy_tags",
    "list_policy_versions",
    "set_default_policy_version",
    "tag_policy",
    "untag_policy",
]

_SCOPES = ("All", "Local", "AWS")
_AWS_MARK = "aws-managed:"
_ENTITY_FILTERS = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")


# -- managed policies -----------------------------------------------------------------------
async def create_policy(call: Call) -> None:
    name = call.required("PolicyName")
    with already_exists_as(
        f"A policy called {name} already exists. Duplicate names are not allowed."
    ):
        policy = await call.identity.create_policy(
            call.tenant_id,
            name,
            call.required("PolicyDocument"),
            path=call.get("Path") or "/",
            description=call.get("Description") or "",
            tags=request_tags(call),
        )
    write_policy(call.result, policy, with_tags=True)


async def get_policy(call: Call) -> None:
    policy = await call.identity.get_policy(call.tenant_id, call.required("PolicyArn"))
    usage = await call.identity.boundary_usage(call.tenant_id)
    write_policy(call.result, policy, boundary_usage=usage.get(policy.arn, 0), with_tags=True)


async def tag_policy(call: Call) -> None:
    await call.identity.tag_policy(call.tenant_id, call.required("PolicyArn"), request_tags(call))


async def untag_policy(call: Call) -> None:
    await call.identity.untag_policy(
        call.tenant_id, call.required("PolicyArn"), call.members("TagKeys")
    )


async def list_policy_tags(call: Call) -> None:
    tags = await call.identity.list_policy_tags(call.tenant_id, call.required("PolicyArn"))
    write_tag_list(call, tags)


async def list_policies(call: Call) -> None:
    scope = call.get("Scope") or "All"
    if scope not in _SCOPES:
        raise QueryError("ValidationError", f"Scope must be one of {', '.join(_SCOPES)}")
    as_boundaries = _as_boundaries(call)
    xml = call.result
    xml.open("Policies")
    marker = None
    limit = call.integer("MaxItems", minimum=1, maximum=1000, default=100)
    given = call.get("Marker")
    path_prefix = call.get("PathPrefix") or "/"
    shown = 0
    local_done = scope == "AWS" or (scope == "All" and (given or "").startswith(_AWS_MARK))
    if not local_done:
        found = await call.identity.list_policies(
            call.tenant_id,
            path_prefix,
            given,
            limit,
            only_attached=call.boolean("OnlyAttached", default=False),
        )
        usage = await call.identity.boundary_usage(call.tenant_id)
        for policy in found.items:
            # PermissionsBoundary: only the policies some user or role has as its boundary (a
            # page may then hold fewer than MaxItems, as AWS's may).
            if not as_boundaries or usage.get(policy.arn):
                write_policy(xml, policy, "member", boundary_usage=usage.get(policy.arn, 0))
        shown, marker = len(found.items), found.marker
        local_done = marker is None and scope == "All"
        given = None
    if local_done and not as_boundaries and shown < limit:
        # The AWS-managed policies, after the tenant's (none is anyone's boundary here).
        after = (given or _AWS_MARK).removeprefix(_AWS_MARK)
        only_attached = call.boolean("OnlyAttached", default=False)
        managed = [
            p
            for p in await call.identity.aws_managed_policies(call.tenant_id, path_prefix)
            if p.name > after and (p.attachment_count or not only_attached)
        ]
        room = limit - shown
        for policy in managed[:room]:
            write_policy(xml, policy, "member")
        if len(managed) > room:
            marker = f"{_AWS_MARK}{managed[room - 1].name}"
    elif local_done and not as_boundaries and marker is None:
        marker = _AWS_MARK  # the page is full: the AWS-managed ones follow
    xml.close("Policies")
    write_truncation(xml, marker)


async def delete_policy(call: Call) -> None:
    await call.identity.delete_policy(call.tenant_id, call.required("PolicyArn"))


# -- versions -------------------------------------------------------------------------------
async def create_policy_version(call: Call) -> None:
    version = await call.identity.create_policy_version(
        call.tenant_id,
        call.required("PolicyArn"),
        call.required("PolicyDocument"),
        set_as_default=call.boolean("SetAsDefault", default=False),
    )
    write_version(call.result, version, document=False)


async def get_policy_version(call: Call) -> None:
    version = await call.identity.get_policy_version(
        call.tenant_id, call.required("PolicyArn"), call.required("VersionId")
    )
    write_version(call.result, version, document=True)


async def list_policy_versions(call: Call) -> None:
    versions = await call.identity.list_policy_versions(call.tenant_id, call.required("PolicyArn"))
    # Newest first, as AWS lists them; the marker is the last version id shown.
    ordered = sorted(versions, key=lambda v: int(v.version_id[1:]), reverse=True)
    rank = {v.version_id: f"{index:04d}" for index, v in enumerate(ordered)}
    chosen, marker = page(call, ordered, lambda v: rank[v.version_id])
    xml = call.result
    xml.open("Versions")
    for version in chosen:
        write_version(xml, version, "member", document=False)
    xml.close("Versions")
    write_truncation(xml, marker)


async def delete_policy_version(call: Call) -> None:
    await call.identity.delete_policy_version(
        call.tenant_id, call.required("PolicyArn"), call.required("VersionId")
    )


async def set_default_policy_version(call: Call) -> None:
    await call.identity.set_default_policy_version(
        call.tenant_id, call.required("PolicyArn"), call.required("VersionId")
    )


async def list_entities_for_policy(call: Call) -> None:
    wanted = call.get("EntityFilter")
    if wanted is not None and wanted not in _ENTITY_FILTERS:
        raise QueryError(
            "ValidationError", f"EntityFilter must be one of {', '.join(_ENTITY_FILTERS)}"
        )
    tenant = call.tenant_id
    if _as_boundaries(call):  # the users and roles it bounds, no group has a boundary
        policy = await call.identity.get_policy(tenant, call.required("PolicyArn"))
        names = {
            EntityType.GROUP: [],
            **await call.identity.boundary_users(tenant, policy.arn),
        }
    else:
        names = await call.identity.list_entities_for_policy(tenant, call.required("PolicyArn"))
    prefix = call.get("PathPrefix") or "/"
    xml = call.result
    if wanted in (None, "Group"):
        xml.open("PolicyGroups")
        for name in names[EntityType.GROUP]:
            group, _ = await call.identity.get_group(tenant, name)
            if group.path.startswith(prefix):
                _entity(call, "GroupName", group.name, "GroupId", group.id)
        xml.close("PolicyGroups")
    if wanted in (None, "User"):
        xml.open("PolicyUsers")
        for name in names[EntityType.USER]:
            user = await call.identity.get_user(tenant, name)
            if user.path.startswith(prefix):
                _entity(call, "UserName", user.name, "UserId", user.id)
        xml.close("PolicyUsers")
    if wanted in (None, "Role"):
        xml.open("PolicyRoles")
        for name in names[EntityType.ROLE]:
            role = await call.identity.get_role(tenant, name)
            if role.path.startswith(prefix):
                _entity(call, "RoleName", role.name, "RoleId", role.id)
        xml.close("PolicyRoles")
    write_truncation(xml, None)


def _as_boundaries(call: Call) -> bool:
    """``PolicyUsageFilter``: whether the listing is of policies used as permissions
    boundaries (``PermissionsPolicy``, as attached policies, is what is listed anyway)."""
    usage = call.get("PolicyUsageFilter")
    if usage is not None and usage not in ("PermissionsPolicy", "PermissionsBoundary"):
        raise QueryError(
            "ValidationError",
            "PolicyUsageFilter must be one of PermissionsPolicy, PermissionsBoundary",
        )
    return usage == "PermissionsBoundary"


def _entity(call: Call, name_tag: str, name: str, id_tag: str, entity_id: str) -> None:
    call.result.open("member")
    call.result.element(name_tag, name)
    call.result.element(id_tag, entity_id)
    call.result.close("member")


# -- attachments and inline policies, the same for users, groups and roles ------------------
_NAME_PARAMETER = {EntityType.USER: "UserName", EntityType.GROUP: "GroupName"}


async def _entity_name(call: Call, entity_type: EntityType) -> str:
    if entity_type is EntityType.USER:
        return (await target_user(call)).name
    if entity_type is EntityType.GROUP:
        return call.required("GroupName")
    return call.required("RoleName")


def _attach(entity_type: EntityType) -> Handler:
    async def handler(call: Call) -> None:
        name = await _entity_name(call, entity_type)
        attach = {
            EntityType.USER: call.identity.attach_user_policy,
            EntityType.GROUP: call.identity.attach_group_policy,
            EntityType.ROLE: call.identity.attach_role_policy,
        }[entity_type]
        await attach(call.tenant_id, name, call.required("PolicyArn"))

    return handler


def _detach(entity_type: EntityType) -> Handler:
    async def handler(call: Call) -> None:
        name = await _entity_name(call, entity_type)
        detach = {
            EntityType.USER: call.identity.detach_user_policy,
            EntityType.GROUP: call.identity.detach_group_policy,
            EntityType.ROLE: call.identity.detach_role_policy,
        }[entity_type]
        await detach(call.tenant_id, name, call.required("PolicyArn"))

    return handler


def _list_attached(entity_type: EntityType) -> Handler:
    async def handler(call: Call) -> None:
        name = await _entity_name(call, entity_type)
        listing: Callable[[str, str, str], Awaitable[list[ManagedPolicy]]] = {
            EntityType.USER: call.identity.list_attached_user_policies,
            EntityType.GROUP: call.identity.list_attached_group_policies,
            EntityType.ROLE: call.identity.list_attached_role_policies,
        }[entity_type]
        policies = await listing(call.tenant_id, name, call.get("PathPrefix") or "/")
        chosen, marker = page(call, policies, lambda p: p.name.lower())
        xml = call.result
        xml.open("AttachedPolicies")
        for policy in chosen:
            xml.open("member")
            xml.element("PolicyName", policy.name)
            xml.element("PolicyArn", policy.arn)
            xml.close("member")
        xml.close("AttachedPolicies")
        write_truncation(xml, marker)

    return handler


def _put_inline(entity_type: EntityType) -> Handler:
    async def handler(call: Call) -> None:
        name = await _entity_name(call, entity_type)
        put = {
            EntityType.USER: call.identity.put_user_policy,
            EntityType.GROUP: call.identity.put_group_policy,
            EntityType.ROLE: call.identity.put_role_policy,
        }[entity_type]
        await put(
            call.tenant_id, name, call.required("PolicyName"), call.required("PolicyDocument")
        )

    return handler


def _get_inline(entity_type: EntityType) -> Handler:
    async def handler(call: Call) -> None:
        name = await _entity_name(call, entity_type)
        get = {
            EntityType.USER: call.identity.get_user_policy,
            EntityType.GROUP: call.identity.get_group_policy,
            EntityType.ROLE: call.identity.get_role_policy,
        }[entity_type]
        policy_name = call.required("PolicyName")
        document = await get(call.tenant_id, name, policy_name)
        tag = _NAME_PARAMETER.get(entity_type, "RoleName")
        call.result.element(tag, name)
        call.result.element("PolicyName", policy_name)
        call.result.element("PolicyDocument", encoded(document))

    return handler


def _list_inline(entity_type: EntityType) -> Handler:
    async def handler(call: Call) -> None:
        name = await _entity_name(call, entity_type)
        listing = {
            EntityType.USER: call.identity.list_user_policies,
            EntityType.GROUP: call.identity.list_group_policies,
            EntityType.ROLE: call.identity.list_role_policies,
        }[entity_type]
        chosen, marker = page(call, await listing(call.tenant_id, name), str.lower)
        call.result.open("PolicyNames")
        call.result.elements("member", chosen)
        call.result.close("PolicyNames")
        write_truncation(call.result, marker)

    return handler


def _delete_inline(entity_type: EntityType) -> Handler:
    async def handler(call: Call) -> None:
        name = await _entity_name(call, entity_type)
        delete = {
            EntityType.USER: call.identity.delete_user_policy,
            EntityType.GROUP: call.identity.delete_group_policy,
            EntityType.ROLE: call.identity.delete_role_policy,
        }[entity_type]
        await delete(call.tenant_id, name, call.required("PolicyName"))

    return handler


# (verb, entity type) -> handler, for the action table.
ATTACHMENT_HANDLERS: dict[tuple[str, EntityType], Handler] = {
    (verb, entity_type): make(entity_type)
    for entity_type in EntityType
    for verb, make in (("Attach", _attach), ("Detach", _detach), ("ListAttached", _list_attached))
}
INLINE_HANDLERS: dict[tuple[str, EntityType], Handler] = {
    (verb, entity_type): make(entity_type)
    for entity_type in EntityType
    for verb, make in (
        ("Put", _put_inline),
        ("Get", _get_inline),
        ("List", _list_inline),
        ("Delete", _delete_inline),
    )
}
