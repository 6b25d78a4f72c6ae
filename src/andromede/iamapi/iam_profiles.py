"""IAM handlers for instance profiles: the container of the role an EC2 instance acts as.

Each parses its parameters, calls the identity service for the caller's account, and writes
botocore's result shape; authorisation happened before (see ``iam.py``'s table), except the
``iam:PassRole`` that AddRoleToInstanceProfile also needs on the role, as on AWS: whoever puts a
role in a profile hands its permissions to every instance launched with it.
"""

from __future__ import annotations

from andromede.http.xml import XmlWriter
from andromede.iam.errors import NoSuchEntity
from andromede.iam.model import InstanceProfile, instance_profile_arn
from andromede.iam.policy_context import iam_resource_tag_keys
from andromede.iamapi.iam_common import (
    DEFAULT_ITEMS,
    MAX_ITEMS,
    RESOURCE_TAGS,
    already_exists_as,
    request_tags,
    write_entity_tags,
    write_role,
    write_tag_list,
    write_truncation,
)
from andromede.iamapi.protocol import Call, iso8601

__all__ = [
    "add_role_to_instance_profile",
    "create_instance_profile",
    "delete_instance_profile",
    "get_instance_profile",
    "instance_profile_resource",
    "list_instance_profiles",
    "list_instance_profiles_for_role",
    "remove_role_from_instance_profile",
]


def _max_items(call: Call) -> int:
    return call.integer("MaxItems", minimum=1, maximum=MAX_ITEMS, default=DEFAULT_ITEMS)


async def instance_profile_resource(call: Call) -> str:
    """The profile's ARN, with its real path; for one that does not exist (yet), the ARN it
    would have."""
    name = call.required("InstanceProfileName")
    try:
        profile = await call.identity.get_instance_profile(call.tenant_id, name)
    except NoSuchEntity:
        return instance_profile_arn(call.tenant_id, call.get("Path") or "/", name)
    call.context[RESOURCE_TAGS] = profile.tags  # aws:ResourceTag/<key> (decision 0074)
    return profile.arn


def write_instance_profile(
    xml: XmlWriter,
    profile: InstanceProfile,
    tag: str = "InstanceProfile",
    *,
    with_tags: bool = False,
) -> None:
    xml.open(tag)
    xml.element("Path", profile.path)
    xml.element("InstanceProfileName", profile.name)
    xml.element("InstanceProfileId", profile.id)
    xml.element("Arn", profile.arn)
    xml.element("CreateDate", iso8601(profile.created_at))
    xml.open("Roles")
    for role in profile.roles:
        write_role(xml, role, "member")
    xml.close("Roles")
    if with_tags:  # Create and GetInstanceProfile show them, the lists do not
        write_entity_tags(xml, profile.tags)
    xml.close(tag)


async def create_instance_profile(call: Call) -> None:
    name = call.required("InstanceProfileName")
    with already_exists_as(f"Instance Profile {name} already exists."):
        profile = await call.identity.create_instance_profile(
            call.tenant_id, name, call.get("Path") or "/", request_tags(call)
        )
    write_instance_profile(call.result, profile, with_tags=True)


async def tag_instance_profile(call: Call) -> None:
    await call.identity.tag_instance_profile(
        call.tenant_id, call.required("InstanceProfileName"), request_tags(call)
    )


async def untag_instance_profile(call: Call) -> None:
    await call.identity.untag_instance_profile(
        call.tenant_id, call.required("InstanceProfileName"), call.members("TagKeys")
    )


async def list_instance_profile_tags(call: Call) -> None:
    tags = await call.identity.list_instance_profile_tags(
        call.tenant_id, call.required("InstanceProfileName")
    )
    write_tag_list(call, tags)


async def get_instance_profile(call: Call) -> None:
    profile = await call.identity.get_instance_profile(
        call.tenant_id, call.required("InstanceProfileName")
    )
    write_instance_profile(call.result, profile, with_tags=True)


async def list_instance_profiles(call: Call) -> None:
    found = await call.identity.list_instance_profiles(
        call.tenant_id, call.get("PathPrefix") or "/", call.get("Marker"), _max_items(call)
    )
    call.result.open("InstanceProfiles")
    for profile in found.items:
        write_instance_profile(call.result, profile, "member")
    call.result.close("InstanceProfiles")
    write_truncation(call.result, found.marker)


async def delete_instance_profile(call: Call) -> None:
    await call.identity.delete_instance_profile(
        call.tenant_id, call.required("InstanceProfileName")
    )


async def add_role_to_instance_profile(call: Call) -> None:
    profile_name, role_name = call.required("InstanceProfileName"), call.required("RoleName")
    role = await call.identity.get_role(call.tenant_id, role_name)
    await call.allow("iam:PassRole", role.arn, iam_resource_tag_keys(role.tags))
    await call.identity.add_role_to_instance_profile(call.tenant_id, profile_name, role.name)


async def remove_role_from_instance_profile(call: Call) -> None:
    await call.identity.remove_role_from_instance_profile(
        call.tenant_id, call.required("InstanceProfileName"), call.required("RoleName")
    )


async def list_instance_profiles_for_role(call: Call) -> None:
    found = await call.identity.list_instance_profiles_for_role(
        call.tenant_id, call.required("RoleName"), call.get("Marker"), _max_items(call)
    )
    call.result.open("InstanceProfiles")
    for profile in found.items:
        write_instance_profile(call.result, profile, "member")
    call.result.close("InstanceProfiles")
    write_truncation(call.result, found.marker)
