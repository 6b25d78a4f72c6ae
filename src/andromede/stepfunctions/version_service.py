"""Step Functions' versions and aliases (decision 0283): versions published from a machine's
current revision (numbered from 1, never renumbered, idempotent on the revision, refused with
``ConflictException`` when the ``revisionId`` given is not the current one, at most
``max_versions`` a machine), listed newest first in pages, described, deleted (not while an
alias routes to one); aliases routing to one or two versions of one machine by weights adding
up to 100, created (idempotent on the same routing and description), described, updated,
listed by name in pages and deleted. Another account's ARN reads as a resource that does not
exist."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from andromede.stepfunctions.errors import (
    ConflictException,
    InvalidArn,
    InvalidToken,
    ResourceNotFound,
    StateMachineDoesNotExist,
    ValidationException,
)
from andromede.stepfunctions.model import StateMachine, machine_arn
from andromede.stepfunctions.service import StateMachinesService
from andromede.stepfunctions.version_store import VersionStore, versions_quota
from andromede.stepfunctions.versions import (
    MachineAlias,
    MachineVersion,
    check_alias_name,
    check_description,
    check_routing,
    split_qualified_arn,
    version_of,
)

__all__ = ["VersionLimits", "VersionsService"]

_DEFAULT_PAGE: Final = 100
_MAX_PAGE: Final = 1000
_TRIES: Final = 5  # compare-and-set attempts against another writer


@dataclass(frozen=True, slots=True)
class VersionLimits:
    max_versions: int = 1000
    max_aliases: int = 100


def _now() -> int:
    return int(time.time() * 1000)


def _page_size(value: Any) -> int:
    if value is None or value == 0:
        return _DEFAULT_PAGE
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_PAGE:
        raise ValidationException(f"maxResults must be between 0 and {_MAX_PAGE}.")
    return value


def _token(prefix: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{prefix}{value}".encode()).decode()


def _after(token: Any, prefix: str) -> str | None:
    if token is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith(prefix):
        raise InvalidToken(f"Invalid Token: '{str(token)[:64]}'")
    return decoded[len(prefix) :]


class VersionsService:
    def __init__(
        self,
        machines: StateMachinesService,
        store: VersionStore,
        limits: VersionLimits | None = None,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.machines = machines
        self.store = store
        self.region = machines.region
        self.limits = limits or VersionLimits()
        self._clock = clock

    # Versions ------------------------------------------------------------------------------

    async def publish(
        self, tenant_id: str, arn: Any, revision_id: Any = None, description: Any = None
    ) -> MachineVersion:
        """PublishStateMachineVersion: the current revision's version (the one published
        already when there is one: idempotent)."""
        text = check_description(description, "description")
        if revision_id is not None and not isinstance(revision_id, str):
            raise ValidationException("revisionId must be a string.")
        for _ in range(_TRIES):
            machine = await self.machines.get(tenant_id, arn)
            if revision_id is not None and revision_id not in (machine.revision_id, "INITIAL"):
                raise ConflictException(
                    f"Failed to publish the State Machine version for revision {revision_id}. "
                    f"The current State Machine revision is {machine.revision_id}."
                )
            published = await self.publish_current(machine, text)
            if published is not None:
                return published
        raise ConflictException(f"State machine {str(arn)[:256]} is changing: try again.")

    async def publish_current(
        self, machine: StateMachine, description: str | None
    ) -> MachineVersion | None:
        """``machine``'s current revision as a version (the newest when it is that revision's
        already); None when the machine was changed meanwhile (read it again)."""
        newest = await self.store.versions(machine.tenant_id, machine.region, machine.name, None, 1)
        if newest and newest[0].revision_id == machine.revision_id:
            return newest[0]
        # Counted before the number is taken, so that a refusal uses none.
        held = await self.store.count_versions(machine.tenant_id, machine.region, machine.name)
        if held >= self.limits.max_versions:
            raise versions_quota(self.limits.max_versions)
        number = machine.versions_published + 1
        if not await self.machines.store.replace(machine.changed(versions_published=number)):
            return None
        version = version_of(machine, number, description, self._clock())
        await self.store.add_version(version, self.limits.max_versions)
        return version

    async def version(self, tenant_id: str, arn: Any) -> MachineVersion:
        """The version a version ARN names; StateMachineDoesNotExist (AWS's) otherwise."""
        parts = split_qualified_arn(arn, self.region)
        if parts.version is None:
            raise InvalidArn(f"Invalid Arn: 'Not a state machine version ARN: {str(arn)[:256]}'")
        found = (
            None
            if parts.account != tenant_id
            else await self.store.version(tenant_id, self.region, parts.machine, parts.version)
        )
        if found is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return found

    async def versions(
        self, tenant_id: str, arn: Any, token: Any, max_results: Any
    ) -> tuple[list[MachineVersion], str | None]:
        machine = await self.machines.get(tenant_id, arn)
        below = _after(token, "sv1:")
        if below is not None and not below.isdigit():
            raise InvalidToken(f"Invalid Token: '{str(token)[:64]}'")
        size = _page_size(max_results)
        found = await self.store.versions(
            tenant_id, self.region, machine.name, None if below is None else int(below), size + 1
        )
        page = found[:size]
        return page, _token("sv1:", str(page[-1].number)) if len(found) > size else None

    async def delete_version(self, tenant_id: str, arn: Any) -> None:
        """DeleteStateMachineVersion: none there is no error (as AWS); ConflictException
        while an alias routes to it."""
        parts = split_qualified_arn(arn, self.region)
        if parts.version is None:
            raise InvalidArn(f"Invalid Arn: 'Not a state machine version ARN: {str(arn)[:256]}'")
        if parts.account == tenant_id:
            await self.store.delete_version(tenant_id, self.region, parts.machine, parts.version)

    # Aliases -------------------------------------------------------------------------------

    async def _routing(self, tenant_id: str, value: Any) -> tuple[str, list[tuple[int, int]]]:
        machine, routes = check_routing(value, self.region, tenant_id)
        for number, _ in routes:
            if await self.store.version(tenant_id, self.region, machine, number) is None:
                arn = f"{machine_arn(self.region, tenant_id, machine)}:{number}"
                raise ResourceNotFound(f"Resource not found: '{arn}'", arn)
        return machine, routes

    async def create_alias(self, tenant_id: str, params: Mapping[str, Any]) -> MachineAlias:
        name = check_alias_name(params.get("name"))
        description = check_description(params.get("description"), "description")
        machine, routes = await self._routing(tenant_id, params.get("routingConfiguration"))
        now = self._clock()
        alias = MachineAlias(
            tenant_id=tenant_id,
            region=self.region,
            machine_name=machine,
            name=name,
            routing=tuple(routes),
            description=description,
            created=now,
            updated=now,
        )
        found = await self.store.add_alias(alias, self.limits.max_aliases)
        if found is None:
            return alias
        if found.routing != alias.routing or found.description != alias.description:
            raise ConflictException(
                f"Failed to create alias because an alias with the same name and a different "
                f"routing configuration already exists: '{found.arn}'"
            )
        return found

    async def alias(self, tenant_id: str, arn: Any) -> MachineAlias:
        """The alias an alias ARN names; ResourceNotFound (AWS's) otherwise."""
        parts = split_qualified_arn(arn, self.region)
        if parts.alias is None:
            raise InvalidArn(f"Invalid Arn: 'Not a state machine alias ARN: {str(arn)[:256]}'")
        found = (
            None
            if parts.account != tenant_id
            else await self.store.alias(tenant_id, self.region, parts.machine, parts.alias)
        )
        if found is None:
            raise ResourceNotFound(f"Resource not found: '{arn}'", str(arn)[:256])
        return found

    async def update_alias(
        self, tenant_id: str, arn: Any, params: Mapping[str, Any]
    ) -> MachineAlias:
        if params.get("description") is None and params.get("routingConfiguration") is None:
            raise ValidationException(
                "Either the description or the RoutingConfiguration must be specified"
            )
        description = check_description(params.get("description"), "description")
        for _ in range(_TRIES):
            alias = await self.alias(tenant_id, arn)
            routing = alias.routing
            if params.get("routingConfiguration") is not None:
                machine, routes = await self._routing(tenant_id, params["routingConfiguration"])
                if machine != alias.machine_name:
                    raise ValidationException(
                        "Invalid routingConfiguration: the versions must be of the alias's "
                        "state machine."
                    )
                routing = tuple(routes)
            changed = alias.changed(
                routing=routing,
                description=alias.description if description is None else description,
                updated=self._clock(),
            )
            if await self.store.replace_alias(changed):
                return changed
        raise ConflictException(f"Alias {str(arn)[:256]} is changing: try again.")

    async def delete_alias(self, tenant_id: str, arn: Any) -> None:
        alias = await self.alias(tenant_id, arn)
        await self.store.delete_alias(tenant_id, self.region, alias.machine_name, alias.name)

    async def aliases(
        self, tenant_id: str, arn: Any, token: Any, max_results: Any
    ) -> tuple[list[MachineAlias], str | None]:
        machine = await self.machines.get(tenant_id, arn)
        after = _after(token, "sa1:")
        size = _page_size(max_results)
        found = await self.store.aliases(tenant_id, self.region, machine.name, after, size + 1)
        page = found[:size]
        return page, _token("sa1:", page[-1].name) if len(found) > size else None
