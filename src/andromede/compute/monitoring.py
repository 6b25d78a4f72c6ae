"""Instance monitoring in the compute service (decision 0178): detailed monitoring switched on
and off (MonitorInstances, UnmonitorInstances), and the hosts' measures of their running
instances gathered for CloudWatch.

The compute context knows nothing of CloudWatch: it answers what each host measured, with the
instance records to place them (:class:`MeasuredInstance`); the platform's adapter
(:mod:`andromede.instance_metrics`) turns them into ``AWS/EC2`` and ``AWS/EBS`` points.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from andromede.compute.errors import IncorrectState
from andromede.compute.instance_stats import InstanceStats
from andromede.compute.model import Instance, InstanceState
from andromede.compute.service_core import ServiceCore
from andromede.errors import AndromedeError

__all__ = ["MeasuredInstance", "MonitoringMixin"]

log = logging.getLogger(__name__)

_GONE = (InstanceState.SHUTTING_DOWN, InstanceState.TERMINATED)
_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class MeasuredInstance:
    """What a host measured of one of its instances, with the instance's record."""

    instance: Instance
    stats: InstanceStats


class MonitoringMixin(ServiceCore):
    async def set_monitoring(
        self, tenant_id: str, instance_ids: Sequence[str], enabled: bool
    ) -> list[Instance]:
        """Detailed monitoring on or off for each instance: all of them are checked (the
        tenant's, not terminated) before any changes, as EC2 does."""
        ids = list(dict.fromkeys(instance_ids))
        for instance_id in ids:
            instance = await self._owned(Instance, tenant_id, instance_id, "i")
            if instance.state in _GONE:
                raise IncorrectState(f"The instance '{instance_id}' is not in a valid state")
        changed = []
        for instance_id in ids:
            for _ in range(_ATTEMPTS):
                instance = await self._owned(Instance, tenant_id, instance_id, "i")
                if instance.monitoring is enabled:
                    break
                try:
                    instance = await self._update(instance, monitoring=enabled)
                except IncorrectState:
                    continue  # changed meanwhile: read again
                break
            else:
                raise IncorrectState(f"{instance_id} changed concurrently; retry")
            changed.append(instance)
        return changed

    async def measured_instances(self) -> list[MeasuredInstance]:
        """What every host measured of its running instances since it was last asked (each
        host hands a measure out once, whichever gateway asks). A host that does not answer,
        or an agent older than the call, is skipped: its guests' counts wait for a pass it
        answers. A measure of an instance no record holds any more is dropped."""
        stats: list[InstanceStats] = []
        for host, driver in sorted(self.drivers.items()):
            try:
                stats += await driver.collect_metrics()
            except AndromedeError:
                log.warning("host %s did not report its instances' metrics", host, exc_info=True)
        if not stats:
            return []
        records = {i.instance_id: i for i in await self.store.list(Instance, None)}
        return [
            MeasuredInstance(records[s.instance_id], s) for s in stats if s.instance_id in records
        ]
