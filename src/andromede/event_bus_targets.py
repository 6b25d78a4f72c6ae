"""EventBridge's event bus targets (decision 0273), where the events and identity contexts
meet: the ``events.dispatcher.BusSink`` that puts a matched event onto another bus — of the
rule's account or of another account, of the rule's Region or of another Region the
deployment declares (decision 0349: that Region's service, over its view of the store,
receives it; a bus of another Region is written only as the target's role, as AWS requires).

As AWS documents it ("Sending and receiving events between AWS accounts", "… between event
buses in the same account and Region"):

- the receiving bus gets the event itself — its ``id``, ``source``, ``detail-type``,
  ``time``, ``resources``, ``detail``, and its ``account`` and ``region`` of origin — and
  routes it to its own rules, whose other targets receive it — with the event's trace header,
  as its PutEvents gave it (decision 0360) —; "EventBridge can't route events received from a
  sender event bus to a third event bus" (``EventsService.receive``);
- another account's bus is written as the target's ``RoleArn`` (required by PutTargets): a
  role of the rule's account trusting ``events.amazonaws.com`` (else
  ``FAILED_TO_ASSUME_ROLE``), whose identity policies allow ``events:PutEvents`` on the
  receiving bus and whom that bus's resource policy (PutPermission, or ``Policy``) lets in —
  both, as the engine judges any cross-account request (else ``NO_PERMISSIONS``) — with the
  condition keys AWS documents for it: the sending rule as ``aws:SourceArn`` (its account
  ``aws:SourceAccount``), the event's ``events:source`` and ``events:detail-type``, and
  ``events:eventBusInvocation`` true;
- the account's own bus is written as the role when the target has one (its identity
  policies or the bus's policy must allow it), else for the account;
- a bus that does not exist is ``NO_RESOURCE``; a receiving bus whose customer key refuses
  is refused as PutEvents refuses it (decision 0213). None of these is tried again: they go
  to the target's dead-letter queue, as AWS's failed invocations do.

Each event sent onto another bus is metered as a published event of the sending account, as
AWS charges "events sent from one event bus to another … as custom events".
"""

from __future__ import annotations

from typing import Any

from andromede.billing.service import BillingService
from andromede.event_stream_targets import EVENTS_PRINCIPAL, EventsRoles
from andromede.events.dispatcher import DeliveryRefused
from andromede.events.errors import ResourceNotFound, ValidationError
from andromede.events.event_keys import KeyUnusable
from andromede.events.model import Target, bus_of_target, parse_arn
from andromede.events.service import EventsService
from andromede.iam.policy.context import ContextValue

__all__ = ["RoleBusTargets"]


class RoleBusTargets:
    """:class:`~andromede.events.dispatcher.BusSink` over the EventBridge service."""

    def __init__(
        self, service: EventsService, roles: EventsRoles, billing: BillingService | None = None
    ) -> None:
        self._service = service
        # Decision 0349: each declared Region's service, the default Region's among them.
        self.regions: dict[str, EventsService] = {service.region: service}
        self._roles = roles
        # The published events' meter; None where nothing is billed.
        self.billing = billing

    async def send(
        self,
        tenant_id: str,
        target: Target,
        event: dict[str, Any],
        *,
        rule_arn: str,
        trace: str | None = None,
    ) -> None:
        found = bus_of_target(target.arn)
        service = None if found is None else self.regions.get(found[0])
        if found is None or service is None:
            raise DeliveryRefused("NO_RESOURCE", f"{target.arn} is no event bus served here")
        _, owner, name = found
        keys = _keys(event, rule_arn)
        await self._check_sender(tenant_id, target, owner, name, rule_arn, keys, service)
        try:
            await service.receive(owner, name, event, trace=trace)
        except (ResourceNotFound, ValidationError):
            raise DeliveryRefused("NO_RESOURCE", f"event bus {target.arn} does not exist") from None
        except KeyUnusable as exc:
            # Another account's key is its owner's business: its state is not told.
            reason = f": {exc.message}" if owner == tenant_id else ""
            raise DeliveryRefused(
                "NO_PERMISSIONS", f"the key of event bus {target.arn} refuses{reason}"
            ) from None
        if self.billing is not None:
            # The sending rule's Region: the event is published there, as AWS bills it.
            sender = parse_arn(rule_arn)
            region = self._service.region if sender is None else sender[1]
            self.billing.count(tenant_id, region, "events.published")

    async def _check_sender(
        self,
        tenant_id: str,
        target: Target,
        owner: str,
        name: str,
        rule_arn: str,
        keys: dict[str, ContextValue],
        service: EventsService,
    ) -> None:
        """DeliveryRefused unless the rule's account may put events onto the bus."""
        if target.role_arn is None:
            if owner == tenant_id:
                return
            # PutTargets requires the role; a target stored without it cannot be sent.
            raise DeliveryRefused(
                "NO_PERMISSIONS", f"a bus of another account is written only as a role: {owner}"
            )
        session = await self._roles.session(tenant_id, target.role_arn, rule_arn=rule_arn)
        if session is None:
            raise DeliveryRefused(
                "FAILED_TO_ASSUME_ROLE",
                f"{EVENTS_PRINCIPAL} may not assume the role {target.role_arn}",
            )
        policy = await service.bus_policy(owner, name)
        if not await self._roles.allowed(
            session,
            "events:PutEvents",
            target.arn,
            resource_policy=policy,
            resource_account=owner,
            keys=keys,
        ):
            raise DeliveryRefused(
                "NO_PERMISSIONS",
                f"the target's role may not events:PutEvents on {target.arn}"
                + ("" if owner == tenant_id else " (the role and the bus's policy must allow it)"),
            )


def _keys(event: dict[str, Any], rule_arn: str) -> dict[str, ContextValue]:
    """The condition keys AWS gives a bus's policy for a forwarded event: the sending rule
    (``aws:SourceArn``, ``aws:SourceAccount``), the event's ``events:source`` and
    ``events:detail-type``, and ``events:eventBusInvocation`` true."""
    keys: dict[str, ContextValue] = {
        "aws:SourceArn": rule_arn,
        "aws:SourceAccount": rule_arn.split(":")[4] if rule_arn.count(":") >= 5 else "",
        "events:eventBusInvocation": True,
    }
    for member, key in (("source", "events:source"), ("detail-type", "events:detail-type")):
        if isinstance(event.get(member), str):
            keys[key] = event[member]
    return keys
