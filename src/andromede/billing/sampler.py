"""The periodic usage sampler: what is *held* rather than requested (decision 0108).

Every ``interval`` it reads, through the other contexts' services, each tenant's stored bytes
(noncurrent versions included), volume sizes, customer-managed KMS keys, and (decision 0169)
snapshot sizes, public IPv4 addresses and NAT gateways, and (decision 0175) SNS FIFO
topics' archived bytes, and (decision 0190) the secrets held, and (decision 0224) CloudWatch
Logs' stored bytes, and (decision 0241) the advanced parameters held, and (decision 0255)
Kinesis streams' shards, consumers, metrics and retained bytes, and bills them as
held since the last sample (the store's watermark: several gateways sampling bill each
interval once); then it bills the running instances up to now. A failed reading skips its
meter this round: the next sample covers the interval (the amount read then is taken as held
over all of it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from andromede.billing.service import (
    APPLICATION_LB_SAMPLER,
    KMS_KEY_SAMPLER,
    LOAD_BALANCER_SAMPLER,
    LOGS_STORAGE_SAMPLER,
    NAT_GATEWAY_SAMPLER,
    PUBLIC_IPV4_SAMPLER,
    SECRETS_SAMPLER,
    SNAPSHOT_SAMPLER,
    SNS_ARCHIVE_SAMPLER,
    SPOT_SAMPLER,
    SSM_ADVANCED_SAMPLER,
    STORAGE_SAMPLER,
    VOLUME_SAMPLER,
    BillingService,
    RunningInstances,
)

__all__ = ["Amounts", "GroupedAmounts", "UsageSampler"]

log = logging.getLogger(__name__)

# Per (tenant, region): bytes stored, GiB of volumes or snapshots, keys, addresses or NAT
# gateways held.
Amounts = Callable[[], Awaitable[Mapping[tuple[str, str], int]]]
# Several samplers' amounts read in one pass (Kinesis' holdings, decision 0255), by sampler
# name: the reading names each of its samplers every time, so each watermark advances.
GroupedAmounts = Callable[[], Awaitable[Mapping[str, Mapping[tuple[str, str], int]]]]


class UsageSampler:
    def __init__(
        self,
        billing: BillingService,
        *,
        interval: float,
        stored_bytes: Amounts | None = None,
        volume_gib: Amounts | None = None,
        kms_keys: Amounts | None = None,
        snapshot_gib: Amounts | None = None,
        public_ipv4: Amounts | None = None,
        nat_gateways: Amounts | None = None,
        sns_archive_bytes: Amounts | None = None,
        logs_stored_bytes: Amounts | None = None,
        load_balancers: Amounts | None = None,
        application_load_balancers: Amounts | None = None,
        secrets: Amounts | None = None,
        advanced_parameters: Amounts | None = None,
        spot_charges: Amounts | None = None,
        grouped: Sequence[GroupedAmounts] = (),
        running_instances: RunningInstances | None = None,
    ) -> None:
        self._billing = billing
        self._interval = interval
        self._amounts = {
            name: reading
            for name, reading in (
                (STORAGE_SAMPLER, stored_bytes),
                (VOLUME_SAMPLER, volume_gib),
                (KMS_KEY_SAMPLER, kms_keys),
                (SNAPSHOT_SAMPLER, snapshot_gib),
                (PUBLIC_IPV4_SAMPLER, public_ipv4),
                (NAT_GATEWAY_SAMPLER, nat_gateways),
                (SNS_ARCHIVE_SAMPLER, sns_archive_bytes),
                (LOGS_STORAGE_SAMPLER, logs_stored_bytes),
                (LOAD_BALANCER_SAMPLER, load_balancers),
                (APPLICATION_LB_SAMPLER, application_load_balancers),
                (SECRETS_SAMPLER, secrets),
                (SSM_ADVANCED_SAMPLER, advanced_parameters),
                (SPOT_SAMPLER, spot_charges),
            )
            if reading is not None
        }
        self._grouped = tuple(grouped)
        self._running_instances = running_instances

    async def sample(self) -> None:
        for name, reading in self._amounts.items():
            try:
                await self._billing.sample_amounts(name, await reading())
            except Exception:  # one meter's failure must not stop the others
                log.exception("billing sample %s failed; the next one covers its interval", name)
        for grouped in self._grouped:
            try:
                amounts = await grouped()
            except Exception:
                log.exception("billing sample of a group failed; the next one covers it")
                continue
            for name, held in amounts.items():
                try:
                    await self._billing.sample_amounts(name, held)
                except Exception:
                    log.exception("billing sample %s failed; the next one covers it", name)
        if self._running_instances is not None:
            try:
                await self._billing.bill_instances(self._running_instances)
            except Exception:
                log.exception("billing instances failed; the next sample covers the interval")

    async def run_forever(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self._interval)
