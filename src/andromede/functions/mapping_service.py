"""Lambda's event source mappings as a service (decision 0295): created, read, listed,
changed and deleted as AWS's API does, over a ``MappingStore``; and what the pollers
(``function_sources``) ask of it: settling a mapping's transitional state, and recording
its last processing result.

A mapping's function must be the account's and exist (the version or alias it names too);
its execution role must be allowed to read the source — judged by the wiring's
:class:`SourceCheck`, the identity service's engine over the role's policies — else
``InvalidParameterValueException`` in AWS's words. One mapping per function and source, as
AWS keeps (``ResourceConflictException`` naming the existing one's UUID)."""

from __future__ import annotations

import time
import uuid as uuids
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.functions.errors import (
    FunctionChanged,
    InvalidParameterValue,
    ResourceConflict,
    ResourceInUse,
    ResourceNotFound,
)
from andromede.functions.mapping_streams import on_failure_destination
from andromede.functions.mappings import (
    SETTLED,
    EventSourceMapping,
    MappingStore,
    check_mapping_parameters,
    source_kind,
)
from andromede.functions.model import parse_function_name
from andromede.functions.service import FunctionsService, after_token, page_size, page_token

__all__ = ["EventSourceMappings", "SourceCheck"]

# (the account, the execution role's ARN, the source's ARN): raises InvalidParameterValue
# in AWS's words when the role may not read the source, or the source does not exist.
SourceCheck = Callable[[str, str, str], Awaitable[None]]
_UUID_CHARS: Final = frozenset("0123456789abcdef-")


class EventSourceMappings:
    def __init__(
        self,
        store: MappingStore,
        functions: FunctionsService,
        source_check: SourceCheck,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        destination_check: SourceCheck | None = None,
    ) -> None:
        self.store = store
        self._functions = functions
        self._check = source_check
        self._clock = clock
        # A stream mapping's OnFailure destination, judged as the source is (decision 0301).
        self._destination_check = destination_check
        # Told when a mapping was written that the poller must settle (decision 0326).
        self.on_change: Callable[[], None] = lambda: None

    async def _check_destination(
        self, tenant_id: str, role: str, parameters: Mapping[str, Any]
    ) -> None:
        destination = on_failure_destination(parameters)
        if destination is not None and self._destination_check is not None:
            await self._destination_check(tenant_id, role, destination)

    @property
    def region(self) -> str:
        return self._functions.region

    def arn(self, tenant_id: str, uuid: str) -> str:
        return f"arn:aws:lambda:{self.region}:{tenant_id}:event-source-mapping:{uuid}"

    async def _function(self, tenant_id: str, given: object) -> tuple[str, str | None, str, str]:
        """(name, qualifier, the ARN AWS answers, the execution role) of ``FunctionName``."""
        named = parse_function_name(given)
        if named.account not in (None, tenant_id) or named.region not in (None, self.region):
            raise InvalidParameterValue(
                "The function of an event source mapping must be of its account and Region"
            )
        _, version = await self._functions.resolve(tenant_id, named.name, named.qualifier)
        arn = self._functions.arn(tenant_id, named.name, named.qualifier)
        return named.name, named.qualifier, arn, version.role

    async def create(self, tenant_id: str, params: Mapping[str, Any]) -> EventSourceMapping:
        source = str(params.get("EventSourceArn") or "")
        kind = source_kind(source, self.region, tenant_id)
        parameters = check_mapping_parameters(params, kind, region=self.region, tenant_id=tenant_id)
        name, qualifier, function_arn, role = await self._function(
            tenant_id, params.get("FunctionName")
        )
        for existing in await self.store.mappings(tenant_id):
            if existing.source_arn == source and existing.function_arn == function_arn:
                named = "SQS arn" if kind == "sqs" else "event source arn"
                raise ResourceConflict(
                    f'An event source mapping with {named} (" {source} ") and function '
                    f'(" {name} ") already exists. Please update or delete the existing '
                    f"mapping with UUID {existing.uuid}"
                )
        await self._check(tenant_id, role, source)
        await self._check_destination(tenant_id, role, parameters)
        enabled = params.get("Enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise InvalidParameterValue("Enabled must be true or false")
        now = self._clock()
        mapping = EventSourceMapping(
            uuid=str(uuids.uuid4()),
            tenant_id=tenant_id,
            function_name=name,
            qualifier=qualifier,
            function_arn=function_arn,
            source_arn=source,
            source_kind=kind,
            state="Creating",
            last_modified=now,
            parameters=parameters,
            enabled=enabled is not False,
            created=now,
        )
        await self.store.add(mapping)
        self.on_change()
        return mapping

    async def get(self, tenant_id: str, uuid: object) -> EventSourceMapping:
        if not isinstance(uuid, str) or not uuid or not set(uuid) <= _UUID_CHARS:
            raise ResourceNotFound("The resource you requested does not exist.")
        found = await self.store.get(tenant_id, uuid)
        if found is None:
            raise ResourceNotFound("The resource you requested does not exist.")
        return found

    async def list(
        self,
        tenant_id: str,
        source_arn: object,
        function_name: object,
        marker: object,
        max_items: object,
    ) -> tuple[list[EventSourceMapping], str | None]:
        """A page of the account's mappings of ``source_arn`` and ``function_name`` (either
        may be None), and the marker of the next page."""
        wanted = None
        if function_name is not None:
            named = parse_function_name(function_name)
            wanted = (named.name, named.qualifier)
        after = after_token(marker)
        size = page_size(max_items)
        chosen = [
            m
            for m in await self.store.mappings(tenant_id)
            if (source_arn is None or m.source_arn == source_arn)
            and (
                wanted is None
                or (m.function_name, m.qualifier) == wanted
                or (wanted[1] is None and m.function_name == wanted[0])
            )
            and (after is None or m.uuid > after)
        ]
        page = chosen[:size]
        return page, page_token(page[-1].uuid) if len(chosen) > size else None

    async def update(
        self, tenant_id: str, uuid: object, params: Mapping[str, Any]
    ) -> EventSourceMapping:
        for _ in range(5):
            mapping = await self.get(tenant_id, uuid)
            if mapping.state == "Deleting":
                raise ResourceInUse(
                    "Cannot update the event source mapping because it is in use (Deleting)"
                )
            parameters = check_mapping_parameters(
                params,
                mapping.source_kind,
                mapping.parameters,
                region=self.region,
                tenant_id=tenant_id,
            )
            changes: dict[str, Any] = {"parameters": parameters}
            if params.get("FunctionName") is not None:
                name, qualifier, function_arn, role = await self._function(
                    tenant_id, params["FunctionName"]
                )
                await self._check(tenant_id, role, mapping.source_arn)
                await self._check_destination(tenant_id, role, parameters)
                changes |= {
                    "function_name": name,
                    "qualifier": qualifier,
                    "function_arn": function_arn,
                }
            elif params.get("DestinationConfig") is not None:
                _, _, _, role = await self._function(tenant_id, mapping.function_arn)
                await self._check_destination(tenant_id, role, parameters)
            enabled = params.get("Enabled")
            if enabled is not None and not isinstance(enabled, bool):
                raise InvalidParameterValue("Enabled must be true or false")
            state = "Updating"
            if enabled is not None and enabled != mapping.enabled:
                state = "Enabling" if enabled else "Disabling"
                changes["enabled"] = enabled
            if mapping.state == "Creating":
                state = "Creating"
            changed = mapping.replaced(
                state=state,
                state_reason="USER_INITIATED",
                last_modified=self._clock(),
                **changes,
            )
            if await self.store.replace(changed):
                self.on_change()
                return changed
        raise FunctionChanged("The event source mapping changed meanwhile; try again")

    async def delete(self, tenant_id: str, uuid: object) -> EventSourceMapping:
        for _ in range(5):
            mapping = await self.get(tenant_id, uuid)
            if mapping.state == "Deleting":
                raise ResourceInUse(
                    "Cannot delete the event source mapping because it is in use (Deleting)"
                )
            changed = mapping.replaced(
                state="Deleting", state_reason="USER_INITIATED", last_modified=self._clock()
            )
            if await self.store.replace(changed):
                self.on_change()
                return changed
        raise FunctionChanged("The event source mapping changed meanwhile; try again")

    async def settle(self, mapping: EventSourceMapping) -> EventSourceMapping | None:
        """The mapping once its transitional state is over (None: deleted), as the gateway
        holding its lease finds it."""
        if mapping.state == "Deleting":
            await self.store.delete(mapping.tenant_id, mapping.uuid)
            return None
        if mapping.state not in SETTLED:
            return mapping
        state = SETTLED[mapping.state] or ("Enabled" if mapping.enabled else "Disabled")
        settled = mapping.replaced(state=state)
        return settled if await self.store.replace(settled) else None

    async def processed(self, mapping: EventSourceMapping, result: str) -> EventSourceMapping:
        """Record ``result`` as the mapping's ``LastProcessingResult`` (written only when it
        changes)."""
        if mapping.last_result == result:
            return mapping
        changed = mapping.replaced(last_result=result)
        return changed if await self.store.replace(changed) else mapping
