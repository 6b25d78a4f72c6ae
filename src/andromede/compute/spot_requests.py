"""Spot Instance requests (decision 0202), a mixin over
:class:`~andromede.compute.launching.LaunchingMixin`: RequestSpotInstances,
DescribeSpotInstanceRequests, CancelSpotInstanceRequests, and the Spot upkeep that follows the
requests and their instances.

A request is fulfilled by the launch path itself (a RunInstances of one instance, its Spot
options and request id given): placement, the quota and the price are checked as for any Spot
launch, and a refusal leaves the request open with EC2's status (``capacity-not-available``,
``price-too-low``). The upkeep, every ``instance_shutdown_check_interval`` (the compute
upkeep's round):

1. records the Spot prices when due (:meth:`spot_prices`) and prunes the history;
2. marks the running Spot Instances whose maximum price the Spot price passed (their notice);
3. interrupts those whose notice ended: terminated or stopped as their request says, the
   request's status ``instance-terminated-by-price`` / ``…-no-capacity`` (or ``stopped``);
4. follows what the tenant did: an instance terminated or stopped by its owner is
   ``instance-terminated-by-user`` / ``instance-stopped-by-user``; one started again makes
   its request ``fulfilled`` again;
5. closes the requests past their ``ValidUntil`` (``schedule-expired``);
6. fulfils the open requests, and starts again the instances of the persistent requests an
   interruption stopped, when the price and the capacity allow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from andromede.compute.errors import (
    ComputeError,
    IdempotentParameterMismatch,
    IncorrectInstanceState,
    InstanceLimitExceeded,
    InsufficientCapacity,
    NotFound,
    SpotMaxPriceTooLow,
    Unsupported,
)
from andromede.compute.launch_request import RunRequest, run_request_digest
from andromede.compute.launching import LaunchingMixin
from andromede.compute.model import (
    Event,
    Instance,
    InstanceState,
    SpotOptions,
    Tags,
    check_id,
    check_tags,
    request_digest,
)
from andromede.compute.spot import (
    SpotInstanceRequest,
    SpotRequestState,
    check_spot_options,
    new_spot_request_id,
    with_status,
)

__all__ = ["SpotRequestsMixin"]

log = logging.getLogger(__name__)

_R = SpotRequestState
# EC2's state reasons of an interrupted Spot Instance.
_TERMINATED_REASON = "Server.SpotInstanceTermination: Spot instance termination"
_STOPPED_REASON = "Server.SpotInstanceShutdown: Spot instance shutdown"
_GONE = (InstanceState.SHUTTING_DOWN, InstanceState.TERMINATED)
_HALTED = (InstanceState.STOPPING, InstanceState.STOPPED)
_ATTEMPTS = 16
_ENDED = frozenset({SpotRequestState.CLOSED, SpotRequestState.CANCELLED, SpotRequestState.FAILED})


class SpotRequestsMixin(LaunchingMixin):
    """Spot Instance requests and the Spot upkeep."""

    if TYPE_CHECKING:  # the service's own, which an interruption's stop drives

        async def _stop_on_host(self, instance: Instance, *, force: bool) -> None: ...

    # -- the tenant's calls --------------------------------------------------------------------

    async def request_spot_instances(
        self,
        tenant_id: str,
        launch: RunRequest,
        options: SpotOptions,
        count: int,
        *,
        tags: Tags = (),
        client_token: str | None = None,
    ) -> list[SpotInstanceRequest]:
        """Make ``count`` requests and try to fulfil each at once. A launch refused for its
        parameters (an image, a group, a key pair that does not exist…) is the call's error,
        and no request is kept; capacity or price leave the requests open."""
        now = self.clock()
        check_spot_options(options, run_instances=False, now=now)
        check_tags(tags)
        self.instance_type(launch.instance_type)
        digest = (
            request_digest(
                {
                    "launch": run_request_digest(launch),
                    "options": options,
                    "count": count,
                    "tags": tags,
                }
            )
            if client_token is not None
            else ""
        )
        if client_token is not None:
            earlier = [
                r
                for index in range(count)
                if (
                    r := await self._request_record(
                        new_spot_request_id(tenant_id, client_token, index)
                    )
                )
                is not None
                and r.tenant_id == tenant_id
            ]
            if earlier:
                if any(r.request_digest != digest for r in earlier):
                    raise IdempotentParameterMismatch(
                        f"The client token '{client_token[:64]}' was already used for another "
                        "request"
                    )
                return earlier
        await self.check_spot_quota(tenant_id, count)
        stored = replace(
            launch, caller=None, min_count=1, max_count=1, client_token=None, spot=None
        )
        requests = [
            SpotInstanceRequest(
                spot_instance_request_id=new_spot_request_id(tenant_id, client_token, index),
                tenant_id=tenant_id,
                options=options,
                launch=stored,
                state=_R.OPEN,
                status_code="pending-evaluation",
                status_updated_at=now,
                created_at=now,
                tags=tags,
                request_digest=digest,
            )
            for index in range(count)
        ]
        await self.store.insert(*requests)
        fulfilled = []
        for index, request in enumerate(requests):
            try:
                fulfilled.append(await self._fulfil(request, caller=launch.caller))
            except ComputeError as exc:
                if index:  # the first launched: this one failed, the others stand
                    message = str(exc)[:256]
                    failed = await self._set_status(request, "bad-parameters", now, message=message)
                    fulfilled.append(failed)
                    continue
                # Its parameters are refused: no request of this call is kept.
                for made in requests:
                    await self.store.delete(SpotInstanceRequest, made.spot_instance_request_id)
                raise
        return fulfilled

    async def describe_spot_instance_requests(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[SpotInstanceRequest]:
        if ids:
            return [await self._owned_request(tenant_id, i) for i in dict.fromkeys(ids)]
        return await self.store.list(SpotInstanceRequest, tenant_id)

    async def cancel_spot_instance_requests(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[SpotInstanceRequest]:
        """Cancel each request; its instance, if it has one, keeps running (as on EC2:
        ``request-canceled-and-instance-running``). A request closed or cancelled already
        is answered as it is."""
        requests = [await self._owned_request(tenant_id, i) for i in dict.fromkeys(ids)]
        answered = []
        for request in requests:
            answered.append(await self._cancel(request))
        return answered

    async def _cancel(self, request: SpotInstanceRequest) -> SpotInstanceRequest:
        for _ in range(_ATTEMPTS):
            current = await self._request_record(request.spot_instance_request_id)
            if current is None:
                raise NotFound("sir", request.spot_instance_request_id)
            if current.state not in (_R.OPEN, _R.ACTIVE, _R.DISABLED):
                return current
            code = (
                "canceled-before-fulfillment"
                if current.state is _R.OPEN
                else "request-canceled-and-instance-running"
            )
            cancelled = with_status(current, code, self.clock())
            if await self.store.replace(cancelled):
                return replace(cancelled, revision=cancelled.revision + 1)
        raise ComputeError(f"{request.spot_instance_request_id}: too many concurrent changes")

    async def _owned_request(self, tenant_id: str, request_id: str) -> SpotInstanceRequest:
        check_id(request_id, "sir")
        request = await self._request_record(request_id)
        if request is None or request.tenant_id != tenant_id:
            raise NotFound("sir", request_id)
        return request

    async def _request_record(self, request_id: str) -> SpotInstanceRequest | None:
        return await self.store.get(SpotInstanceRequest, request_id)

    def refuse_spot_stop(
        self, instances: Sequence[Instance], requests: dict[str, SpotInstanceRequest]
    ) -> None:
        """EC2 stops a Spot Instance only if its request is persistent with the ``stop``
        interruption behaviour."""
        for instance in instances:
            request = requests.get(instance.spot_request_id or "")
            if instance.lifecycle == "spot" and (
                request is None or request.options.interruption_behavior != "stop"
            ):
                raise Unsupported(
                    f"You can't stop the Spot Instance '{instance.instance_id}' because it is "
                    "associated with a one-time Spot Instance request. You can only stop Spot "
                    "Instances associated with persistent Spot Instance requests."
                )

    # -- fulfilment ----------------------------------------------------------------------------

    async def _fulfil(
        self, request: SpotInstanceRequest, *, caller: object = None
    ) -> SpotInstanceRequest:
        """Launch the request's instance (an open request), or start its stopped instance
        again (a disabled one an interruption stopped); the request as it then is. Its
        launch's refusals for its parameters are raised."""
        now = self.clock()
        if request.state is _R.DISABLED and request.instance_id is not None:
            try:
                await self._restart(request)
            except (InsufficientCapacity, SpotMaxPriceTooLow, IncorrectInstanceState):
                return request  # stays disabled, its instance stopped, until they allow
            return await self._set_status(request, "fulfilled", now)
        start = request.options.valid_from
        if start is not None and now < start:
            if request.status_code == "not-scheduled-yet":
                return request
            return await self._set_status(request, "not-scheduled-yet", now)
        try:
            launch = replace(
                request.launch,
                spot=request.options,
                spot_request_id=request.spot_instance_request_id,
                caller=caller,
            )
            [instance] = await self.run_instances(request.tenant_id, launch)
        except InsufficientCapacity:
            return await self._set_status(request, "capacity-not-available", now)
        except InstanceLimitExceeded as exc:  # the account's quota: it waits, as for room
            return await self._set_status(
                request, "capacity-not-available", now, message=str(exc)[:256]
            )
        except SpotMaxPriceTooLow as exc:
            return await self._set_status(request, "price-too-low", now, message=str(exc))
        return await self._set_status(request, "fulfilled", now, instance_id=instance.instance_id)

    async def _restart(self, request: SpotInstanceRequest) -> None:
        """Start a persistent request's stopped instance again, if the price allows (its
        host's room is start_instances' own check)."""
        instance = await self.store.get(Instance, request.instance_id or "")
        if instance is None or instance.state is not InstanceState.STOPPED:
            raise InsufficientCapacity("The Spot Instance is not stopped")
        await self.admit_spot(
            request.tenant_id,
            replace(
                request.launch,
                spot=request.options,
                spot_request_id=request.spot_instance_request_id,
            ),
            self.instance_type(instance.instance_type),
        )
        await self._apply_quietly(instance.instance_id, spot_interruption=None)
        await self.start_instances(request.tenant_id, [instance.instance_id])

    async def _apply_quietly(self, instance_id: str, **changes: object) -> None:
        for _ in range(_ATTEMPTS):
            instance = await self.store.get(Instance, instance_id)
            if instance is None or await self.store.replace(replace(instance, **changes)):  # type: ignore[arg-type]
                return

    async def _set_status(
        self,
        request: SpotInstanceRequest,
        code: str,
        now: datetime,
        *,
        message: str = "",
        instance_id: str | None = None,
    ) -> SpotInstanceRequest:
        """Record ``code`` on the request (re-read on a concurrent change); a request the
        tenant cancelled meanwhile keeps its cancellation."""
        for _ in range(_ATTEMPTS):
            current = await self._request_record(request.spot_instance_request_id)
            if current is None:
                raise NotFound("sir", request.spot_instance_request_id)
            if current.state is _R.CANCELLED and instance_id is None:
                return current
            changed = with_status(current, code, now, message=message)
            if instance_id is not None:
                changed = replace(changed, instance_id=instance_id)
                if current.state is _R.CANCELLED:  # fulfilled while it was being cancelled
                    changed = with_status(changed, "request-canceled-and-instance-running", now)
            if await self.store.replace(changed):
                return replace(changed, revision=changed.revision + 1)
        raise ComputeError(f"{request.spot_instance_request_id}: too many concurrent changes")

    # -- the upkeep ----------------------------------------------------------------------------

    async def spot_upkeep(self) -> None:
        """One round of the Spot upkeep (see the module's docstring)."""
        prices = await self.spot_prices()
        now = self.clock()
        requests = {
            r.spot_instance_request_id: r for r in await self.store.list(SpotInstanceRequest, None)
        }
        spot = [i for i in await self.store.list(Instance, None) if i.lifecycle == "spot"]
        if not requests and not spot:
            return  # no Spot in the region: the prices alone (recorded above when due)
        for instance in spot:
            request = requests.get(instance.spot_request_id or "")
            if (
                instance.state is InstanceState.RUNNING
                and instance.spot_interruption is None
                and request is not None
            ):
                ceiling = request.options.max_price
                if ceiling is None:
                    ceiling = await self.on_demand_price(instance.instance_type)
                if prices.get(instance.instance_type, ceiling) > ceiling:
                    await self.interrupt_spot(instance.instance_id, "price")
        for instance in spot:
            interruption = instance.spot_interruption
            if (
                interruption is not None
                and interruption.time <= now
                and instance.state in (InstanceState.PENDING, InstanceState.RUNNING)
            ):
                await self._interrupt_now(instance, requests.get(instance.spot_request_id or ""))
        await self._follow_instances(now)
        await self._forget_ended_requests(now)
        for request in await self.store.list(SpotInstanceRequest, None):
            until = request.options.valid_until
            if request.state in (_R.OPEN, _R.DISABLED) and until is not None and until <= now:
                await self._set_status(request, "schedule-expired", now)
            elif request.state is _R.OPEN or (
                request.state is _R.DISABLED and request.status_code != "instance-stopped-by-user"
            ):
                try:
                    await self._fulfil(request)
                except ComputeError as exc:
                    # Its launch is refused now (its image deregistered…): failed, as on EC2.
                    log.info("%s: not fulfilled: %s", request.spot_instance_request_id, exc)
                    await self._set_status(request, "bad-parameters", now, message=str(exc)[:256])

    async def _interrupt_now(self, instance: Instance, request: SpotInstanceRequest | None) -> None:
        """The notice ended: terminate or stop the instance, and say so on its request."""
        interruption = instance.spot_interruption
        if interruption is None:
            return
        stop = interruption.action == "stop"
        cause = "by-price" if interruption.reason == "price" else "no-capacity"
        changed = await self._apply(
            instance.instance_id,
            Event.STOP if stop else Event.TERMINATE,
            reason=_STOPPED_REASON if stop else _TERMINATED_REASON,
            quiet=True,
            revision=instance.revision,
        )
        if changed is None:
            return
        log.info("instance %s: Spot Instance interrupted (%s)", instance.instance_id, cause)
        if stop:
            self._spawn(self._stop_on_host(changed, force=False))
        else:
            self._spawn(self._terminate_on_host(changed))
        if request is not None and request.instance_id == instance.instance_id:
            if request.state is _R.ACTIVE:
                verb = "stopped" if stop else "terminated"
                await self._set_status(request, f"instance-{verb}-{cause}", self.clock())

    async def _follow_instances(self, now: datetime) -> None:
        """What the owners did to their Spot Instances, on their requests."""
        for request in await self.store.list(SpotInstanceRequest, None):
            if request.instance_id is None or request.state not in (_R.ACTIVE, _R.DISABLED):
                continue
            instance = await self.store.get(Instance, request.instance_id)
            state = instance.state if instance is not None else InstanceState.TERMINATED
            if request.state is _R.ACTIVE and state in _GONE:
                if instance is not None and instance.state_reason == _TERMINATED_REASON:
                    continue  # interrupted: said by _interrupt_now
                await self._set_status(request, "instance-terminated-by-user", now)
            elif (
                request.state is _R.ACTIVE
                and state in _HALTED
                and instance is not None
                and instance.state_reason != _STOPPED_REASON
            ):
                await self._set_status(request, "instance-stopped-by-user", now)
            elif request.state is _R.DISABLED and state in _GONE:
                await self._set_status(request, "instance-terminated-by-user", now)
            elif request.state is _R.DISABLED and state in (
                InstanceState.PENDING,
                InstanceState.RUNNING,
            ):
                await self._set_status(request, "fulfilled", now)

    async def _forget_ended_requests(self, now: datetime) -> None:
        """Requests closed, cancelled or failed longer ago than the terminated instances'
        retention are forgotten (EC2 shows them for about four hours); a cancelled one whose
        instance still lives is kept while it does."""
        horizon = now - timedelta(seconds=self.limits.terminated_retention)
        for request in await self.store.list(SpotInstanceRequest, None):
            if request.state not in _ENDED or request.status_updated_at >= horizon:
                continue
            if request.instance_id is not None and request.state is _R.CANCELLED:
                instance = await self.store.get(Instance, request.instance_id)
                if instance is not None and instance.state is not InstanceState.TERMINATED:
                    continue
            await self.store.delete(SpotInstanceRequest, request.spot_instance_request_id)
