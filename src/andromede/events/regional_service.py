"""EventBridge in a Region other than the deployment's default (decision 0349): the same
service over that Region's view of the store (:mod:`.regional_store`), within what the
platform serves there.

SNS, Kinesis, Firehose, Lambda and CloudWatch Logs are served in the default Region only, so
a rule of another Region has as targets event buses (another Region's bus — the default
Region's, where those targets are — or one of its own Region), its own Region's API
destinations (decision 0400: connections are served in every Region) and its own Region's
SQS queues (decision 0414: SQS is served in every Region). Its scheduled rules fire there
(decision 0397: the scheduler runs over each Region's view), and its bus's archives and
replays are its own (:mod:`.regional_archive_store`). A dead-letter queue, a rule target's or
a bus's, is an SQS queue of the rule's Region, as AWS requires (decision 0397; checked as in
the default Region). Customer keys (their re-seal runs over the default Region's buses) stay
the default Region's. What is not served is refused here by name rather than accepted and
left idle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from andromede.events.errors import ValidationError
from andromede.events.model import EventBus, Rule, bus_of_target, parse_arn
from andromede.events.service import EventsService

__all__ = ["RegionalEventsService"]


def _destination(arn: str) -> bool:
    """Whether a target's ARN names an API destination (its Region checked as any target's:
    the rule's own, decision 0400)."""
    parts = parse_arn(arn)
    return parts is not None and parts[0] == "events" and parts[3].startswith("api-destination/")


def _not_here(what: str, region: str, home: str) -> ValidationError:
    return ValidationError(
        f"{what} is not supported in Region {region}: this deployment serves it in Region "
        f"{home} only (decision 0349)."
    )


def _queue(arn: str) -> bool:
    """Whether a target's ARN names an SQS queue (of the rule's Region, checked as any
    target's; decision 0414)."""
    parts = parse_arn(arn)
    return parts is not None and parts[0] == "sqs"


class RegionalEventsService(EventsService):
    """:class:`~andromede.events.service.EventsService` of ``region``; ``home``: the
    deployment's default Region."""

    home: str = ""

    async def create_bus(
        self,
        tenant_id: str,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        kms_key: str | None = None,
        dead_letter_arn: str | None = None,
    ) -> EventBus:
        self._refuse_config(kms_key, dead_letter_arn)
        return await super().create_bus(
            tenant_id,
            name,
            description=description,
            tags=tags,
            kms_key=kms_key,
            dead_letter_arn=dead_letter_arn,
        )

    async def configure_bus(
        self,
        tenant_id: str,
        name: str,
        *,
        description: str | None,
        kms_key: str | None,
        dead_letter_arn: str | None,
    ) -> EventBus:
        self._refuse_config(kms_key, dead_letter_arn)
        return await super().configure_bus(
            tenant_id,
            name,
            description=description,
            kms_key=kms_key,
            dead_letter_arn=dead_letter_arn,
        )

    async def bus_key_arn(self, bus: EventBus) -> str:
        # Asked before the bus is made (the caller's kms:DescribeKey): refused here first.
        raise _not_here("KmsKeyIdentifier", self.region, self.home)

    def _refuse_config(self, kms_key: str | None, dead_letter_arn: str | None) -> None:
        # A dead-letter queue of the bus's Region is served there (decision 0414).
        if kms_key is not None:
            raise _not_here("KmsKeyIdentifier", self.region, self.home)

    async def put_rule(
        self,
        tenant_id: str,
        name: str,
        bus: str,
        *,
        event_pattern: str | None = None,
        schedule: str | None = None,
        state: str | None = None,
        description: str | None = None,
        role_arn: str | None = None,
        tags: Mapping[str, str] | None = None,
        managed_by: str | None = None,
    ) -> Rule:
        return await super().put_rule(
            tenant_id,
            name,
            bus,
            event_pattern=event_pattern,
            schedule=schedule,
            state=state,
            description=description,
            role_arn=role_arn,
            tags=tags,
            managed_by=managed_by,
        )

    async def put_targets(
        self, tenant_id: str, name: str, bus: str, specs: Sequence[Mapping[str, Any]]
    ) -> None:
        for spec in specs:
            arn = spec.get("Arn") if isinstance(spec, Mapping) else None
            if isinstance(arn, str) and not (
                bus_of_target(arn) is not None or _destination(arn) or _queue(arn)
            ):
                raise ValidationError(
                    f"Target {str(spec.get('Id'))[:64]}: in Region {self.region} only event "
                    "buses, API destinations and SQS queues are served as targets; topics, "
                    "streams, functions and log groups are of Region "
                    f"{self.home} (decisions 0349, 0400, 0414)."
                )
        await super().put_targets(tenant_id, name, bus, specs)
