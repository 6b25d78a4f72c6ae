"""Application Load Balancers' access logs delivered into the tenants' buckets (decision 0264),
Network Load Balancers' TLS listeners' (decision 0269, in AWS's NLB format and object
names) and ALBs' connection logs (decision 0287, into their own destination, in AWS's
``conn_log`` objects), where the load balancing and storage contexts meet.

The hosts' HTTP proxies write one line per request
(:mod:`andromede.hypervisor.http_access_log`) and each host's report to the gateway's load
balancer upkeep carries the lines written since the previous one — the path its request
counts take (decision 0216): a host holds no credential and writes nothing itself.
:class:`AccessLogBatches` keeps them per load balancer and node address, and once a
five-minute interval has ended writes its lines as one gzip'd object named as AWS names
them (:func:`andromede.loadbalancing.access_logs.object_key`) into the destination the load
balancer's attributes give then, through :class:`LogBucketWriter`: by the platform, as server
access logs and flow logs are written (decisions 0084, 0153), as the bucket's owner, sealed
under the bucket's account's keys (SSE-S3) like any object.

Who may receive them is checked when the attributes are set (the test object
``ELBAccessLogTestFile``) and again at each delivery: a bucket of the load balancer's account,
or one whose policy allows ``logdelivery.elasticloadbalancing.amazonaws.com``
``s3:PutObject``. Best effort, as AWS's: a delivery that fails is logged and not retried, and
what a gateway held when it stopped is lost; with several gateways each writes the lines the
hosts reported to it, in objects of its own (AWS also writes several per interval).
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from andromede.compute.driver_balancing import BalancerReport
from andromede.errors import AndromedeError
from andromede.loadbalancing.access_logs import (
    Destination,
    batches,
    destination,
    log_body,
    object_key,
    policy_grants_delivery,
    probe_object_key,
    window_end,
)
from andromede.loadbalancing.connection_logs import (
    connection_destination,
    connection_line_time,
    connection_object_key,
)
from andromede.loadbalancing.errors import LoadBalancingError
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.nlb_access_logs import LOG_TYPE as NLB_LOG_TYPE
from andromede.loadbalancing.nlb_access_logs import nlb_object_key
from andromede.loadbalancing.service import LoadBalancingService
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import Bucket
from andromede.storage.service import ObjectService

__all__ = ["AccessLogBatches", "LogBucketWriter", "LogWriter", "line_time"]

_log = logging.getLogger(__name__)
_RANDOM_ALPHABET = string.ascii_lowercase + string.digits


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _random_suffix() -> str:
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(8))


def line_time(line: str) -> datetime | None:
    """A line's time, None for a line that has none: an ALB line's second field, an NLB
    line's third (``tls 2.0 <time>``, UTC without a zone, decision 0269)."""
    fields = line.split(" ", 3)
    try:
        if fields[0] == NLB_LOG_TYPE:
            return datetime.strptime(fields[2], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        return datetime.strptime(fields[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except (IndexError, ValueError):
        return None


class LogWriter(Protocol):
    """Where the batches are written (:class:`LogBucketWriter`)."""

    async def write(self, account: str, target: Destination, key: str, body: bytes) -> bool:
        """``body`` as ``key`` into the destination's bucket; whether it was written."""
        ...


class LogBucketWriter:
    """The buckets the access logs go to (the load balancing context's ``LogBuckets``)."""

    def __init__(self, objects: ObjectService, clock: Callable[[], datetime] = _utcnow) -> None:
        self._objects = objects
        self._clock = clock

    async def _receiving(self, account: str, name: str) -> Bucket | None:
        try:
            bucket = await self._objects.get_bucket(name)
        except NoSuchBucket:
            return None
        if bucket.tenant_id == account or policy_grants_delivery(bucket.policy, name):
            return bucket
        return None

    async def check(self, account: str, target: Destination) -> bool:
        bucket = await self._receiving(account, target.bucket)
        if bucket is None:
            return False
        body = f"Enable AccessLog for ELB at {self._clock():%Y-%m-%dT%H:%M:%S}Z".encode()
        return await self._put(bucket, probe_object_key(target.prefix, account), body, "text/plain")

    async def write(self, account: str, target: Destination, key: str, body: bytes) -> bool:
        """``body`` as ``key`` into the destination's bucket, when it still receives them."""
        bucket = await self._receiving(account, target.bucket)
        if bucket is None:
            _log.info("access logs of %s not written: bucket refused", account)
            return False
        return await self._put(bucket, key, body, "application/x-gzip")

    async def _put(self, bucket: Bucket, key: str, body: bytes, content_type: str) -> bool:
        try:
            await self._objects.put_delivered_object(bucket, key, body, content_type)
        except AndromedeError:
            _log.warning("access log object %s not written", key, exc_info=True)
            return False
        return True


# (tenant, load balancer ``app/NAME/ID``, node address, ``access`` or ``connection``) →
# [(time, line)].
_Held = dict[tuple[str, str, str, str], list[tuple[datetime, str]]]


class AccessLogBatches:
    """The lines the hosts reported, held until their interval ends, then written."""

    def __init__(
        self,
        balancers: LoadBalancingService,
        writer: LogWriter,
        region: str,
        clock: Callable[[], datetime] = _utcnow,
        random: Callable[[], str] = _random_suffix,
    ) -> None:
        self._balancers = balancers
        self._writer = writer
        self._region = region
        self._clock = clock
        self._random = random
        self._held: _Held = {}

    def record(self, host: str, views: Sequence[ForwardingView], report: BalancerReport) -> None:
        """A host's report's lines, each kept under the load balancer whose node it came to."""
        owners = {
            (view.vpc_id, address, view.port): (view.tenant_id, view.lb_dimension)
            for view in views
            if view.http is not None or view.tls is not None  # an NLB's TLS listener's too
            for address in view.addresses
        }
        kinds = (
            ("access", report.access_logs, line_time),
            ("connection", report.connection_logs, connection_line_time),  # decision 0287
        )
        for kind, reported, timed in kinds:
            for logged in reported:
                owner = owners.get((logged.vpc_id, logged.address, logged.port))
                if owner is None:
                    continue  # the listener went since the host was told
                held = self._held.setdefault((*owner, logged.address, kind), [])
                for line in logged.lines:
                    moment = timed(line)
                    if moment is not None:
                        held.append((moment, line))

    async def flush(self) -> list[str]:
        """Every interval that has ended written, one object per load balancer and node
        address (the keys written)."""
        now = self._clock()
        written: list[str] = []
        for key in sorted(self._held):
            held = self._held[key]
            due = [(m, line) for m, line in held if window_end(m) <= now]
            if not due:
                continue
            self._held[key] = [(m, line) for m, line in held if window_end(m) > now]
            if not self._held[key]:
                del self._held[key]
            for end, ordered in batches(due).items():
                found = await self._deliver(key, end, ordered)
                if found is not None:
                    written.append(found)
        return written

    async def _deliver(
        self, key: tuple[str, str, str, str], end: datetime, lines: list[str]
    ) -> str | None:
        tenant_id, dimension, address, logs = key
        kind, name, lb_id = dimension.split("/")
        try:
            lb = await self._balancers.load_balancer(tenant_id, lb_id)
        except LoadBalancingError:
            return None  # deleted meanwhile: its lines go with it
        pick = connection_destination if logs == "connection" else destination
        target = pick(dict(lb.attributes))
        if target is None:
            return None  # turned off meanwhile
        if logs == "connection":  # decision 0287: AWS's conn_log objects
            name = connection_object_key(
                target.prefix, tenant_id, self._region, name, lb_id, end, address, self._random()
            )
        elif kind == "net":  # decision 0269: AWS's NLB objects name no node address
            name = nlb_object_key(
                target.prefix, tenant_id, self._region, name, lb_id, end, self._random()
            )
        else:
            name = object_key(
                target.prefix, tenant_id, self._region, name, lb_id, end, address, self._random()
            )
        if await self._writer.write(tenant_id, target, name, log_body(lines)):
            return name
        return None
