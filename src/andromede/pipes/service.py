"""EventBridge Pipes' service (decision 0258): the pipes of an account, their creation,
changes, starts, stops, deletion, tags and listing, and the settling of their transitional
states by the runner (``pipes.runner``).

A pipe is made CREATING and settled RUNNING or STOPPED (its ``DesiredState``) at the runner's
next pass, any gateway's; UpdatePipe, StartPipe and StopPipe put it UPDATING, STARTING or
STOPPING the same way. A pipe in a transitional state refuses another change with a
conflict, as AWS's does. DeletePipe removes it at once (AWS answers DELETING; the pipe is gone
from DescribePipe as soon as AWS's is) with its checkpoints: its reader stops at its next
pass. The enrichments served are an API destination (decision 0268), a Lambda function
(decision 0294) and an EXPRESS state machine (decision 0316); the others are refused by name,
never stored and ignored. A state machine's type is asked of Step Functions
(:data:`MachineTypes`): a STANDARD one is refused as an enrichment, or as a
``REQUEST_RESPONSE`` target (StartSyncExecution runs EXPRESS workflows only), as AWS refuses
them; one not found is accepted, the pipe's reason saying so once it runs.

Decision 0408: one service a declared Region (``region``, over its view of the store,
``pipes.regional_store``); a pipe of a Region other than ``home`` names only what that
Region serves (``pipes.regional_endpoints``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from andromede.pipes.errors import InvalidPipe, PipeConflict, PipeNotFound
from andromede.pipes.model import (
    TRANSITIONAL,
    Pipe,
    PipeState,
    check_enrichment,
    check_log_configuration,
    check_name,
    check_role,
    check_source,
    check_target,
    endpoint_kind,
    settled_state,
)
from andromede.pipes.regional_endpoints import check_regional
from andromede.pipes.store import PipeStore

__all__ = ["ListFilter", "MachineTypes", "PipesLimits", "PipesService"]

# (tenant, state machine ARN) → its type (``STANDARD``, ``EXPRESS``), None when not found.
MachineTypes = Callable[[str, str], Awaitable[str | None]]

_MAX_TAGS: Final = 50
_STATES: Final = ("RUNNING", "STOPPED")


@dataclass(frozen=True, slots=True)
class PipesLimits:
    max_pipes: int = 1000


@dataclass(frozen=True, slots=True)
class ListFilter:
    name_prefix: str | None = None
    source_prefix: str | None = None
    target_prefix: str | None = None
    desired_state: str | None = None
    current_state: str | None = None

    def keeps(self, pipe: Pipe) -> bool:
        return (
            (self.name_prefix is None or pipe.name.startswith(self.name_prefix))
            and (self.source_prefix is None or pipe.source.startswith(self.source_prefix))
            and (self.target_prefix is None or pipe.target.startswith(self.target_prefix))
            and (self.desired_state is None or pipe.desired_state == self.desired_state)
            and (self.current_state is None or pipe.current_state.value == self.current_state)
        )


def _now() -> int:
    return int(time.time() * 1000)


def check_tags(tags: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise InvalidPipe("Tags must be a map of strings to strings.", "tags")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or key.startswith("aws:") or len(value) > 256:
            raise InvalidPipe(
                f"Tag key {key[:128]!r} must be 1 to 128 characters, not starting with 'aws:', "
                "and its value at most 256.",
                "tags",
            )
    return tuple(sorted(tags.items()))


def _desired(value: Any, default: str) -> str:
    if value is None:
        return default
    if value not in _STATES:
        raise InvalidPipe("DesiredState must be RUNNING or STOPPED.", "desiredState")
    return str(value)


def _description(value: Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > 512:
        raise InvalidPipe("Description must be at most 512 characters.", "description")
    return value


def _no_key(params: Mapping[str, Any]) -> None:
    if params.get("KmsKeyIdentifier"):
        raise InvalidPipe(
            "KmsKeyIdentifier is not supported by this platform: a pipe keeps no event at rest.",
            "kmsKeyIdentifier",
        )


class PipesService:
    def __init__(
        self,
        store: PipeStore,
        region: str,
        limits: PipesLimits | None = None,
        clock: Callable[[], int] = _now,
        machine_types: MachineTypes | None = None,
    ) -> None:
        self.store = store
        self.region = region
        self.limits = limits or PipesLimits()
        self._clock = clock
        self.machine_types = machine_types
        # The deployment's default Region: a pipe of another names only what its Region
        # serves (decision 0408).
        self.home = region
        # Told when a pipe was written that the runner must settle (decision 0326).
        self.on_change: Callable[[], None] = lambda: None

    async def _check_state_machines(
        self, tenant_id: str, target: str, target_parameters: Mapping[str, Any], enrichment: str
    ) -> None:
        """A STANDARD state machine refused where only StartSyncExecution may run it."""
        if self.machine_types is None:
            return
        if endpoint_kind(enrichment) == "states":
            if await self.machine_types(tenant_id, enrichment) == "STANDARD":
                raise InvalidPipe(
                    f"Enrichment {enrichment[:256]} is a STANDARD state machine: only EXPRESS "
                    "state machine workflows are supported as an enrichment.",
                    "enrichment",
                )
        if endpoint_kind(target) == "states":
            member = target_parameters.get("StepFunctionStateMachineParameters") or {}
            invocation = member.get("InvocationType") or "REQUEST_RESPONSE"
            if (
                invocation == "REQUEST_RESPONSE"
                and await self.machine_types(tenant_id, target) == "STANDARD"
            ):
                raise InvalidPipe(
                    f"Target {target[:256]} is a STANDARD state machine: REQUEST_RESPONSE is not "
                    "supported for STANDARD state machine workflows; use FIRE_AND_FORGET.",
                    "InvocationType",
                )

    async def get(self, tenant_id: str, name: str) -> Pipe:
        pipe = await self.store.get(tenant_id, name)
        if pipe is None:
            raise PipeNotFound(f"Pipe {name[:64]} does not exist.")
        return pipe

    async def create(self, tenant_id: str, name: str, params: Mapping[str, Any]) -> Pipe:
        """A pipe made CREATING from CreatePipe's parameters."""
        check_name(name)
        _no_key(params)
        enrichment, enrichment_parameters = check_enrichment(
            params.get("Enrichment"), params.get("EnrichmentParameters"), tenant_id, self.region
        )
        source = params.get("Source")
        target = params.get("Target")
        now = self._clock()
        pipe = Pipe(
            tenant_id=tenant_id,
            name=name,
            region=self.region,
            source=str(source),
            source_parameters=check_source(
                source, params.get("SourceParameters"), tenant_id, self.region, previous=None
            ),
            target=str(target),
            target_parameters=check_target(
                target, params.get("TargetParameters"), tenant_id, self.region
            ),
            role_arn=check_role(params.get("RoleArn")),
            enrichment=enrichment,
            enrichment_parameters=enrichment_parameters,
            desired_state=_desired(params.get("DesiredState"), "RUNNING"),
            description=_description(params.get("Description"), ""),
            tags=() if params.get("Tags") is None else check_tags(params["Tags"]),
            log_configuration=check_log_configuration(
                params.get("LogConfiguration"), tenant_id, self.region
            ),
            created=now,
            updated=now,
        )
        if len(pipe.tags) > _MAX_TAGS:
            raise InvalidPipe(f"A pipe may have at most {_MAX_TAGS} tags.", "tags")
        check_regional(pipe, self.home)
        await self._check_state_machines(
            tenant_id, pipe.target, pipe.target_parameters, pipe.enrichment
        )
        await self.store.create(pipe, self.limits.max_pipes)
        self.on_change()
        return pipe

    async def _change(self, pipe: Pipe, **fields: Any) -> Pipe:
        if pipe.current_state in TRANSITIONAL:
            raise PipeConflict(
                f"Pipe {pipe.name} is {pipe.current_state.value}: wait for it to settle.",
                pipe.name,
            )
        changed = pipe.changed(updated=self._clock(), **fields)
        check_regional(changed, self.home)
        if not await self.store.replace(changed):
            raise PipeConflict(f"Pipe {pipe.name} was changed by another request.", pipe.name)
        self.on_change()
        return changed

    async def update(self, tenant_id: str, name: str, params: Mapping[str, Any]) -> Pipe:
        """UpdatePipe: the members given replace the pipe's (the source stays; its
        parameters are merged as AWS merges them), the pipe UPDATING."""
        pipe = await self.get(tenant_id, name)
        _no_key(params)
        enrichment, enrichment_parameters = pipe.enrichment, pipe.enrichment_parameters
        if "Enrichment" in params or "EnrichmentParameters" in params:
            # Given, they replace the pipe's ("" removes its enrichment), as AWS's UpdatePipe.
            enrichment = params.get("Enrichment", pipe.enrichment)
            kept = pipe.enrichment_parameters if enrichment == pipe.enrichment else {}
            enrichment, enrichment_parameters = check_enrichment(
                enrichment,
                params.get("EnrichmentParameters", kept if enrichment else None),
                tenant_id,
                self.region,
            )
        target = params.get("Target", pipe.target)
        target_parameters = (
            check_target(target, params.get("TargetParameters"), tenant_id, self.region)
            if "TargetParameters" in params or target != pipe.target
            else pipe.target_parameters
        )
        await self._check_state_machines(tenant_id, str(target), target_parameters, enrichment)
        return await self._change(
            pipe,
            role_arn=check_role(params.get("RoleArn")),
            enrichment=enrichment,
            enrichment_parameters=enrichment_parameters,
            description=_description(params.get("Description"), pipe.description),
            desired_state=_desired(params.get("DesiredState"), pipe.desired_state),
            source_parameters=check_source(
                pipe.source,
                params.get("SourceParameters"),
                tenant_id,
                self.region,
                previous=pipe.source_parameters,
            ),
            target=str(target),
            target_parameters=target_parameters,
            log_configuration=check_log_configuration(
                params.get("LogConfiguration"), tenant_id, self.region
            )
            if "LogConfiguration" in params
            else pipe.log_configuration,
            current_state=PipeState.UPDATING,
            state_reason="",
        )

    async def start(self, tenant_id: str, name: str) -> Pipe:
        pipe = await self.get(tenant_id, name)
        return await self._change(
            pipe, desired_state="RUNNING", current_state=PipeState.STARTING, state_reason=""
        )

    async def stop(self, tenant_id: str, name: str) -> Pipe:
        pipe = await self.get(tenant_id, name)
        return await self._change(
            pipe, desired_state="STOPPED", current_state=PipeState.STOPPING, state_reason=""
        )

    async def delete(self, tenant_id: str, name: str) -> Pipe:
        """The pipe as DeletePipe answers it (DELETING, desired DELETED), once removed."""
        pipe = await self.get(tenant_id, name)
        if pipe.current_state in TRANSITIONAL - {PipeState.UPDATING}:
            raise PipeConflict(
                f"Pipe {pipe.name} is {pipe.current_state.value}: wait for it to settle.",
                pipe.name,
            )
        if not await self.store.delete(tenant_id, name):
            raise PipeNotFound(f"Pipe {name[:64]} does not exist.")
        return pipe.changed(desired_state="DELETED", current_state=PipeState.DELETING)

    async def list(
        self, tenant_id: str, where: ListFilter, after: str | None, limit: int
    ) -> tuple[list[Pipe], str | None]:
        """A page of the account's pipes ``where`` keeps, by name after ``after``; and the
        name to go on after, when there are more."""
        kept = [
            p
            for p in await self.store.pipes(tenant_id)
            if where.keeps(p) and (after is None or p.name > after)
        ]
        page = kept[:limit]
        return page, page[-1].name if len(kept) > limit else None

    async def tag(self, pipe: Pipe, tags: Any) -> None:
        merged = dict(pipe.tags) | dict(check_tags(tags))
        if len(merged) > _MAX_TAGS:
            raise InvalidPipe(f"A pipe may have at most {_MAX_TAGS} tags.", "tags")
        await self._retag(pipe, tuple(sorted(merged.items())))

    async def untag(self, pipe: Pipe, keys: Sequence[str]) -> None:
        await self._retag(pipe, tuple((k, v) for k, v in pipe.tags if k not in set(keys)))

    async def _retag(self, pipe: Pipe, tags: tuple[tuple[str, str], ...]) -> None:
        # Tags are no change of the pipe's: any state takes them, as on AWS.
        if not await self.store.replace(pipe.changed(tags=tags)):
            raise PipeConflict(f"Pipe {pipe.name} was changed by another request.", pipe.name)

    async def settle(self, limit: int = 100) -> int:
        """The region's transitional pipes put in their settled state; how many."""
        settled = 0
        for pipe in await self.store.transitional(self.region, limit):
            state = settled_state(pipe.current_state, pipe.desired_state)
            if await self.store.replace(pipe.changed(current_state=state)):
                settled += 1
        return settled

    async def refused(self, pipe: Pipe, reason: str) -> None:
        """Say why the pipe's source or target refuses it (its ``StateReason``), once; ""
        once it runs again."""
        if pipe.state_reason == reason[:512]:
            return
        current = await self.store.get(pipe.tenant_id, pipe.name)
        if current is not None and current.current_state is PipeState.RUNNING:
            await self.store.replace(current.changed(state_reason=reason[:512]))
