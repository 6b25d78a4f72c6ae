"""EventBridge's event buses (decision 0192), the first layer of :class:`~.service.EventsService`:
an account's implicit ``default`` bus and the custom ones it creates, named by name or ARN,
their customer keys and dead-letter queues (decision 0213, re-sealed on a change of key:
0218), tags and resource policies. What the service's other layers build on: the store, the
Region, the limits, the clock and the rules' seals."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, Protocol

from andromede.events.errors import ResourceNotFound, ValidationError
from andromede.events.event_keys import EventKeys, KeyScope, KeyUnusable
from andromede.events.model import DEFAULT_BUS, EventBus, check_bus_name, parse_arn
from andromede.events.rule_seals import RuleSeals
from andromede.events.store import EventsStore

__all__ = ["BusResealing", "EventBuses", "EventsLimits"]

# The default bus's creation time until its first configuration makes its row.
_DEFAULT_BUS_CREATED: Final = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EventsLimits:
    max_buses: int = 100
    max_rules: int = 300
    max_targets: int = 5
    max_put_entries: int = 10
    max_put_size: int = 256 * 1024
    max_pattern_length: int = 4096
    max_input: int = 8192
    # Decision 0218: opened patterns and target inputs a gateway keeps for PutEvents.
    opened_rule_cache: int = 10_000


class BusResealing(Protocol):
    async def reseal(self, bus: EventBus) -> bool:
        """The bus's rules, targets and waiting deliveries as its key keeps them, its
        ``resealing`` mark then cleared (decision 0218, :mod:`.reseal`)."""
        ...

    async def holds_sealed(self, bus: EventBus) -> bool:
        """Whether anything of the bus is sealed under a customer key."""
        ...


class EventBuses:
    """The buses of one Region's EventBridge; :class:`~.rules.EventRules` adds their rules."""

    def __init__(
        self,
        store: EventsStore,
        *,
        region: str,
        limits: EventsLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.region = region
        # Decision 0349: the deployment's other Regions, whose buses may be targets.
        self.bus_regions: frozenset[str] = frozenset()
        self._limits = limits or EventsLimits()
        self._clock = clock
        # Decision 0218: the rules and targets of a bus under a customer key, sealed and
        # opened (with this gateway's cache of what PutEvents opened).
        self.seals = RuleSeals(cache_size=self._limits.opened_rule_cache)
        # The re-seal of a bus's data after a change of its key; None: not served.
        self.resealer: BusResealing | None = None

    @property
    def keys(self) -> EventKeys | None:
        """Customer KMS keys for buses (decision 0213); None where not served."""
        return self.seals.keys

    @keys.setter
    def keys(self, keys: EventKeys | None) -> None:
        self.seals.keys = keys

    def bus_name(self, tenant_id: str, given: str | None) -> str:
        """The bus a parameter names, by name or ARN (the caller's account's only)."""
        if not given:
            return DEFAULT_BUS
        if not isinstance(given, str):
            raise ValidationError("EventBusName must be a string.")
        if given.startswith("arn:"):
            parts = parse_arn(given)
            if parts is None or parts[0] != "events" or not parts[3].startswith("event-bus/"):
                raise ValidationError(f"Parameter {given[:256]} is not valid.")
            if parts[2] != tenant_id or parts[1] != self.region:
                raise ResourceNotFound(f"Event bus {given[:256]} does not exist.")
            given = parts[3].removeprefix("event-bus/")
        return check_bus_name(given)

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
        check_bus_name(name, custom=True)
        if description is not None and len(description) > 512:
            raise ValidationError("Description must be at most 512 characters.")
        bus = EventBus(
            tenant_id,
            self.region,
            name,
            description,
            self._clock(),
            dict(tags or {}),
            kms_key=kms_key,
            dead_letter_arn=dead_letter_arn,
        )
        await self._check_config(bus)
        await self.store.create_bus(bus, limit=self._limits.max_buses)
        return bus

    def key_scope(self, bus: EventBus) -> KeyScope:
        """What the bus's key seals (decision 0213): its events, the bus their encryption
        context, as AWS's ``aws:events:event-bus:arn``."""
        return KeyScope(bus.tenant_id, bus.kms_key, bus.arn, bus.arn)

    async def bus_key_arn(self, bus: EventBus) -> str:
        """The ARN of the key the bus would name (an alias resolved), for the caller's
        ``kms:DescribeKey``; ValidationError when there is no such key."""
        if self.keys is None:
            raise ValidationError("KmsKeyIdentifier is not supported by this deployment.")
        try:
            return await self.keys.key_arn(self.key_scope(bus))
        except KeyUnusable as exc:
            raise ValidationError(exc.message) from exc

    async def _check_config(self, bus: EventBus) -> None:
        """A bus's key usable by EventBridge now and its dead-letter queue an SQS queue of
        the account and region, as CreateEventBus and UpdateEventBus require."""
        if bus.dead_letter_arn is not None:
            parts = parse_arn(bus.dead_letter_arn)
            if parts is None or parts[0] != "sqs" or ":" in parts[3]:
                raise ValidationError(
                    f"Parameter DeadLetterConfig.Arn is not valid: {bus.dead_letter_arn[:1600]} "
                    "is not the ARN of an Amazon SQS queue."
                )
            if parts[1] != self.region or parts[2] != bus.tenant_id:
                raise ValidationError(
                    "Parameter DeadLetterConfig.Arn is not valid: the queue must be in the event "
                    "bus's account and Region."
                )
        if bus.kms_key is None:
            return
        if not 1 <= len(bus.kms_key) <= 2048:
            raise ValidationError("KmsKeyIdentifier must be 1 to 2048 characters.")
        if self.keys is None:
            raise ValidationError("KmsKeyIdentifier is not supported by this deployment.")
        try:
            await self.keys.check(self.key_scope(bus))
        except KeyUnusable as exc:
            raise ValidationError(exc.message) from exc

    def _default_bus(self, tenant_id: str) -> EventBus:
        """The account's default bus as it stands before any UpdateEventBus made its row."""
        return EventBus(tenant_id, self.region, DEFAULT_BUS, created=_DEFAULT_BUS_CREATED)

    async def describe_bus(self, tenant_id: str, name: str) -> EventBus:
        found = await self.store.get_bus(tenant_id, name)
        if found is not None:
            return found
        if name == DEFAULT_BUS:
            return self._default_bus(tenant_id)
        raise ResourceNotFound(f"Event bus {name} does not exist.")

    def bus_owner(self, tenant_id: str, given: str | None) -> tuple[str, str]:
        """(account, bus) a PutEvents entry names: an ARN of this region may name another
        account's bus, which only its policy can open (decision 0192, session 48)."""
        if isinstance(given, str) and given.startswith("arn:"):
            parts = parse_arn(given)
            if (
                parts is not None
                and parts[0] == "events"
                and parts[1] == self.region
                and parts[3].startswith("event-bus/")
            ):
                name = check_bus_name(parts[3].removeprefix("event-bus/"))
                return parts[2], name
        return tenant_id, self.bus_name(tenant_id, given)

    async def update_bus(
        self,
        tenant_id: str,
        name: str,
        *,
        description: str | None = None,
        add_tags: Mapping[str, str] | None = None,
        remove_tags: Sequence[str] = (),
    ) -> EventBus:
        """A bus's description (when given) and tags changed (TagResource, UntagResource);
        the default bus's tags make its row as its first configuration does (decision 0218;
        its description goes through :meth:`configure_bus`)."""
        if description is not None and len(description) > 512:
            raise ValidationError("Description must be at most 512 characters.")

        def change(bus: EventBus) -> EventBus:
            tags = {
                k: v for k, v in {**bus.tags, **(add_tags or {})}.items() if k not in remove_tags
            }
            if len(tags) > 50:
                raise ValidationError("An event bus holds at most 50 tags.")
            kept = bus.description if description is None else description
            return replace(bus, description=kept, tags=tags)

        blank = self._default_bus(tenant_id) if name == DEFAULT_BUS else None
        return await self.store.change_bus(tenant_id, name, change, blank=blank)

    async def configure_bus(
        self,
        tenant_id: str,
        name: str,
        *,
        description: str | None,
        kms_key: str | None,
        dead_letter_arn: str | None,
    ) -> EventBus:
        """UpdateEventBus (decision 0213): the key and dead-letter queue replaced by those
        given — none given is EventBridge's own key and no queue, as AWS documents — and the
        description when given. The default bus's first configuration makes its row
        (session 51 addendum); until then it is EventBridge's own key and no queue.

        A change of key re-seals the bus's rules, targets and waiting deliveries under the
        new one before the answer (decision 0218, as AWS "decrypts any data stored on the
        event bus and then encrypts it using the new key"): refused (ValidationException,
        nothing changed) while the former key cannot open them; one that fails mid-way keeps
        the bus marked and is resumed by any gateway."""
        if description is not None and len(description) > 512:
            raise ValidationError("Description must be at most 512 characters.")
        held = await self.describe_bus(tenant_id, name)
        wanted = replace(held, kms_key=kms_key, dead_letter_arn=dead_letter_arn)
        await self._check_config(wanted)
        rekeyed = held.kms_key != kms_key
        if (
            rekeyed
            and held.kms_key is not None
            and self.keys is not None
            and self.resealer is not None
            and await self.resealer.holds_sealed(held)
        ):
            try:  # what the former key holds must open before anything changes
                await self.keys.check(self.key_scope(held))
            except KeyUnusable as exc:
                raise ValidationError(
                    f"The event bus's data cannot be re-encrypted: {exc.message}"
                ) from exc

        def change(bus: EventBus) -> EventBus:
            kept = bus.description if description is None else description
            return replace(
                bus,
                description=kept,
                kms_key=kms_key,
                dead_letter_arn=dead_letter_arn,
                resealing=bus.resealing or bus.kms_key != kms_key,
            )

        blank = self._default_bus(tenant_id) if name == DEFAULT_BUS else None
        bus = await self.store.change_bus(tenant_id, name, change, blank=blank)
        if bus.resealing and self.resealer is not None:
            try:
                await self.resealer.reseal(bus)
            except KeyUnusable as exc:
                raise ValidationError(
                    f"The event bus's key changed, but its data is not all re-encrypted yet "
                    f"(it will be once the keys are usable): {exc.message}"
                ) from exc
            bus = replace(bus, resealing=False)
        return bus

    async def bus_policy(self, tenant_id: str, name: str) -> str | None:
        """The bus's resource policy, None when it has none or the bus does not exist."""
        return await self.store.get_bus_policy(tenant_id, name)

    async def change_bus_policy(
        self, tenant_id: str, name: str, change: Callable[[str | None], str | None]
    ) -> None:
        """The bus's policy replaced by ``change(held)`` in one transaction with the bus."""
        await self.store.change_bus_policy(tenant_id, name, change)

    async def delete_bus(self, tenant_id: str, name: str) -> None:
        if name == DEFAULT_BUS:
            raise ValidationError("Cannot delete event bus default.")
        await self.store.delete_bus(tenant_id, name)

    async def list_buses(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> list[EventBus]:
        """A page of the account's buses in name order, the default bus among them."""
        found = await self.store.list_buses(tenant_id, prefix, after, limit)
        if (
            DEFAULT_BUS.startswith(prefix)
            and DEFAULT_BUS > after
            and all(bus.name != DEFAULT_BUS for bus in found)
        ):
            found.append(self._default_bus(tenant_id))
            found.sort(key=lambda bus: bus.name.encode())
        return found[:limit]

    async def _existing_bus(self, tenant_id: str, name: str) -> None:
        if name != DEFAULT_BUS and await self.store.get_bus(tenant_id, name) is None:
            raise ResourceNotFound(f"Event bus {name} does not exist.")
