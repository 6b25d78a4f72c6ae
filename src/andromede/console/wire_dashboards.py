"""The CloudWatch dashboard calls (decision 0185) the console's Dashboards pages make
(decision 0111, session 47: dashboards; session 48: editing): ListDashboards, GetDashboard,
PutDashboard and DeleteDashboards,
through the Metrics pages' :class:`CloudWatchWire` — in process, AWS JSON 1.0, as the
signed-in principal — so CloudWatch's IAM decision, checks and account scoping answer them.
Each answer is read into the small values the pages show; nothing here decides what
CloudWatch allows, and the body is returned as stored (the page reads its widgets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from andromede.console.wire_metrics import CloudWatchWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["DashboardPage", "DashboardRow", "delete", "get", "listed", "put"]


@dataclass(frozen=True, slots=True)
class DashboardRow:
    name: str
    size: int  # the body's bytes
    last_modified: str  # "YYYY-MM-DD HH:MM:SS UTC", "" when absent


@dataclass(frozen=True, slots=True)
class DashboardPage:
    dashboards: list[DashboardRow]
    next_token: str | None


def _when(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def listed(
    wire: CloudWatchWire, origin: Scope, principal: Principal, next_token: str | None = None
) -> DashboardPage:
    """One page of ListDashboards of the principal's account."""
    payload = {"NextToken": next_token} if next_token else {}
    answer = await wire._json(origin, principal, "ListDashboards", payload)
    rows = [
        DashboardRow(
            str(item.get("DashboardName", "")),
            int(item["Size"]) if isinstance(item.get("Size"), int) else 0,
            _when(item.get("LastModified")),
        )
        for item in answer.get("DashboardEntries", [])
        if isinstance(item, dict)
    ]
    token = answer.get("NextToken")
    return DashboardPage(rows, str(token) if token else None)


async def get(wire: CloudWatchWire, origin: Scope, principal: Principal, name: str) -> str:
    """GetDashboard's body, as stored."""
    answer = await wire._json(origin, principal, "GetDashboard", {"DashboardName": name})
    return str(answer.get("DashboardBody", ""))


async def delete(wire: CloudWatchWire, origin: Scope, principal: Principal, name: str) -> None:
    await wire._json(origin, principal, "DeleteDashboards", {"DashboardNames": [name]})


async def put(
    wire: CloudWatchWire, origin: Scope, principal: Principal, name: str, body: str
) -> list[tuple[str, str]]:
    """PutDashboard of the body as typed; its ``DashboardValidationMessages`` (warnings of a
    body stored all the same) as (data path, message)."""
    payload = {"DashboardName": name, "DashboardBody": body}
    answer = await wire._json(origin, principal, "PutDashboard", payload)
    listed = answer.get("DashboardValidationMessages")
    return [
        (str(m.get("DataPath", "")), str(m.get("Message", "")))
        for m in (listed if isinstance(listed, list) else [])
        if isinstance(m, dict)
    ]
