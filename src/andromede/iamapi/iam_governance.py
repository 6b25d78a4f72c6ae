"""IAM handlers for what auditors read of a whole account (decision 0193): the credential
report (GenerateCredentialReport, GetCredentialReport) and GetAccountAuthorizationDetails.

The report goes out as AWS sends it: the CSV base64-encoded in ``Content`` (a blob in
botocore's model, which decodes it), ``ReportFormat`` ``text/csv``.
"""

from __future__ import annotations

import base64

from andromede.http.xml import XmlWriter
from andromede.iam.authorization_details import (
    AuthorizationFilter,
    GroupDetail,
    PolicyDetail,
    RoleDetail,
    UserDetail,
)
from andromede.iam.model import Group, InlinePolicy, ManagedPolicy, Role, User
from andromede.iamapi.errors import QueryError
from andromede.iamapi.iam_common import (
    encoded,
    page,
    write_boundary,
    write_entity_tags,
    write_truncation,
    write_version,
)
from andromede.iamapi.iam_profiles import write_instance_profile
from andromede.iamapi.protocol import Call, iso8601

__all__ = [
    "generate_credential_report",
    "get_account_authorization_details",
    "get_credential_report",
]

Listed = User | Group | Role | ManagedPolicy


async def generate_credential_report(call: Call) -> None:
    state = await call.identity.generate_credential_report(call.tenant_id)
    xml = call.result
    xml.element("State", state.value)
    if state.value == "STARTED":
        xml.element("Description", "No report exists. Starting a new report generation task")


async def get_credential_report(call: Call) -> None:
    report = await call.identity.get_credential_report(call.tenant_id)
    xml = call.result
    xml.element("Content", base64.b64encode(report.content.encode("utf-8")).decode("ascii"))
    xml.element("ReportFormat", "text/csv")
    xml.element("GeneratedTime", iso8601(report.generated_at))


# -- GetAccountAuthorizationDetails -----------------------------------------------------------
_ORDER = {User: 0, Group: 1, Role: 2, ManagedPolicy: 3}


def _position(entity: Listed) -> str:
    """The entity's place in the answer, which is also the ``Marker`` of the page after it."""
    return f"{_ORDER[type(entity)]}:{entity.name.lower()}"


def _filters(call: Call) -> list[AuthorizationFilter]:
    chosen = []
    for raw in call.members("Filter"):
        try:
            chosen.append(AuthorizationFilter(raw))
        except ValueError:
            allowed = ", ".join(f.value for f in AuthorizationFilter)
            raise QueryError(
                "ValidationError",
                f"1 validation error detected: Value '{raw}' at 'filter' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{allowed}]",
            ) from None
    return chosen


def _inline_list(xml: XmlWriter, tag: str, policies: tuple[InlinePolicy, ...]) -> None:
    xml.open(tag)
    for policy in policies:
        xml.open("member")
        xml.element("PolicyName", policy.name)
        xml.element("PolicyDocument", encoded(policy.document))
        xml.close("member")
    xml.close(tag)


def _attached_list(xml: XmlWriter, policies: tuple[ManagedPolicy, ...]) -> None:
    xml.open("AttachedManagedPolicies")
    for policy in policies:
        xml.open("member")
        xml.element("PolicyName", policy.name)
        xml.element("PolicyArn", policy.arn)
        xml.close("member")
    xml.close("AttachedManagedPolicies")


def _write_user_detail(xml: XmlWriter, detail: UserDetail) -> None:
    user = detail.user
    xml.open("member")
    xml.element("Path", user.path)
    xml.element("UserName", user.name)
    xml.element("UserId", user.id)
    xml.element("Arn", user.arn)
    xml.element("CreateDate", iso8601(user.created_at))
    _inline_list(xml, "UserPolicyList", detail.inline)
    xml.open("GroupList")
    for group in detail.groups:
        xml.element("member", group.name)
    xml.close("GroupList")
    _attached_list(xml, detail.attached)
    write_boundary(xml, user.permissions_boundary)
    write_entity_tags(xml, user.tags)
    xml.close("member")


def _write_group_detail(xml: XmlWriter, detail: GroupDetail) -> None:
    group = detail.group
    xml.open("member")
    xml.element("Path", group.path)
    xml.element("GroupName", group.name)
    xml.element("GroupId", group.id)
    xml.element("Arn", group.arn)
    xml.element("CreateDate", iso8601(group.created_at))
    _inline_list(xml, "GroupPolicyList", detail.inline)
    _attached_list(xml, detail.attached)
    xml.close("member")


def _write_role_detail(xml: XmlWriter, detail: RoleDetail) -> None:
    role = detail.role
    xml.open("member")
    xml.element("Path", role.path)
    xml.element("RoleName", role.name)
    xml.element("RoleId", role.id)
    xml.element("Arn", role.arn)
    xml.element("CreateDate", iso8601(role.created_at))
    xml.element("AssumeRolePolicyDocument", encoded(role.assume_role_policy_document))
    xml.open("InstanceProfileList")
    for profile in detail.profiles:
        write_instance_profile(xml, profile, "member")
    xml.close("InstanceProfileList")
    _inline_list(xml, "RolePolicyList", detail.inline)
    _attached_list(xml, detail.attached)
    write_boundary(xml, role.permissions_boundary)
    write_entity_tags(xml, role.tags)
    xml.close("member")


def _write_policy_detail(xml: XmlWriter, detail: PolicyDetail) -> None:
    policy = detail.policy
    xml.open("member")
    xml.element("PolicyName", policy.name)
    xml.element("PolicyId", policy.id)
    xml.element("Arn", policy.arn)
    xml.element("Path", policy.path)
    xml.element("DefaultVersionId", policy.default_version_id)
    xml.element("AttachmentCount", policy.attachment_count)
    xml.element("PermissionsBoundaryUsageCount", detail.boundary_usage)
    xml.element("IsAttachable", True)
    if policy.description:
        xml.element("Description", policy.description)
    xml.element("CreateDate", iso8601(policy.created_at))
    xml.element("UpdateDate", iso8601(policy.updated_at or policy.created_at))
    xml.open("PolicyVersionList")
    for version in detail.versions:
        write_version(xml, version, "member", document=True)
    xml.close("PolicyVersionList")
    xml.close("member")


async def get_account_authorization_details(call: Call) -> None:
    kinds = _filters(call)
    entities = await call.identity.authorization_entities(call.tenant_id, kinds)
    chosen, marker = page(call, entities, _position)
    usage: dict[str, int] = {}
    if any(isinstance(entity, ManagedPolicy) for entity in chosen):
        usage = await call.identity.boundary_usage(call.tenant_id)
    details = [await call.identity.authorization_detail(e, usage) for e in chosen]
    xml = call.result
    xml.open("UserDetailList")
    for detail in details:
        if isinstance(detail, UserDetail):
            _write_user_detail(xml, detail)
    xml.close("UserDetailList")
    xml.open("GroupDetailList")
    for detail in details:
        if isinstance(detail, GroupDetail):
            _write_group_detail(xml, detail)
    xml.close("GroupDetailList")
    xml.open("RoleDetailList")
    for detail in details:
        if isinstance(detail, RoleDetail):
            _write_role_detail(xml, detail)
    xml.close("RoleDetailList")
    xml.open("Policies")
    for detail in details:
        if isinstance(detail, PolicyDetail):
            _write_policy_detail(xml, detail)
    xml.close("Policies")
    write_truncation(xml, marker)
