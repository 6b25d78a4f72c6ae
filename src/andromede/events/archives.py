"""EventBridge's archives and replays (decision 0196), the service the API calls for them.

An archive belongs to one bus of the account. :meth:`ArchiveService.archive` is the events
service's archiver: each event routed onto a bus (PutEvents', the schedules' and the
platform's alike) that matches an archive's pattern (or every event, without one) is written
to that archive, sealed, with its own ``time``, before the caller answers — except a
replayed event (it carries ``replay-name``), which AWS does not archive again. A replay is a
row the replays' runner (:mod:`.replays`) works; this module checks and records it.

An archive may name a customer's KMS key (``KmsKeyIdentifier``, decision 0204): its events
are then sealed through :class:`~andromede.events.event_keys.EventKeys` before the store
keeps them, the key checked usable by EventBridge at CreateArchive and UpdateArchive; when
the key refuses later (disabled, deleted, its policy changed), the events routed meanwhile
are not archived, as on AWS, and a warning is logged.

Decision 0332: as on AWS, an archive receives its bus's events through a managed rule,
``Events-Archive-<name>`` (``ManagedBy`` ``prod.vhs.events.aws.internal`` since decision
0341, which also gives it AWS's one target, removed only with ``Force``, which stops the
archive as deleting the rule does; its pattern the archive's
without replayed events), made by CreateArchive in the call — a rule that cannot be made
(the bus's rules at their limit) undoes the archive —, changed by UpdateArchive and deleted
with it. Users see it in ListRules and cannot change it; one who deletes it with ``Force``
stops the archive: ``DISABLED``, archiving nothing, until an UpdateArchive makes its rule
again. An archive made before this rule existed keeps archiving without one until then.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from andromede.events.archive_model import (
    REPLAY_NAME_HEADER,
    Archive,
    ArchiveState,
    Replay,
    ReplayState,
    archive_arn,
    check_archive_name,
    check_replay_name,
)
from andromede.events.archive_store import ArchiveStore
from andromede.events.errors import (
    InvalidEventPattern,
    ResourceNotFound,
    ValidationError,
)
from andromede.events.event_keys import EventKeys, KeyUnusable
from andromede.events.managed_rules import (
    ARCHIVE_MANAGER,
    EARLIER_ARCHIVE_MANAGER,
    archive_of_rule,
    archive_rule_name,
    archive_rule_pattern,
    archive_target,
)
from andromede.events.model import Rule, parse_arn, rule_arn
from andromede.events.service import EventsService

__all__ = ["ArchiveLimits", "ArchiveService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_archives: int = 10  # events_max_archives
    max_active_replays: int = 10  # events_max_active_replays


class ArchiveService:
    def __init__(
        self,
        store: ArchiveStore,
        events: EventsService,
        *,
        limits: ArchiveLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._events = events
        self._limits = limits or ArchiveLimits()
        self._clock = clock
        # Told of each replay started: this gateway's runner looks at once (``ReplayRunner``).
        self.on_replay: Callable[[], None] | None = None
        # Customer KMS keys for archives (decision 0204); None where not served, and why.
        self.keys: EventKeys | None = None
        self.no_keys = "KmsKeyIdentifier is not supported by this deployment."
        events.on_managed_delete = self._rule_deleted

    async def _put_rule(self, archive: Archive) -> None:
        """The archive's managed rule, made or changed (decision 0332), and its one target
        (decision 0341)."""
        name = archive_rule_name(archive.name)
        held = await self._events.store.get_rule(archive.tenant_id, archive.bus_name, name)
        # A rule made under decision 0332 keeps its ManagedBy: a service never takes over a
        # rule another manages, and 0332's is this same service.
        earlier = held is not None and held.managed_by == EARLIER_ARCHIVE_MANAGER
        rule = await self._events.put_rule(
            archive.tenant_id,
            name,
            archive.bus_name,
            event_pattern=archive_rule_pattern(archive.event_pattern),
            managed_by=EARLIER_ARCHIVE_MANAGER if earlier else ARCHIVE_MANAGER,
        )
        target = archive_target(archive.name, archive.arn, archive.region, archive.created)
        try:
            await self._events.put_managed_targets(rule, [target])
        except Exception:
            if held is None:  # the rule just made goes too: all or nothing
                await self._events.delete_rule(archive.tenant_id, name, rule.bus_name, force=True)
            raise

    async def _rule_deleted(self, rule: Rule) -> None:
        """A user deleted an archive's rule, or removed its target, with ``Force``: the
        archive stops (decisions 0332, 0341)."""
        name = archive_of_rule(rule)
        held = None if name is None else await self.store.get_archive(rule.tenant_id, name)
        if held is not None and held.bus_name == rule.bus_name:
            disabled = ArchiveState.DISABLED
            await self.store.change_archive(
                rule.tenant_id, held.name, lambda a: replace(a, state=disabled)
            )

    async def _check_key(self, archive: Archive) -> None:
        if archive.kms_key is None:
            return
        if not 1 <= len(archive.kms_key) <= 2048:
            raise ValidationError("KmsKeyIdentifier must be 1 to 2048 characters.")
        if self.keys is None:
            raise ValidationError(self.no_keys)
        try:
            await self.keys.check(archive.key_scope)
        except KeyUnusable as exc:
            raise ValidationError(exc.message) from None

    @property
    def region(self) -> str:
        return self._events.region

    # -- archives

    def _source_bus(self, tenant_id: str, source_arn: str) -> str:
        parts = parse_arn(source_arn)
        if parts is None or parts[0] != "events" or not parts[3].startswith("event-bus/"):
            raise ValidationError(f"Parameter EventSourceArn is not valid: {source_arn[:256]}.")
        if parts[1] != self.region or parts[2] != tenant_id:
            raise ResourceNotFound(f"Event bus {source_arn[:256]} does not exist.")
        return self._events.bus_name(tenant_id, source_arn)

    def _checked(
        self, pattern: str | None, description: str | None, retention_days: int | None
    ) -> None:
        if pattern is not None:
            self._events.pattern(pattern)  # InvalidEventPattern
        if description is not None and len(description) > 512:
            raise ValidationError("Description must be at most 512 characters.")
        if retention_days is not None and retention_days < 0:
            raise ValidationError(
                "1 validation error detected: Value at 'retentionDays' failed to satisfy "
                "constraint: Member must have value greater than or equal to 0"
            )

    async def create_archive(
        self,
        tenant_id: str,
        name: str,
        source_arn: str,
        *,
        event_pattern: str | None = None,
        description: str | None = None,
        retention_days: int | None = None,
        kms_key: str | None = None,
    ) -> Archive:
        check_archive_name(name)
        bus = self._source_bus(tenant_id, source_arn)
        self._checked(event_pattern, description, retention_days)
        held = await self._events.describe_bus(tenant_id, bus)  # ResourceNotFound
        archive = Archive(
            tenant_id,
            self.region,
            name,
            bus,
            held.arn,
            event_pattern=event_pattern,
            description=description,
            retention_days=retention_days or 0,
            created=self._clock(),
            kms_key=kms_key,
        )
        await self._check_key(archive)
        await self.store.create_archive(archive, limit=self._limits.max_archives)
        try:
            await self._put_rule(archive)
        except Exception:
            await self.store.delete_archive(tenant_id, name)  # all or nothing
            raise
        return archive

    async def describe_archive(self, tenant_id: str, name: str) -> Archive:
        found = await self.store.get_archive(tenant_id, check_archive_name(name))
        if found is None:
            raise ResourceNotFound(f"Archive {name} does not exist.")
        return found

    async def list_archives(
        self,
        tenant_id: str,
        *,
        prefix: str,
        source_arn: str | None,
        state: str | None,
        after: str,
        limit: int,
    ) -> list[Archive]:
        return await self.store.list_archives(
            tenant_id, prefix=prefix, source_arn=source_arn, state=state, after=after, limit=limit
        )

    async def update_archive(
        self,
        tenant_id: str,
        name: str,
        *,
        event_pattern: str | None = None,
        description: str | None = None,
        retention_days: int | None = None,
        kms_key: str | None = None,
    ) -> Archive:
        """The members given replaced; the others kept. A new key seals the events archived
        from now on; those archived before keep the key they were sealed under."""
        check_archive_name(name)
        self._checked(event_pattern, description, retention_days)
        if kms_key is not None:
            await self._check_key(
                replace(await self.describe_archive(tenant_id, name), kms_key=kms_key)
            )

        def change(held: Archive) -> Archive:
            return replace(
                held,
                event_pattern=held.event_pattern if event_pattern is None else event_pattern,
                description=held.description if description is None else description,
                retention_days=held.retention_days if retention_days is None else retention_days,
                kms_key=held.kms_key if kms_key is None else kms_key,
            )

        held = await self.describe_archive(tenant_id, name)
        await self._put_rule(change(held))  # its rule first: a refusal changes nothing
        enabled = ArchiveState.ENABLED
        return await self.store.change_archive(
            tenant_id, name, lambda held: replace(change(held), state=enabled)
        )

    async def delete_archive(self, tenant_id: str, name: str) -> None:
        held = await self.describe_archive(tenant_id, name)
        await self.store.delete_archive(tenant_id, held.name)
        rule = archive_rule_name(held.name)
        try:  # its target first: a rule with targets is not deleted (decision 0341)
            await self._events.remove_targets(tenant_id, rule, held.bus_name, [rule], force=True)
        except ResourceNotFound:
            return  # an archive made before decision 0332 has no rule
        await self._events.delete_rule(tenant_id, rule, held.bus_name, force=True)

    async def archive(self, tenant_id: str, bus: str, events: Sequence[dict[str, Any]]) -> int:
        """Write each event of ``bus`` to the bus's archives whose pattern it matches; how
        many were written. Replayed events are left out, as on AWS."""
        fresh = [event for event in events if REPLAY_NAME_HEADER not in event]
        if not fresh:
            return 0
        written = 0
        now = self._clock()
        for archive in await self.store.bus_archives(tenant_id, bus):
            if archive.state != ArchiveState.ENABLED:
                continue  # its managed rule deleted (decision 0332)
            try:
                pattern = (
                    None
                    if archive.event_pattern is None
                    else self._events.pattern(archive.event_pattern)
                )
            except InvalidEventPattern:
                continue  # stored before a stricter check: matches nothing
            kept = [
                (_event_time(event, now), json.dumps(event, separators=(",", ":")))
                for event in fresh
                if pattern is None or pattern.matches(event)
            ]
            if kept and archive.kms_key is not None:
                kept = await self._sealed(archive, kept)
            if kept:
                await self.store.add_events(tenant_id, archive.name, kept, now)
                written += len(kept)
        return written

    async def _sealed(
        self, archive: Archive, kept: list[tuple[datetime, str]]
    ) -> list[tuple[datetime, str]]:
        """``kept`` sealed under the archive's key; none when the key refuses (AWS does not
        archive what it cannot seal) or no key service is wired."""
        if self.keys is None:
            return []
        try:
            sealed = await self.keys.seal(archive.key_scope, [text for _, text in kept])
        except KeyUnusable as exc:
            log.warning("archive %s: events not archived: %s", archive.arn, exc.message)
            return []
        return [(moment, text) for (moment, _), text in zip(kept, sealed, strict=True)]

    # -- replays

    def _archive_name(self, tenant_id: str, source_arn: str) -> str:
        parts = parse_arn(source_arn)
        if parts is None or parts[0] != "events" or not parts[3].startswith("archive/"):
            raise ValidationError(f"Parameter EventSourceArn is not valid: {source_arn[:256]}.")
        name = parts[3].removeprefix("archive/")
        if parts[1] != self.region or parts[2] != tenant_id:
            raise ResourceNotFound(f"Archive {name[:64]} does not exist.")
        return check_archive_name(name)

    async def start_replay(
        self,
        tenant_id: str,
        name: str,
        source_arn: str,
        start: datetime,
        end: datetime,
        destination: str,
        *,
        filter_arns: Sequence[str] = (),
        description: str | None = None,
    ) -> Replay:
        check_replay_name(name)
        if description is not None and len(description) > 512:
            raise ValidationError("Description must be at most 512 characters.")
        if start >= end:
            raise ValidationError(
                "Parameter EventStartTime is not valid. Reason: EventStartTime must be before "
                "EventEndTime."
            )
        archive = await self.describe_archive(tenant_id, self._archive_name(tenant_id, source_arn))
        if destination != archive.source_arn:
            raise ValidationError(
                "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not "
                "permitted."
            )
        prefix = rule_arn(self.region, tenant_id, archive.bus_name, "")
        for arn in filter_arns:
            rest = arn.removeprefix(prefix) if arn.startswith(prefix) else ""
            if not rest or "/" in rest:
                raise ValidationError(
                    f"Parameter Destination.FilterArns is not valid: {arn[:256]} is no rule of "
                    f"the event bus {archive.bus_name}."
                )
        replay = Replay(
            tenant_id,
            self.region,
            name,
            archive.name,
            archive.arn,
            start,
            end,
            destination,
            tuple(dict.fromkeys(filter_arns)),
            description,
            ReplayState.STARTING,
            created=self._clock(),
        )
        await self.store.create_replay(replay, limit=self._limits.max_active_replays)
        if self.on_replay is not None:
            self.on_replay()
        return replay

    async def describe_replay(self, tenant_id: str, name: str) -> Replay:
        found = await self.store.get_replay(tenant_id, check_replay_name(name))
        if found is None:
            raise ResourceNotFound(f"Replay {name} does not exist.")
        return found

    async def list_replays(
        self,
        tenant_id: str,
        *,
        prefix: str,
        source_arn: str | None,
        state: str | None,
        after: str,
        limit: int,
    ) -> list[Replay]:
        if state is not None and state not in ReplayState.ALL:
            raise ValidationError(
                f"1 validation error detected: Value '{state[:64]}' at 'state' failed to satisfy "
                "constraint: Member must satisfy enum value set: [STARTING, RUNNING, "
                "CANCELLING, COMPLETED, CANCELLED, FAILED]"
            )
        return await self.store.list_replays(
            tenant_id, prefix=prefix, source_arn=source_arn, state=state, after=after, limit=limit
        )

    async def cancel_replay(self, tenant_id: str, name: str) -> Replay:
        return await self.store.cancel_replay(tenant_id, check_replay_name(name), self._clock())

    def archive_arn(self, tenant_id: str, name: str) -> str:
        return archive_arn(self.region, tenant_id, name)


def _event_time(event: dict[str, Any], fallback: datetime) -> datetime:
    """The event's own ``time`` (what a replay's window selects on)."""
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return fallback
