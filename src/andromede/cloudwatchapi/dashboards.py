"""CloudWatch's dashboard operations (decision 0185): PutDashboard, GetDashboard,
ListDashboards and DeleteDashboards, their input shapes (the members of AWS's model read), the
calls audited, and the dashboard ARNs each call is authorised on — dashboards have
resource-level permissions, ``arn:aws:cloudwatch::<account>:dashboard/<name>``, and a
DeleteDashboards is authorised on every dashboard it names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.cloudwatchapi.call import MetricsCall
from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.metrics.dashboards import DashboardService, dashboard_arn

__all__ = ["DASHBOARD_ACTIONS", "DASHBOARD_AUDITED", "DASHBOARD_INPUTS", "dashboard_resources"]

DASHBOARD_INPUTS: Final[dict[str, dict[str, Any]]] = {
    "PutDashboard": {"DashboardName": "string", "DashboardBody": "string"},
    "GetDashboard": {"DashboardName": "string"},
    "ListDashboards": {"DashboardNamePrefix": "string", "NextToken": "string"},
    "DeleteDashboards": {"DashboardNames": ["string"]},
}
# Management events, as CloudTrail logs them.
DASHBOARD_AUDITED: Final = frozenset({"PutDashboard", "DeleteDashboards"})


def dashboard_resources(
    operation: str, tenant_id: str, params: Mapping[str, Any]
) -> list[str] | None:
    """The ARNs the call is authorised on; None for a call on ``*`` (ListDashboards, or
    one not about dashboards)."""
    if operation in ("PutDashboard", "GetDashboard"):
        name = params.get("DashboardName")
        return [dashboard_arn(tenant_id, name)] if isinstance(name, str) else None
    if operation == "DeleteDashboards":
        names = params.get("DashboardNames") or []
        return [dashboard_arn(tenant_id, n) for n in dict.fromkeys(names)] or None
    return None


def _service(call: MetricsCall) -> DashboardService:
    if call.dashboards is None:
        raise CloudWatchError("NotImplemented", "Dashboards are not served here.")
    return call.dashboards


async def put_dashboard(call: MetricsCall) -> dict[str, Any]:
    warnings = await _service(call).put(
        call.tenant_id, call.params.get("DashboardName"), call.params.get("DashboardBody")
    )
    return {
        "DashboardValidationMessages": [
            {"DataPath": path, "Message": message} for path, message in warnings
        ]
    }


async def get_dashboard(call: MetricsCall) -> dict[str, Any]:
    found = await _service(call).get(call.tenant_id, call.params.get("DashboardName"))
    return {
        "DashboardArn": dashboard_arn(found.tenant_id, found.name),
        "DashboardBody": found.body,
        "DashboardName": found.name,
    }


async def list_dashboards(call: MetricsCall) -> dict[str, Any]:
    found, token = await _service(call).page(
        call.tenant_id, call.params.get("DashboardNamePrefix"), call.params.get("NextToken")
    )
    answer: dict[str, Any] = {
        "DashboardEntries": [
            {
                "DashboardName": d.name,
                "DashboardArn": dashboard_arn(d.tenant_id, d.name),
                "LastModified": d.last_modified,
                "Size": d.size,
            }
            for d in found
        ]
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


async def delete_dashboards(call: MetricsCall) -> dict[str, Any]:
    await _service(call).delete(call.tenant_id, call.params.get("DashboardNames"))
    return {}


DASHBOARD_ACTIONS: Final[dict[str, Callable[[MetricsCall], Awaitable[dict[str, Any]]]]] = {
    "PutDashboard": put_dashboard,
    "GetDashboard": get_dashboard,
    "ListDashboards": list_dashboards,
    "DeleteDashboards": delete_dashboards,
}
