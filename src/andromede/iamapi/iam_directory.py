"""IAM handlers for users, groups, group membership and roles.

Each parses its parameters, calls the identity service for the caller's account, and writes
botocore's result shape; authorisation happened before (see ``iam.py``'s table).
"""

from __future__ import annotations

from andromede.iam.model import Role
from andromede.iamapi.iam_common import (
    DEFAULT_ITEMS,
    MAX_ITEMS,
    already_exists_as,
    page,
    refuse_unsupported,
    request_tags,
    target_user,
    write_group,
    write_role,
    write_tag_list,
    write_truncation,
    write_user,
)
from andromede.iamapi.protocol import Call

__all__ = [
    "add_user_to_group",
    "create_group",
    "create_role",
    "create_user",
    "delete_group",
    "delete_role",
    "delete_role_permissions_boundary",
    "delete_user",
    "delete_user_permissions_boundary",
    "get_group",
    "get_role",
    "get_user",
    "list_groups",
    "list_groups_for_user",
    "list_role_tags",
    "list_roles",
    "list_user_tags",
    "list_users",
    "put_role_permissions_boundary",
    "put_user_permissions_boundary",
    "remove_user_from_group",
    "request_tags",
    "tag_role",
    "tag_user",
    "untag_role",
    "untag_user",
    "update_assume_role_policy",
    "update_role",
    "update_user",
]


def _max_items(call: Call) -> int:
    return call.integer("MaxItems", minimum=1, maximum=MAX_ITEMS, default=DEFAULT_ITEMS)


# -- users ----------------------------------------------------------------------------------
async def create_user(call: Call) -> None:
    name = call.required("UserName")
    boundary = await _boundary(call)
    with already_exists_as(f"User with name {name} already exists."):
        user = await call.identity.create_user(
            call.tenant_id,
            name,
            call.get("Path") or "/",
            permissions_boundary=boundary,
            tags=request_tags(call),
        )
    write_user(call.result, user, with_tags=True)


async def tag_user(call: Call) -> None:
    await call.identity.tag_user(call.tenant_id, call.required("UserName"), request_tags(call))


async def untag_user(call: Call) -> None:
    await call.identity.untag_user(
        call.tenant_id, call.required("UserName"), call.members("TagKeys")
    )


async def list_user_tags(call: Call) -> None:
    write_tag_list(
        call, await call.identity.list_user_tags(call.tenant_id, call.required("UserName"))
    )


async def tag_role(call: Call) -> None:
    await call.identity.tag_role(call.tenant_id, call.required("RoleName"), request_tags(call))


async def untag_role(call: Call) -> None:
    await call.identity.untag_role(
        call.tenant_id, call.required("RoleName"), call.members("TagKeys")
    )


async def list_role_tags(call: Call) -> None:
    write_tag_list(
        call, await call.identity.list_role_tags(call.tenant_id, call.required("RoleName"))
    )


async def _boundary(call: Call) -> str | None:
    """The ``PermissionsBoundary`` a Create call names, checked to be a managed policy of the
    account before anything is made (NoSuchEntity otherwise)."""
    asked = call.get("PermissionsBoundary")
    return None if asked is None else await call.identity.boundary_policy(call.tenant_id, asked)


async def put_user_permissions_boundary(call: Call) -> None:
    await call.identity.put_user_permissions_boundary(
        call.tenant_id, call.required("UserName"), call.required("PermissionsBoundary")
    )


async def delete_user_permissions_boundary(call: Call) -> None:
    await call.identity.delete_user_permissions_boundary(call.tenant_id, call.required("UserName"))


async def put_role_permissions_boundary(call: Call) -> None:
    await call.identity.put_role_permissions_boundary(
        call.tenant_id, call.required("RoleName"), call.required("PermissionsBoundary")
    )


async def delete_role_permissions_boundary(call: Call) -> None:
    await call.identity.delete_role_permissions_boundary(call.tenant_id, call.required("RoleName"))


async def get_user(call: Call) -> None:
    write_user(call.result, await target_user(call), with_tags=True)


async def list_users(call: Call) -> None:
    found = await call.identity.list_users(
        call.tenant_id, call.get("PathPrefix") or "/", call.get("Marker"), _max_items(call)
    )
    call.result.open("Users")
    for user in found.items:
        write_user(call.result, user, "member")
    call.result.close("Users")
    write_truncation(call.result, found.marker)


async def update_user(call: Call) -> None:
    user = await target_user(call)
    new_name = call.get("NewUserName")
    with already_exists_as(f"User with name {new_name} already exists."):
        await call.identity.update_user(call.tenant_id, user.name, new_name, call.get("NewPath"))


async def delete_user(call: Call) -> None:
    user = await target_user(call)
    await call.identity.delete_user(call.tenant_id, user.name)


# -- groups ---------------------------------------------------------------------------------
async def create_group(call: Call) -> None:
    name = call.required("GroupName")
    with already_exists_as(f"Group with name {name} already exists."):
        group = await call.identity.create_group(call.tenant_id, name, call.get("Path") or "/")
    write_group(call.result, group)


async def get_group(call: Call) -> None:
    group, members = await call.identity.get_group(call.tenant_id, call.required("GroupName"))
    chosen, marker = page(call, members, lambda u: u.name.lower())
    write_group(call.result, group)
    call.result.open("Users")
    for user in chosen:
        write_user(call.result, user, "member")
    call.result.close("Users")
    write_truncation(call.result, marker)


async def list_groups(call: Call) -> None:
    found = await call.identity.list_groups(
        call.tenant_id, call.get("PathPrefix") or "/", call.get("Marker"), _max_items(call)
    )
    call.result.open("Groups")
    for group in found.items:
        write_group(call.result, group, "member")
    call.result.close("Groups")
    write_truncation(call.result, found.marker)


async def delete_group(call: Call) -> None:
    await call.identity.delete_group(call.tenant_id, call.required("GroupName"))


async def add_user_to_group(call: Call) -> None:
    user = await target_user(call)
    await call.identity.add_user_to_group(call.tenant_id, call.required("GroupName"), user.name)


async def remove_user_from_group(call: Call) -> None:
    user = await target_user(call)
    await call.identity.remove_user_from_group(
        call.tenant_id, call.required("GroupName"), user.name
    )


async def list_groups_for_user(call: Call) -> None:
    user = await target_user(call)
    found = await call.identity.list_groups_for_user(
        call.tenant_id, user.name, call.get("Marker"), _max_items(call)
    )
    call.result.open("Groups")
    for group in found.items:
        write_group(call.result, group, "member")
    call.result.close("Groups")
    write_truncation(call.result, found.marker)


# -- roles ----------------------------------------------------------------------------------
async def create_role(call: Call) -> None:
    refuse_unsupported(call, "MaxSigninSessionDuration")
    name = call.required("RoleName")
    boundary = await _boundary(call)
    with already_exists_as(f"Role with name {name} already exists."):
        role = await _create_role(call, name, boundary)
    write_role(call.result, role, with_tags=True)


async def _create_role(call: Call, name: str, boundary: str | None) -> Role:
    return await call.identity.create_role(
        call.tenant_id,
        name,
        call.required("AssumeRolePolicyDocument"),
        path=call.get("Path") or "/",
        description=call.get("Description") or "",
        max_session_duration=call.integer(
            "MaxSessionDuration", minimum=3600, maximum=43200, default=3600
        ),
        permissions_boundary=boundary,
        tags=request_tags(call),
    )


async def get_role(call: Call) -> None:
    role = await call.identity.get_role(call.tenant_id, call.required("RoleName"))
    write_role(call.result, role, with_tags=True)


async def list_roles(call: Call) -> None:
    found = await call.identity.list_roles(
        call.tenant_id, call.get("PathPrefix") or "/", call.get("Marker"), _max_items(call)
    )
    call.result.open("Roles")
    for role in found.items:
        write_role(call.result, role, "member")
    call.result.close("Roles")
    write_truncation(call.result, found.marker)


async def update_role(call: Call) -> None:
    refuse_unsupported(call, "MaxSigninSessionDuration", "ResetMaxSigninSessionDuration")
    raw_duration = call.get("MaxSessionDuration")
    await call.identity.update_role(
        call.tenant_id,
        call.required("RoleName"),
        description=call.get("Description"),
        max_session_duration=(
            None
            if raw_duration is None
            else call.integer("MaxSessionDuration", minimum=3600, maximum=43200, default=3600)
        ),
    )


async def update_assume_role_policy(call: Call) -> None:
    await call.identity.update_assume_role_policy(
        call.tenant_id, call.required("RoleName"), call.required("PolicyDocument")
    )


async def delete_role(call: Call) -> None:
    await call.identity.delete_role(call.tenant_id, call.required("RoleName"))
