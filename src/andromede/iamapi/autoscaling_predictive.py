"""Predictive scaling on the wire (decision 0197): ``PredictiveScalingConfiguration`` read
from PutScalingPolicy's Query parameters into AWS's structure (the checks are
``autoscaling.predictive``'s) and written back in DescribePolicies' shape, and
GetPredictiveScalingForecast."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from andromede.autoscaling.predictive import PREDICTIVE, forecast, hours_between
from andromede.autoscaling.service import AutoScalingService
from andromede.http.xml import XmlWriter
from andromede.iamapi.autoscaling_wire import guarded, refuse_unhandled
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call, iso8601

__all__ = ["PREFIX", "handlers", "structure", "write_structure"]

PREFIX: Final = "PredictiveScalingConfiguration."
_INDEX: Final = re.compile(r"^[1-9][0-9]{0,3}$")
# AWS: StartTime at most a year back, EndTime at most 30 days after it.
_LONGEST: Final = timedelta(days=30)
_OLDEST: Final = timedelta(days=366)


def structure(params: dict[str, str], prefix: str) -> dict[str, Any] | None:
    """The parameters under ``prefix`` as the nested structure they flatten (``member.N``
    lists as lists, in order, without gaps); None when there are none."""
    root: dict[str, Any] = {}
    found = False
    for key, value in params.items():
        if not key.startswith(prefix):
            continue
        found = True
        parts = key[len(prefix) :].split(".")
        node: Any = root
        index = 0
        while index < len(parts):
            part = parts[index]
            last = index == len(parts) - 1
            if part == "member" and not last and _INDEX.match(parts[index + 1]):
                part = f"#{parts[index + 1]}"
                index += 1
                last = index == len(parts) - 1
            if not part or not isinstance(node, dict):
                raise QueryError("ValidationError", f"Malformed parameter {key[:128]}")
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
            index += 1
    return _lists(root) if found else None


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.startswith("#") for k in node):
        indexes = sorted(int(k[1:]) for k in node)
        if indexes != list(range(1, len(indexes) + 1)):
            raise QueryError("ValidationError", "List members must be numbered from 1 on")
        return [_lists(node[f"#{i}"]) for i in indexes]
    if any(k.startswith("#") for k in node):
        raise QueryError("ValidationError", "A list's members cannot be mixed with fields")
    return {k: _lists(v) for k, v in node.items()}


def write_structure(xml: XmlWriter, name: str, value: Any) -> None:
    """``value`` (a structure, list or scalar) as the Query XML element ``name``."""
    if isinstance(value, dict):
        xml.open(name)
        for key, member in value.items():
            write_structure(xml, key, member)
        xml.close(name)
    elif isinstance(value, list):
        xml.open(name)
        for member in value:
            write_structure(xml, "member", member)
        xml.close(name)
    elif isinstance(value, float):
        xml.element(name, repr(value))
    else:
        xml.element(name, value)


def _moment(call: Call, name: str) -> datetime:
    raw = call.required(name)
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise QueryError("ValidationError", f"{name} is not an ISO 8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _values(xml: XmlWriter, stamps: list[datetime], values: list[float]) -> None:
    xml.open("Timestamps")
    for stamp in stamps:
        xml.element("member", iso8601(stamp))
    xml.close("Timestamps")
    xml.open("Values")
    for value in values:
        xml.element("member", repr(float(value)))
    xml.close("Values")


def handlers(
    service: AutoScalingService,
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    async def get_forecast(call: Call) -> None:
        refuse_unhandled(call, ("AutoScalingGroupName", "PolicyName", "StartTime", "EndTime"))
        name = call.required("AutoScalingGroupName")
        policy_name = call.required("PolicyName")
        start, end = _moment(call, "StartTime"), _moment(call, "EndTime")
        if end <= start:
            raise QueryError("ValidationError", "EndTime must be after StartTime")
        if end - start > _LONGEST:
            raise QueryError("ValidationError", "EndTime is at most 30 days after StartTime")
        if start < service.clock() - _OLDEST:
            raise QueryError("ValidationError", "StartTime is at most a year ago")
        group = await guarded(service.group(call.tenant_id, name))
        policy = next(
            (p for p in group.policies if p.name == policy_name and p.policy_type == PREDICTIVE),
            None,
        )
        if policy is None:
            raise QueryError(
                "ValidationError", f"No predictive scaling policy {policy_name[:255]} in {name}"
            )
        found = await guarded(forecast(service, group, policy))
        hours = hours_between(start, end, found.load)
        by_hour = {h: (load, capacity) for h, load, capacity, _ in found.hours}
        xml = call.result
        xml.open("LoadForecast")
        xml.open("member")
        _values(xml, hours, [by_hour[h][0] for h in hours])
        write_structure(xml, "MetricSpecification", found.config["MetricSpecifications"][0])
        xml.close("member")
        xml.close("LoadForecast")
        xml.open("CapacityForecast")
        _values(xml, hours, [float(by_hour[h][1]) for h in hours])
        xml.close("CapacityForecast")
        xml.element("UpdateTime", iso8601(service.clock()))

    return {"GetPredictiveScalingForecast": (get_forecast, False, True)}
