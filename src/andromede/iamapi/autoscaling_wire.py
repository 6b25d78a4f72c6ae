"""What the Auto Scaling Query modules share (decisions 0156, 0159): the domain errors in
AWS's codes, the refusal of parameters not served, and MaxRecords/NextToken pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, TypeVar

from andromede.autoscaling.errors import (
    ActiveRefreshNotFound,
    AlreadyExists,
    AutoScalingError,
    GroupLimitExceeded,
    RefreshInProgress,
    ResourceContention,
    ResourceInUse,
)
from andromede.autoscaling.fleet import LaunchFailed
from andromede.autoscaling.model import Activity, Group, Member
from andromede.autoscaling.service import AutoScalingService
from andromede.http.xml import XmlWriter
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call, iso8601

__all__ = [
    "guarded",
    "page",
    "refuse_unhandled",
    "template_names",
    "wire_error",
    "write_activity",
    "write_member_template",
]

# Parameters tools send with their defaults, which mean what this increment does anyway.
_HARMLESS: Final = {
    "CapacityRebalance": "false",
    "TerminationPolicies.member.1": "Default",
}
_T = TypeVar("_T")
_PAGE_MARK: Final = "asg-page:"  # a NextToken's mark: another string is refused, not misread


def wire_error(exc: AutoScalingError) -> QueryError:
    if isinstance(exc, AlreadyExists):
        return QueryError("AlreadyExists", str(exc))
    if isinstance(exc, ResourceInUse):
        return QueryError("ResourceInUse", str(exc))
    if isinstance(exc, GroupLimitExceeded):
        return QueryError("LimitExceeded", str(exc))
    if isinstance(exc, RefreshInProgress):
        return QueryError("InstanceRefreshInProgress", str(exc))
    if isinstance(exc, ResourceContention):
        return QueryError("ResourceContention", str(exc))
    if isinstance(exc, ActiveRefreshNotFound):
        return QueryError("ActiveInstanceRefreshNotFound", str(exc))
    return QueryError("ValidationError", str(exc))


async def guarded(work: Awaitable[_T]) -> _T:
    try:
        return await work
    except AutoScalingError as exc:
        raise wire_error(exc) from exc


def refuse_unhandled(call: Call, handled: Sequence[str]) -> None:
    for name, value in call.params.items():
        if name in ("Action", "Version") or name in handled or name.startswith("Tags.member."):
            continue
        if _HARMLESS.get(name) == value.lower() or _HARMLESS.get(name) == value:
            continue
        raise QueryError(
            "ValidationError",
            f"{call.action}: the parameter {name[:64]} is not supported here yet (decision 0156)",
        )


def page(call: Call, items: list[_T], key: Callable[[_T], str]) -> tuple[list[_T], str | None]:
    """MaxRecords (1-100, 50 by default) of ``items`` after the NextToken's key."""
    limit = call.integer("MaxRecords", minimum=1, maximum=100, default=50)
    token = call.get("NextToken")
    if token:
        try:
            decoded = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise QueryError("ValidationError", "The NextToken is invalid") from exc
        if not decoded.startswith(_PAGE_MARK):
            raise QueryError("ValidationError", "The NextToken is invalid")
        after = decoded[len(_PAGE_MARK) :]
        items = [i for i in items if key(i) > after]
    page = items[:limit]
    more = len(items) > limit
    if not more:
        return page, None
    return page, base64.urlsafe_b64encode(f"{_PAGE_MARK}{key(page[-1])}".encode()).decode()


def write_activity(xml: XmlWriter, activity: Activity) -> None:
    xml.element("ActivityId", activity.activity_id)
    xml.element("AutoScalingGroupName", activity.group_name)
    xml.element("Description", activity.description)
    xml.element("Cause", activity.cause)
    xml.element("StartTime", iso8601(activity.start_time))
    xml.element("EndTime", iso8601(activity.end_time))
    xml.element("StatusCode", activity.status_code)
    if activity.status_message:
        xml.element("StatusMessage", activity.status_message)
    xml.element("Progress", activity.progress)
    xml.element("Details", activity.details)


async def template_names(
    service: AutoScalingService, tenant_id: str, found: Sequence[tuple[Group, Member]]
) -> dict[str, str]:
    """The names of the launch templates the instances were launched from: the group's own,
    and those of the instances launched before the group moved to another template."""
    names = {g.template_id: g.template_name for g, _ in found}
    for other in {m.template_id for _, m in found if m.template_id} - names.keys():
        try:
            names[other] = (
                await service.fleet.template(tenant_id, other, None, "$Default")
            ).template_name
        except LaunchFailed:
            continue  # the template deleted since: its id and version still tell
    return names


def write_member_template(
    xml: XmlWriter, group: Group, member: Member, names: Mapping[str, str]
) -> None:
    """The template and version the instance was launched from, as Auto Scaling answers it
    (an instance attached from no template has none)."""
    if member.template_id is None:
        return
    xml.open("LaunchTemplate")
    xml.element("LaunchTemplateId", member.template_id)
    if member.template_id in names:
        xml.element("LaunchTemplateName", names[member.template_id])
    xml.element("Version", str(member.template_version or group.template_version))
    xml.close("LaunchTemplate")
