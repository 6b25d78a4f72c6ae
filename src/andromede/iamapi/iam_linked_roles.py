"""IAM handlers for service-linked roles (decision 0208): CreateServiceLinkedRole,
DeleteServiceLinkedRole and GetServiceLinkedRoleDeletionStatus, in botocore's shapes.

Authorisation happened before (see ``iam.py``'s table), on the role's ARN: for a creation the
one the role will have (``arn:aws:iam::<account>:role/aws-service-role/<service>/<name>``, with
``iam:AWSServiceName``), for a deletion the named role's, for a status the role the task
names.
"""

from __future__ import annotations

from andromede.iam.linked_services import SERVICES, linked_path
from andromede.iam.model import role_arn
from andromede.iamapi.iam_common import write_role
from andromede.iamapi.protocol import Call

__all__ = [
    "create_service_linked_role",
    "delete_service_linked_role",
    "deletion_task_resource",
    "get_service_linked_role_deletion_status",
    "linked_role_resource",
]


async def linked_role_resource(call: Call) -> str:
    """The ARN the role of ``AWSServiceName`` (with its ``CustomSuffix``) has or will have."""
    principal = call.required("AWSServiceName")
    service = SERVICES.get(principal)
    if service is None:  # refused by the handler; authorised on what the name would be
        return role_arn(call.tenant_id, linked_path(principal), "*")
    name = service.role_name
    if suffix := call.get("CustomSuffix"):
        name = f"{name}_{suffix}"
    return role_arn(call.tenant_id, linked_path(principal), name)


async def deletion_task_resource(call: Call) -> str:
    """The role a deletion task names (its ARN whether or not the role is still there)."""
    task = call.required("DeletionTaskId")
    parts = task.split("/")
    if len(parts) == 5 and parts[0] == "task" and parts[1] == "aws-service-role":
        return role_arn(call.tenant_id, linked_path(parts[2]), parts[3])
    return f"arn:aws:iam::{call.tenant_id}:role/*"


async def create_service_linked_role(call: Call) -> None:
    role = await call.identity.create_service_linked_role(
        call.tenant_id,
        call.required("AWSServiceName"),
        call.get("Description"),
        call.get("CustomSuffix"),
    )
    write_role(call.result, role)


async def delete_service_linked_role(call: Call) -> None:
    task = await call.identity.delete_service_linked_role(call.tenant_id, call.required("RoleName"))
    call.result.element("DeletionTaskId", task)


async def get_service_linked_role_deletion_status(call: Call) -> None:
    found = await call.identity.service_linked_role_deletion_status(
        call.tenant_id, call.required("DeletionTaskId")
    )
    xml = call.result
    xml.element("Status", found.status)
    if found.status == "FAILED":
        xml.open("Reason")
        xml.element("Reason", found.reason)
        xml.open("RoleUsageList")
        by_region: dict[str, list[str]] = {}
        for resource in found.resources:  # ARNs: arn:aws:<service>:<region>:…
            by_region.setdefault(resource.split(":")[3], []).append(resource)
        for region, resources in by_region.items():
            xml.open("member")
            xml.element("Region", region)
            xml.open("Resources")
            for resource in resources:
                xml.element("member", resource)
            xml.close("Resources")
            xml.close("member")
        xml.close("RoleUsageList")
        xml.close("Reason")
