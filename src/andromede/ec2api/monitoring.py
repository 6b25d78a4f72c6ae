"""EC2's detailed monitoring switches (decision 0178): MonitorInstances and
UnmonitorInstances. The choice is recorded on the instance and read by the next gathering of
its metrics (:mod:`andromede.instance_metrics`): 1-minute periods with detailed monitoring,
5-minute ones without. EC2 answers ``pending`` and ``disabling`` while its change spreads; so
does this one, and DescribeInstances says ``enabled`` or ``disabled`` at once.
"""

from __future__ import annotations

from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.protocol import Action, Call

__all__ = ["MONITORING_ACTIONS"]


def _ids(call: Call) -> list[str]:
    return call.params.values("InstanceId")


def _arns(call: Call) -> list[str]:
    return [call.arn("instance", i) for i in _ids(call)] or [call.arn("instance")]


async def _switch(call: Call, enabled: bool) -> None:
    call.params.refuse_unhandled(
        "MonitorInstances" if enabled else "UnmonitorInstances", frozenset({"InstanceId"})
    )
    ids = _ids(call)
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter InstanceId")
    changed = await call.compute.set_monitoring(call.tenant_id, ids, enabled)
    xml = call.result
    xml.open("instancesSet")
    for instance in changed:
        xml.open("item")
        xml.element("instanceId", instance.instance_id)
        xml.open("monitoring")
        xml.element("state", "pending" if enabled else "disabling")
        xml.close("monitoring")
        xml.close("item")
    xml.close("instancesSet")


async def monitor_instances(call: Call) -> None:
    await _switch(call, True)


async def unmonitor_instances(call: Call) -> None:
    await _switch(call, False)


MONITORING_ACTIONS: dict[str, Action] = {
    "MonitorInstances": Action(monitor_instances, mutating=True, resources=_arns),
    "UnmonitorInstances": Action(unmonitor_instances, mutating=True, resources=_arns),
}
