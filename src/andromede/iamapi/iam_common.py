"""What the IAM handlers share: whom a call targets, the ARN it is authorised on, paging, and
the XML shapes of botocore's IAM model (``User``, ``Group``, ``Role``, ``Policy``…).

Resources follow AWS's "Actions, resources, and condition keys for IAM": a user, group, role,
policy or MFA device ARN — with the entity's real path, looked up, so ``user/ops/*`` policies
match — and the account's bare ``user/``, ``group/``, ``role/``, ``policy/`` ARNs for the list
actions, which only ``*``-ending patterns match. Every ARN is in the caller's own account.

Policy documents go out URL-encoded, as AWS sends them; botocore decodes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import quote

from andromede.http.xml import XmlWriter
from andromede.iam.errors import EntityAlreadyExists, NoSuchEntity
from andromede.iam.model import (
    Group,
    ManagedPolicy,
    PolicyVersion,
    PrincipalKind,
    Role,
    Tags,
    User,
    policy_arn,
    role_arn,
    user_arn,
)
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call, Resource, iso8601

__all__ = [
    "already_exists_as",
    "encoded",
    "group_resource",
    "list_resource",
    "mfa_resource",
    "page",
    "policy_resource",
    "refuse_unsupported",
    "request_tags",
    "role_resource",
    "target_user",
    "user_resource",
    "write_boundary",
    "write_entity_tags",
    "write_group",
    "write_policy",
    "write_role",
    "write_tag_list",
    "write_truncation",
    "write_user",
    "write_version",
]

_T = TypeVar("_T")
MAX_ITEMS = 1000
DEFAULT_ITEMS = 100


def encoded(document: str) -> str:
    """A policy document as IAM answers it: URL-encoded (RFC 3986)."""
    return quote(document, safe="")


@contextmanager
def already_exists_as(message: str) -> Iterator[None]:
    """EntityAlreadyExists worded as IAM words it for the entity being created (the store
    knows only the name that collided)."""
    try:
        yield
    except EntityAlreadyExists as exc:
        raise QueryError("EntityAlreadyExists", message) from exc


# -- whom a call targets ---------------------------------------------------------------------
async def target_user(call: Call) -> User:
    """The IAM user ``UserName`` names, or the caller itself when it names none (AWS: "IAM
    determines the user name implicitly based on the access key"). The root user is never
    reached by name, only as the caller. Looked up once per call."""
    found = call.context.get("user")
    if isinstance(found, User):
        return found
    name = call.get("UserName")
    principal = call.principal
    if name:
        user = await call.identity.get_user(call.tenant_id, name)
        if user.is_root:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
    elif principal.kind in (PrincipalKind.USER, PrincipalKind.ROOT) and principal.user_name:
        user = await call.identity.get_user(call.tenant_id, principal.user_name)
    else:
        raise QueryError(
            "ValidationError", "Must specify userName when calling with non-User credentials"
        )
    call.context["user"] = user
    return user


# -- the resource each action is authorised on ----------------------------------------------
# Each resource function also files the tags of the user or role it found, under this name in
# the call's context: the aws:ResourceTag/<key> keys the call is authorised with (decision 0069).
RESOURCE_TAGS = "resource_tags"


async def user_resource(call: Call) -> str:
    """The target user's ARN; for a user that does not exist (yet), the ARN it would have."""
    try:
        user = await target_user(call)
    except NoSuchEntity:
        return user_arn(call.tenant_id, call.get("Path") or "/", call.get("UserName") or "")
    call.context[RESOURCE_TAGS] = user.tags
    return user.arn


async def group_resource(call: Call) -> str:
    name = call.required("GroupName")
    try:
        group, _ = await call.identity.get_group(call.tenant_id, name)
    except NoSuchEntity:
        return f"arn:aws:iam::{call.tenant_id}:group{call.get('Path') or '/'}{name}"
    return group.arn


async def role_resource(call: Call) -> str:
    name = call.required("RoleName")
    try:
        role = await call.identity.get_role(call.tenant_id, name)
    except NoSuchEntity:
        return role_arn(call.tenant_id, call.get("Path") or "/", name)
    call.context[RESOURCE_TAGS] = role.tags
    return role.arn


async def policy_resource(call: Call) -> str:
    """``PolicyArn`` as given (another account's ARN is then NoSuchEntity), or for
    CreatePolicy the ARN the new policy will have."""
    arn = call.get("PolicyArn")
    if arn is None:
        return policy_arn(call.tenant_id, call.get("Path") or "/", call.required("PolicyName"))
    with contextlib.suppress(NoSuchEntity):
        call.context[RESOURCE_TAGS] = (await call.identity.get_policy(call.tenant_id, arn)).tags
    return arn


async def mfa_resource(call: Call) -> str:
    serial = call.get("SerialNumber")
    if serial is not None:
        with contextlib.suppress(NoSuchEntity):  # aws:ResourceTag/<key> (decision 0074)
            tags = await call.identity.list_mfa_device_tags(call.tenant_id, serial)
            call.context[RESOURCE_TAGS] = tags
        return serial
    name = call.required("VirtualMFADeviceName")
    return f"arn:aws:iam::{call.tenant_id}:mfa{call.get('Path') or '/'}{name}"


def list_resource(kind: str) -> Resource:
    """The account's ``user/``-style ARN for the list actions, with their PathPrefix."""

    async def resource(call: Call) -> str:
        return f"arn:aws:iam::{call.tenant_id}:{kind}{call.get('PathPrefix') or '/'}"

    return resource


# -- paging ---------------------------------------------------------------------------------
def page(call: Call, items: Sequence[_T], key: Callable[[_T], str]) -> tuple[list[_T], str | None]:
    """One page of a list the service returns whole: the items after ``Marker`` (an item's
    key), at most ``MaxItems``, and the marker of the next page (None on the last)."""
    limit = call.integer("MaxItems", minimum=1, maximum=MAX_ITEMS, default=DEFAULT_ITEMS)
    marker = call.get("Marker")
    ordered = sorted(items, key=key)
    after = [item for item in ordered if marker is None or key(item) > marker]
    chosen = after[:limit]
    return chosen, key(chosen[-1]) if len(after) > limit else None


def write_truncation(xml: XmlWriter, next_marker: str | None) -> None:
    xml.element("IsTruncated", next_marker is not None)
    xml.element("Marker", next_marker)


# -- shapes ---------------------------------------------------------------------------------
def write_user(xml: XmlWriter, user: User, tag: str = "User", *, with_tags: bool = False) -> None:
    xml.open(tag)
    if user.is_root:  # AWS answers the root user by its account id and ARN only
        xml.element("UserId", user.tenant_id)
    else:
        xml.element("Path", user.path)
        xml.element("UserName", user.name)
        xml.element("UserId", user.id)
    xml.element("Arn", user.arn)
    xml.element("CreateDate", iso8601(user.created_at))
    write_boundary(xml, user.permissions_boundary)
    if with_tags:
        write_entity_tags(xml, user.tags)
    xml.close(tag)


def request_tags(call: Call) -> Tags:
    """The ``Tags`` of a request (``Tags.member.N.Key``/``.Value``); InvalidInput when a tag
    lacks its key or its value."""
    keys, values = call.members("Tags", "Key"), call.members("Tags", "Value")
    if len(keys) != len(values):
        raise QueryError("InvalidInput", "Each tag needs a Key and a Value")
    return tuple(zip(keys, values, strict=True))


def write_tag_list(call: Call, tags: Tags) -> None:
    """A List*Tags answer: every tag in one answer (at most 50), none an empty list."""
    write_entity_tags(call.result, tags, always=True)
    write_truncation(call.result, None)


def write_entity_tags(xml: XmlWriter, tags: Tags, *, always: bool = False) -> None:
    """A user's or role's ``Tags``: as GetUser and GetRole show them (none: no element), or
    ``always`` as List*Tags does (none: an empty list)."""
    if not tags and not always:
        return
    xml.open("Tags")
    for key, value in tags:
        xml.open("member")
        xml.element("Key", key)
        xml.element("Value", value)
        xml.close("member")
    xml.close("Tags")


def write_boundary(xml: XmlWriter, policy_arn: str | None) -> None:
    """A user's or role's ``PermissionsBoundary`` element, when it has one."""
    if policy_arn is None:
        return
    xml.open("PermissionsBoundary")
    xml.element("PermissionsBoundaryType", "Policy")
    xml.element("PermissionsBoundaryArn", policy_arn)
    xml.close("PermissionsBoundary")


def write_group(xml: XmlWriter, group: Group, tag: str = "Group") -> None:
    xml.open(tag)
    xml.element("Path", group.path)
    xml.element("GroupName", group.name)
    xml.element("GroupId", group.id)
    xml.element("Arn", group.arn)
    xml.element("CreateDate", iso8601(group.created_at))
    xml.close(tag)


def write_role(xml: XmlWriter, role: Role, tag: str = "Role", *, with_tags: bool = False) -> None:
    xml.open(tag)
    xml.element("Path", role.path)
    xml.element("RoleName", role.name)
    xml.element("RoleId", role.id)
    xml.element("Arn", role.arn)
    xml.element("CreateDate", iso8601(role.created_at))
    xml.element("AssumeRolePolicyDocument", encoded(role.assume_role_policy_document))
    if role.description:
        xml.element("Description", role.description)
    xml.element("MaxSessionDuration", role.max_session_duration)
    write_boundary(xml, role.permissions_boundary)
    if with_tags:
        write_entity_tags(xml, role.tags)
    xml.close(tag)


def write_policy(
    xml: XmlWriter,
    policy: ManagedPolicy,
    tag: str = "Policy",
    *,
    boundary_usage: int = 0,
    with_tags: bool = False,
) -> None:
    xml.open(tag)
    xml.element("PolicyName", policy.name)
    xml.element("PolicyId", policy.id)
    xml.element("Arn", policy.arn)
    xml.element("Path", policy.path)
    xml.element("DefaultVersionId", policy.default_version_id)
    xml.element("AttachmentCount", policy.attachment_count)
    xml.element("PermissionsBoundaryUsageCount", boundary_usage)
    # The AWS-managed policies of service-linked roles are their roles' alone (decision 0208).
    xml.element("IsAttachable", policy.tenant_id != "aws")
    if policy.description:
        xml.element("Description", policy.description)
    xml.element("CreateDate", iso8601(policy.created_at))
    xml.element("UpdateDate", iso8601(policy.updated_at or policy.created_at))
    if with_tags:  # CreatePolicy and GetPolicy show them, ListPolicies does not
        write_entity_tags(xml, policy.tags)
    xml.close(tag)


def write_version(
    xml: XmlWriter, version: PolicyVersion, tag: str = "PolicyVersion", *, document: bool
) -> None:
    xml.open(tag)
    if document:
        xml.element("Document", encoded(version.document))
    xml.element("VersionId", version.version_id)
    xml.element("IsDefaultVersion", version.is_default)
    xml.element("CreateDate", iso8601(version.created_at))
    xml.close(tag)


def refuse_unsupported(call: Call, *names: str) -> None:
    """InvalidParameterValue for a request parameter of a feature not offered here (tags,
    permissions boundaries, console sign-in session lengths): taken silently, it would leave
    an entity without the tags, boundary or limit its creator set. A list parameter is named
    by its prefix (``Tags`` covers ``Tags.member.1.Key``)."""
    for name in names:
        if any(param == name or param.startswith(name + ".") for param in call.params):
            raise QueryError(
                "InvalidParameterValue", f"{name} is not supported here yet: leave it out"
            )
