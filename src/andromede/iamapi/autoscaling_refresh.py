"""Auto Scaling's instance refresh on the wire (decision 0159): StartInstanceRefresh,
DescribeInstanceRefreshes, CancelInstanceRefresh, in AWS's shapes; the rules are
``autoscaling.refresh``'."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from andromede.autoscaling.records import Refresh
from andromede.autoscaling.refresh import RefreshSpec, cancel, start
from andromede.autoscaling.service import AutoScalingService
from andromede.iamapi.autoscaling_wire import guarded, page, refuse_unhandled
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call, iso8601

__all__ = ["handlers"]

_START_FIELDS = (
    "AutoScalingGroupName",
    "Strategy",
    "Preferences.MinHealthyPercentage",
    "Preferences.InstanceWarmup",
    "Preferences.SkipMatching",
    "Preferences.ScaleInProtectedInstances",
    "Preferences.StandbyInstances",
)


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    del region  # refreshes have no ARN of their own

    async def start_refresh(call: Call) -> None:
        refuse_unhandled(call, _START_FIELDS)
        if (call.get("Strategy") or "Rolling") != "Rolling":
            raise QueryError("ValidationError", "Strategy must be Rolling")
        warmup = call.get("Preferences.InstanceWarmup")
        spec = RefreshSpec(
            min_healthy_percentage=call.integer(
                "Preferences.MinHealthyPercentage", minimum=0, maximum=100, default=90
            ),
            instance_warmup=(
                None
                if warmup is None
                else call.integer("Preferences.InstanceWarmup", minimum=0, maximum=86400, default=0)
            ),
            skip_matching=call.boolean("Preferences.SkipMatching", default=False),
            protected_instances=call.get("Preferences.ScaleInProtectedInstances") or "Refresh",
            standby_instances=call.get("Preferences.StandbyInstances") or "Ignore",
        )
        group = call.required("AutoScalingGroupName")
        refresh = await guarded(start(service, call.tenant_id, group, spec))
        call.result.element("InstanceRefreshId", refresh.refresh_id)

    async def cancel_refresh(call: Call) -> None:
        group = call.required("AutoScalingGroupName")
        refresh_id = await guarded(cancel(service, call.tenant_id, group))
        call.result.element("InstanceRefreshId", refresh_id)

    async def describe(call: Call) -> None:
        group = await guarded(service.group(call.tenant_id, call.required("AutoScalingGroupName")))
        wanted = set(call.members("InstanceRefreshIds"))
        found = [r for r in group.refreshes if not wanted or r.refresh_id in wanted]
        # Newest first, as AWS lists them; the token is a position in that order.
        keyed = [(f"{index:06d}", r) for index, r in enumerate(found)]
        chosen, token = page(call, keyed, lambda item: item[0])
        xml = call.result
        xml.open("InstanceRefreshes")
        for _, refresh in chosen:
            xml.open("member")
            _write(call, group.name, refresh)
            xml.close("member")
        xml.close("InstanceRefreshes")
        if token is not None:
            xml.element("NextToken", token)

    return {
        "StartInstanceRefresh": (start_refresh, True, True),
        "CancelInstanceRefresh": (cancel_refresh, True, True),
        "DescribeInstanceRefreshes": (describe, False, True),
    }


def _write(call: Call, group_name: str, refresh: Refresh) -> None:
    xml = call.result
    xml.element("InstanceRefreshId", refresh.refresh_id)
    xml.element("AutoScalingGroupName", group_name)
    xml.element("Status", refresh.status)
    if refresh.status_reason:
        xml.element("StatusReason", refresh.status_reason)
    xml.element("StartTime", iso8601(refresh.start_time))
    if refresh.end_time is not None:
        xml.element("EndTime", iso8601(refresh.end_time))
    xml.element("PercentageComplete", refresh.percentage)
    xml.element("InstancesToUpdate", len(refresh.to_replace) - len(refresh.replaced))
    xml.open("Preferences")
    xml.element("MinHealthyPercentage", refresh.min_healthy_percentage)
    xml.element("InstanceWarmup", refresh.instance_warmup)
    xml.element("SkipMatching", "true" if refresh.skip_matching else "false")
    xml.element("ScaleInProtectedInstances", refresh.protected_instances)
    xml.element("StandbyInstances", refresh.standby_instances)
    xml.close("Preferences")
