"""Step Functions' service (decision 0271): the state machines of an account in the gateway's
Region — created, described, listed in pages, updated, deleted, tagged — and the validation
of definitions as ValidateStateMachineDefinition answers it.

CreateStateMachine is idempotent as AWS's: the same name with the same definition, role,
type and configurations answers the machine there is; anything else is
``StateMachineAlreadyExists``. The role must be of the account and trust
``states.amazonaws.com`` (the :class:`RoleCheck`), else AWS's AccessDeniedException. Another
account's ARN reads as a machine that does not exist: accounts never see each other's.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from andromede.stepfunctions.definition import Diagnostic, definition_error, parse_definition
from andromede.stepfunctions.errors import (
    InvalidDefinition,
    InvalidToken,
    ResourceNotFound,
    RoleRefused,
    StateMachineAlreadyExists,
    StateMachineDoesNotExist,
    TooManyTags,
    ValidationException,
)
from andromede.stepfunctions.model import (
    MAX_TAGS,
    StateMachine,
    check_encryption,
    check_logging,
    check_name,
    check_role_arn,
    check_tags,
    check_tracing,
    check_type,
    machine_arn,
    split_machine_arn,
)
from andromede.stepfunctions.store import StateMachineStore
from andromede.stepfunctions.version_store import VersionStore
from andromede.stepfunctions.versions import ExecutionTarget, pick_version, split_qualified_arn

__all__ = ["RoleCheck", "StateMachineLimits", "StateMachinesService", "Validation"]

STATES_PRINCIPAL: Final = "states.amazonaws.com"
_DEFAULT_PAGE: Final = 100
_MAX_PAGE: Final = 1000


class RoleCheck(Protocol):
    async def __call__(self, tenant_id: str, role_arn: str, machine_arn: str) -> bool:
        """Whether the role exists in the account and trusts ``states.amazonaws.com`` for the
        state machine ``machine_arn`` (its trust policy's ``aws:SourceArn``, decision 0321)."""
        ...


@dataclass(frozen=True, slots=True)
class StateMachineLimits:
    max_state_machines: int = 10_000
    max_definition_size: int = 1_048_576


@dataclass(frozen=True, slots=True)
class Validation:
    result: str  # OK or FAIL
    diagnostics: list[Diagnostic]
    truncated: bool


def _now() -> int:
    return int(time.time() * 1000)


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(f"sm1:{name}".encode()).decode()


def _after(token: Any) -> str | None:
    if token is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith("sm1:"):
        raise InvalidToken(f"Invalid Token: '{str(token)[:64]}'")
    return decoded[4:]


class StateMachinesService:
    def __init__(
        self,
        store: StateMachineStore,
        region: str,
        roles: RoleCheck,
        limits: StateMachineLimits | None = None,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.store = store
        self.region = region
        self.limits = limits or StateMachineLimits()
        self._roles = roles
        self._clock = clock
        # The machines' versions and aliases (decision 0283), deleted with their machine.
        self.versions: VersionStore | None = None

    def _definition(self, text: Any) -> str:
        if isinstance(text, str) and len(text) > self.limits.max_definition_size:
            raise ValidationException(
                f"The definition is larger than {self.limits.max_definition_size} characters."
            )
        _, diagnostics = parse_definition(text)
        if diagnostics:
            raise InvalidDefinition(definition_error(diagnostics))
        return str(text)

    async def _role(self, tenant_id: str, role: Any, machine: str) -> str:
        arn = check_role_arn(role)
        if arn.split(":")[4] != tenant_id or not await self._roles(tenant_id, arn, machine):
            raise RoleRefused(
                f"Neither the global service principal {STATES_PRINCIPAL}, nor the regional "
                "one is authorized to assume the provided role."
            )
        return arn

    async def create(self, tenant_id: str, params: Mapping[str, Any]) -> StateMachine:
        name = check_name(params.get("name"))
        arn = machine_arn(self.region, tenant_id, name)
        _check_publish(params)
        check_encryption(params.get("encryptionConfiguration"))
        now = self._clock()
        machine = StateMachine(
            tenant_id=tenant_id,
            region=self.region,
            name=name,
            definition=self._definition(params.get("definition")),
            role_arn=await self._role(tenant_id, params.get("roleArn"), arn),
            machine_type=check_type(params.get("type")),
            revision_id=uuid.uuid4().hex,
            logging=check_logging(params.get("loggingConfiguration")),
            tracing=check_tracing(params.get("tracingConfiguration")),
            tags=check_tags(params.get("tags"), arn),
            created=now,
            updated=now,
        )
        found = await self.store.create(machine, self.limits.max_state_machines)
        if found is None:
            return machine
        same = (
            found.definition == machine.definition
            and found.role_arn == machine.role_arn
            and found.machine_type == machine.machine_type
            and found.logging == machine.logging
        )
        if not same:
            raise StateMachineAlreadyExists(f"State Machine Already Exists: '{found.arn}'")
        return found

    async def get(self, tenant_id: str, arn: Any) -> StateMachine:
        account, name = split_machine_arn(arn, self.region)
        found = None if account != tenant_id else await self.store.get(tenant_id, self.region, name)
        if found is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return found

    async def update(self, tenant_id: str, arn: Any, params: Mapping[str, Any]) -> StateMachine:
        """UpdateStateMachine: the members given replace the machine's; a new revision id
        when the definition or the role changes."""
        changes = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        if not any(params.get(name) is not None for name in changes):
            raise ValidationException(
                "MissingRequiredParameter: at least one of definition, roleArn, "
                "loggingConfiguration or tracingConfiguration is required."
            )
        _check_publish(params)
        check_encryption(params.get("encryptionConfiguration"))
        machine = await self.get(tenant_id, arn)
        definition = (
            machine.definition
            if params.get("definition") is None
            else self._definition(params["definition"])
        )
        role = (
            machine.role_arn
            if params.get("roleArn") is None
            else await self._role(tenant_id, params["roleArn"], machine.arn)
        )
        revised = definition != machine.definition or role != machine.role_arn
        changed = machine.changed(
            definition=definition,
            role_arn=role,
            logging=machine.logging
            if params.get("loggingConfiguration") is None
            else check_logging(params["loggingConfiguration"]),
            tracing=machine.tracing
            if params.get("tracingConfiguration") is None
            else check_tracing(params["tracingConfiguration"]),
            revision_id=uuid.uuid4().hex if revised else machine.revision_id,
            updated=self._clock(),
        )
        if not await self.store.replace(changed):
            raise StateMachineDoesNotExist(
                f"State Machine Does Not Exist: '{machine.arn}' (or it was changed by another "
                "request: try again)"
            )
        return changed

    async def delete(self, tenant_id: str, arn: Any) -> None:
        """Gone at once (AWS marks it DELETING until its executions end; none run here). A
        machine that does not exist is no error, as on AWS."""
        account, name = split_machine_arn(arn, self.region)
        if account == tenant_id:
            await self.store.delete(tenant_id, self.region, name)
            if self.versions is not None:
                await self.versions.forget_machine(tenant_id, self.region, name)

    async def resolve(self, tenant_id: str, arn: Any) -> ExecutionTarget:
        """What an execution started by ``arn`` runs: the machine's current revision, a
        version, or the version an alias draws by its weights; StateMachineDoesNotExist when
        there is none."""
        parts = split_qualified_arn(arn, self.region)
        if parts.version is None and parts.alias is None:
            machine = await self.get(tenant_id, arn)
            return ExecutionTarget(machine, machine.definition, machine.role_arn,
                                   machine.revision_id)  # fmt: skip
        missing = StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        if parts.account != tenant_id or self.versions is None:
            raise missing
        machine_found = await self.store.get(tenant_id, self.region, parts.machine)
        if machine_found is None:
            raise missing
        if parts.alias is None:
            number = parts.version or 0
        else:
            alias = await self.versions.alias(tenant_id, self.region, parts.machine, parts.alias)
            if alias is None:
                raise missing  # StartExecution's model has no ResourceNotFound
            number = pick_version(alias)
        version = await self.versions.version(tenant_id, self.region, parts.machine, number)
        if version is None:
            raise missing
        return ExecutionTarget(machine_found, version.definition, version.role_arn,
                               version.revision_id, number, parts.alias)  # fmt: skip

    async def list(
        self, tenant_id: str, token: Any, max_results: Any
    ) -> tuple[list[StateMachine], str | None]:
        size = _page_size(max_results)
        found = await self.store.machines(tenant_id, self.region, _after(token), size + 1)
        page = found[:size]
        return page, _token(page[-1].name) if len(found) > size else None

    def validate(self, params: Mapping[str, Any]) -> Validation:
        check_type(params.get("type"))
        severity = params.get("severity", "ERROR")
        if severity not in ("ERROR", "WARNING"):
            raise ValidationException("severity must be ERROR or WARNING.")
        most = params.get("maxResults") or _DEFAULT_PAGE
        if not isinstance(most, int) or isinstance(most, bool) or not 0 < most <= 100:
            raise ValidationException("maxResults must be between 1 and 100.")
        _, diagnostics = parse_definition(params.get("definition"))
        result = "FAIL" if any(d.severity == "ERROR" for d in diagnostics) else "OK"
        return Validation(result, diagnostics[:most], len(diagnostics) > most)

    async def tagged(self, tenant_id: str, arn: Any) -> StateMachine:
        """The machine a tagging call names; ResourceNotFound (its words) otherwise."""
        try:
            return await self.get(tenant_id, arn)
        except StateMachineDoesNotExist:
            raise ResourceNotFound(f"Resource not found: '{arn}'", str(arn)[:256]) from None

    async def tag(self, machine: StateMachine, tags: Any) -> None:
        merged = dict(machine.tags) | dict(check_tags(tags, machine.arn))
        if len(merged) > MAX_TAGS:
            raise TooManyTags(
                f"Too many tags: a resource may have at most {MAX_TAGS}.", machine.arn
            )
        await self._retag(machine, tuple(sorted(merged.items())))

    async def untag(self, machine: StateMachine, keys: Sequence[str]) -> None:
        removed = set(keys)
        await self._retag(machine, tuple((k, v) for k, v in machine.tags if k not in removed))

    async def _retag(self, machine: StateMachine, tags: tuple[tuple[str, str], ...]) -> None:
        if not await self.store.replace(machine.changed(tags=tags)):
            raise ValidationException(
                f"State machine {machine.arn} was changed by another request: try again."
            )


def _check_publish(params: Mapping[str, Any]) -> None:
    publish = params.get("publish")
    if publish is not None and not isinstance(publish, bool):
        raise ValidationException("publish must be a boolean.")
    description = params.get("versionDescription")
    if description is not None and not publish:
        raise ValidationException("Version description can only be set when publish is true")
    if description is not None and (not isinstance(description, str) or len(description) > 256):
        raise ValidationException(
            "1 validation error detected: Value at 'versionDescription' failed to satisfy "
            "constraint: Member must have length less than or equal to 256"
        )


def _page_size(value: Any) -> int:
    if value is None or value == 0:
        return _DEFAULT_PAGE
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_PAGE:
        raise ValidationException(f"maxResults must be between 0 and {_MAX_PAGE}.")
    return value
