"""EventBridge in a Region other than the deployment's default (decision 0349): the same
service over that Region's view of the store (:mod:`.regional_store`), within what the
platform serves there.

SQS, SNS, Kinesis, Firehose, Lambda and CloudWatch Logs are served in the default Region
only, so a rule of another Region has only event buses (another Region's bus — the default
Region's, where those targets are — or one of its own Region) and its own Region's API
destinations (decision 0400: connections are served in every Region) as targets. Its scheduled
rules fire there (decision 0397: the scheduler runs over each Region's view), and its bus's
archives and replays are its own (:mod:`.regional_archive_store`). A dead-letter queue,
a rule target's or a bus's, must be an SQS queue of the rule's Region, as AWS requires
(decision 0397), and there is none here; customer keys (their re-seal runs over the default
Region's buses) stay the default Region's. Each is refused here by name rather than accepted
and left idle.
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


def _no_queue_here(what: str, region: str, home: str) -> ValidationError:
    # AWS requires a dead-letter queue of the rule's (the bus's) Region; SQS serves only
    # the default Region here, so no queue of this Region can be named (decision 0397).
    return ValidationError(
        f"{what} must name an SQS queue of Region {region}, the rule's, and this "
        f"deployment serves SQS in Region {home} only (decision 0397)."
    )


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
        if kms_key is not None:
            raise _not_here("KmsKeyIdentifier", self.region, self.home)
        if dead_letter_arn is not None:
            raise _no_queue_here("DeadLetterConfig", self.region, self.home)

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
            if isinstance(arn, str) and bus_of_target(arn) is None and not _destination(arn):
                raise ValidationError(
                    f"Target {str(spec.get('Id'))[:64]}: in Region {self.region} only event "
                    "buses and API destinations are served as targets; queues, topics, "
                    "streams, functions and log groups are of Region "
                    f"{self.home} (decisions 0349, 0400)."
                )
            if isinstance(spec, Mapping) and "DeadLetterConfig" in spec:
                raise _no_queue_here(
                    f"DeadLetterConfig of target {str(spec.get('Id'))[:64]}", self.region, self.home
                )
        await super().put_targets(tenant_id, name, bus, specs)
