"""CloudWatch dashboards (decision 0185): an account's named JSON documents of widgets, what
Terraform's ``aws_cloudwatch_dashboard`` declares beside its alarms.

This module owns the name's and the body's checks — AWS's "Dashboard Body Structure and
Syntax": a JSON object with a ``widgets`` array of at most ``max_widgets`` widgets, each of a
known ``type`` with ``x`` 0-23, ``y`` 0 or more, ``width`` 1-24 and ``height`` 1-1000, a
metric widget's ``properties.metrics`` arrays of strings (an object last) and its ``region``,
a text widget's ``markdown``, an alarm widget's ``alarms`` — answering errors with the data
path AWS gives and warnings for what is stored but shows nothing here (another region, log
and custom widgets). It also holds the store's ``Protocol``, its in-memory twin, and the
service: quota per account, pages by name, deletion all or nothing. The SQL store is
``dashboards_sql``. A dashboard is stored as given: its body is the client's, never rewritten.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from andromede.metrics.errors import (
    InvalidParameterInput,
    InvalidParameterValue,
    LimitExceeded,
    ResourceNotFound,
)

__all__ = [
    "Dashboard",
    "DashboardLimits",
    "DashboardService",
    "DashboardStore",
    "MemoryDashboardStore",
    "check_body",
    "dashboard_arn",
]

_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")
_PREFIX: Final = re.compile(r"[A-Za-z0-9._-]{0,255}")
_TYPES: Final = frozenset({"metric", "text", "alarm", "log", "explorer", "custom"})
# Widgets stored and rendered by no Andromède service: accepted, with a warning.
_NOT_SHOWN: Final = {
    "log": "CloudWatch Logs is not served here: this widget shows nothing.",
    "custom": "Custom (Lambda) widgets are not served here: this widget shows nothing.",
}
# (member, lowest, highest) of a widget's position and size, AWS's ranges.
_RANGES: Final = (("x", 0, 23), ("y", 0, None), ("width", 1, 24), ("height", 1, 1000))


def dashboard_arn(tenant_id: str, name: str) -> str:
    """A dashboard's ARN: dashboards are global, so the region part is empty, as on AWS."""
    return f"arn:aws:cloudwatch::{tenant_id}:dashboard/{name}"


@dataclass(frozen=True, slots=True)
class Dashboard:
    tenant_id: str
    name: str
    body: str
    last_modified: datetime

    @property
    def size(self) -> int:
        return len(self.body.encode())


@dataclass(frozen=True, slots=True)
class DashboardLimits:
    max_per_account: int = 5000
    max_body_size: int = 1024 * 1024
    max_widgets: int = 500
    list_page: int = 1000


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidParameterInput(
            "The value for field DashboardName contains invalid characters. It can only "
            "contain alphanumerics, dash (-) and underscore (_), 1 to 255 of them.",
            (("", "Invalid DashboardName"),),
        )
    return name


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _metrics(path: str, metrics: Any, errors: list[tuple[str, str]]) -> None:
    if not isinstance(metrics, list):
        errors.append((path, "Should be array"))
        return
    for i, row in enumerate(metrics):
        where = f"{path}/{i}"
        if not isinstance(row, list) or not row:
            errors.append((where, "Should be a non-empty array"))
            continue
        *items, last = row
        if isinstance(last, dict):
            if not items and "expression" not in last:
                errors.append((where, "Should have required property 'expression'"))
        else:
            items.append(last)
        for j, item in enumerate(items):
            if not isinstance(item, str):
                errors.append((f"{where}/{j}", "Should be string"))


def _widget(
    index: int, widget: Any, region: str, errors: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    path = f"/widgets/{index}"
    warnings: list[tuple[str, str]] = []
    if not isinstance(widget, dict):
        errors.append((path, "Should be object"))
        return warnings
    kind = widget.get("type")
    if kind is None:
        errors.append((path, "Should have required property 'type'"))
    elif kind not in _TYPES:
        errors.append(
            (f"{path}/type", f"Should be equal to one of the allowed values {sorted(_TYPES)}")
        )
    for member, lowest, highest in _RANGES:
        value = widget.get(member)
        if value is None:
            continue  # AWS places the widget (x, y) or sizes it 6 by 6 itself
        if not _integer(value):
            errors.append((f"{path}/{member}", "Should be integer"))
        elif value < lowest:
            errors.append((f"{path}/{member}", f"Should be >= {lowest}"))
        elif highest is not None and value > highest:
            errors.append((f"{path}/{member}", f"Should be <= {highest}"))
    properties = widget.get("properties")
    if not isinstance(properties, dict):
        if kind in ("metric", "text", "alarm", "log", "explorer"):
            errors.append((path, "Should have required property 'properties'"))
            return warnings
        properties = {}
    where = f"{path}/properties"
    if kind == "metric":
        if "metrics" in properties:
            _metrics(f"{where}/metrics", properties["metrics"], errors)
        elif "annotations" not in properties:
            errors.append((where, "Should have required property 'metrics'"))
        chosen = properties.get("region")
        if not isinstance(chosen, str):
            errors.append((where, "Should have required property 'region'"))
        elif chosen != region:
            warnings.append(
                (f"{where}/region", f"The region {chosen[:64]} is not served here: this "
                 f"widget shows the metrics of {region} only.")
            )  # fmt: skip
    elif kind == "text":
        if not isinstance(properties.get("markdown"), str):
            errors.append((where, "Should have required property 'markdown'"))
    elif kind == "alarm":
        alarms = properties.get("alarms")
        if not isinstance(alarms, list) or not all(isinstance(a, str) for a in alarms):
            errors.append((where, "Should have required property 'alarms', an array of ARNs"))
    if isinstance(kind, str) and kind in _NOT_SHOWN:
        warnings.append((path, _NOT_SHOWN[kind]))
    return warnings


def check_body(body: Any, region: str, limits: DashboardLimits) -> list[tuple[str, str]]:
    """The body's warnings as (data path, message); :class:`InvalidParameterInput` carrying
    every error found when the body is refused."""
    if not isinstance(body, str):
        raise InvalidParameterInput("The field DashboardBody is required.")
    if len(body.encode()) > limits.max_body_size:
        raise InvalidParameterInput(
            f"The field DashboardBody is larger than {limits.max_body_size} bytes."
        )
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidParameterInput(
            "The field DashboardBody must be a valid JSON object",
            (("", "The field DashboardBody must be a valid JSON object"),),
        ) from exc
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    if not isinstance(document, dict):
        errors.append(("", "Should be object"))
    elif "widgets" not in document:
        errors.append(("", "Should have required property 'widgets'"))
    elif not isinstance(document["widgets"], list):
        errors.append(("/widgets", "Should be array"))
    elif len(document["widgets"]) > limits.max_widgets:
        errors.append(("/widgets", f"Should NOT have more than {limits.max_widgets} items"))
    else:
        for index, widget in enumerate(document["widgets"]):
            warnings += _widget(index, widget, region, errors)
    if errors:
        shown = json.dumps([{"dataPath": p, "message": m} for p, m in errors[:20]])
        raise InvalidParameterInput(
            f"The dashboard body is invalid, there are {len(errors)} validation errors: {shown}",
            tuple(errors),
        )
    return warnings


class DashboardStore(Protocol):
    async def put(self, dashboard: Dashboard) -> None:
        """Create the dashboard or replace the account's dashboard of that name."""
        ...

    async def get(self, tenant_id: str, name: str) -> Dashboard | None: ...

    async def count(self, tenant_id: str) -> int: ...

    async def page(self, tenant_id: str, prefix: str, after: str, limit: int) -> list[Dashboard]:
        """Up to ``limit`` of the account's dashboards named ``prefix…``, by name, after
        ``after``."""
        ...

    async def delete(self, tenant_id: str, names: Sequence[str]) -> list[str]:
        """Delete every dashboard named, in one transaction, or none: the names the account
        does not have (nothing deleted when there is one)."""
        ...


class MemoryDashboardStore:
    def __init__(self) -> None:
        self._held: dict[tuple[str, str], Dashboard] = {}
        self._lock = asyncio.Lock()

    async def put(self, dashboard: Dashboard) -> None:
        self._held[dashboard.tenant_id, dashboard.name] = dashboard

    async def get(self, tenant_id: str, name: str) -> Dashboard | None:
        return self._held.get((tenant_id, name))

    async def count(self, tenant_id: str) -> int:
        return sum(1 for tenant, _ in self._held if tenant == tenant_id)

    async def page(self, tenant_id: str, prefix: str, after: str, limit: int) -> list[Dashboard]:
        found = sorted(
            (d for (t, n), d in self._held.items() if t == tenant_id and n.startswith(prefix)),
            key=lambda d: d.name,
        )
        return [d for d in found if d.name > after][:limit]

    async def delete(self, tenant_id: str, names: Sequence[str]) -> list[str]:
        async with self._lock:
            missing = [n for n in names if (tenant_id, n) not in self._held]
            if not missing:
                for name in names:
                    self._held.pop((tenant_id, name), None)
            return missing


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(token: str | None) -> str:
    if token is None:
        return ""
    try:
        name = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidParameterValue("The NextToken is not valid.") from exc
    if not _NAME.fullmatch(name):
        raise InvalidParameterValue("The NextToken is not valid.")
    return name


class DashboardService:
    """The dashboards of each account, checked as AWS checks them."""

    def __init__(
        self, store: DashboardStore, region: str, limits: DashboardLimits | None = None
    ) -> None:
        self._store = store
        self._region = region
        self.limits = limits or DashboardLimits()

    async def put(self, tenant_id: str, name: Any, body: Any) -> list[tuple[str, str]]:
        """Store the dashboard; its warnings (``DashboardValidationMessages``)."""
        name = check_name(name)
        warnings = check_body(body, self._region, self.limits)
        if await self._store.get(tenant_id, name) is None:
            # Counted then written: two concurrent creations may pass the bound by one each,
            # an excess the quota tolerates rather than serialise every account's writes.
            if await self._store.count(tenant_id) >= self.limits.max_per_account:
                raise LimitExceeded(
                    f"The account holds {self.limits.max_per_account} dashboards, its quota."
                )
        await self._store.put(Dashboard(tenant_id, name, body, datetime.now(UTC)))
        return warnings

    async def get(self, tenant_id: str, name: Any) -> Dashboard:
        if not isinstance(name, str) or not name:
            raise InvalidParameterValue("The parameter DashboardName is required.")
        found = await self._store.get(tenant_id, name)
        if found is None:
            raise ResourceNotFound("Dashboard does not exist")
        return found

    async def page(
        self, tenant_id: str, prefix: str | None, token: str | None
    ) -> tuple[list[Dashboard], str | None]:
        prefix = prefix or ""
        if not _PREFIX.fullmatch(prefix):
            raise InvalidParameterValue(
                "DashboardNamePrefix may hold up to 255 of A-Z, a-z, 0-9, '.', '-' and '_'."
            )
        limit = self.limits.list_page
        found = await self._store.page(tenant_id, prefix, _after(token), limit + 1)
        if len(found) > limit:
            return found[:limit], _token(found[limit - 1].name)
        return found, None

    async def delete(self, tenant_id: str, names: Any) -> None:
        if not isinstance(names, list) or not names:
            raise InvalidParameterValue("The parameter DashboardNames is required.")
        if len(names) > self.limits.max_per_account:
            raise InvalidParameterValue("Too many DashboardNames.")
        missing = await self._store.delete(tenant_id, list(dict.fromkeys(names)))
        if missing:
            raise ResourceNotFound(
                f"The specified dashboard does not exist. [{', '.join(missing[:10])}]"
            )
