"""Step Functions' state machine versions and aliases as values (decision 0283), and the rules
their parameters follow on AWS: qualified ARNs (``…:stateMachine:<name>:<n>`` a version,
``…:stateMachine:<name>:<alias>`` an alias), alias names, descriptions and routing
configurations (one or two versions of one machine whose weights add up to 100). Pure: no I/O.

A version is an immutable snapshot of its machine at a revision: its definition, role, type
and configurations, numbered from 1 and never renumbered (a deleted version's number is not
given again). An alias routes the executions started through it to one or two versions by
their weights."""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from typing import Any, Final

from andromede.stepfunctions.errors import InvalidArn, InvalidName, ValidationException
from andromede.stepfunctions.model import MachineType, StateMachine, machine_arn

__all__ = [
    "ExecutionTarget",
    "MachineAlias",
    "MachineVersion",
    "QualifiedArn",
    "check_alias_name",
    "check_description",
    "check_routing",
    "pick_version",
    "split_qualified_arn",
    "version_of",
]

_MACHINE_NAME: Final = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")
# botocore's CharacterRestrictedName: at least one letter, "_", "-" or ".", so that no alias
# name reads as a version number.
_ALIAS_NAME: Final = re.compile(r"(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]{1,80}")
MAX_DESCRIPTION: Final = 256


@dataclass(frozen=True, slots=True)
class MachineVersion:
    tenant_id: str
    region: str
    machine_name: str
    number: int
    definition: str
    role_arn: str
    machine_type: MachineType
    revision_id: str
    description: str | None = None
    logging: dict[str, Any] = dataclasses.field(default_factory=lambda: {"level": "OFF"})
    tracing: bool = False
    created: int = 0  # ms

    @property
    def arn(self) -> str:
        return f"{machine_arn(self.region, self.tenant_id, self.machine_name)}:{self.number}"

    @property
    def machine_arn(self) -> str:
        return machine_arn(self.region, self.tenant_id, self.machine_name)


def version_of(
    machine: StateMachine, number: int, description: str | None, now: int
) -> MachineVersion:
    """The snapshot of ``machine``'s current revision as its version ``number``."""
    return MachineVersion(
        tenant_id=machine.tenant_id,
        region=machine.region,
        machine_name=machine.name,
        number=number,
        definition=machine.definition,
        role_arn=machine.role_arn,
        machine_type=machine.machine_type,
        revision_id=machine.revision_id,
        description=description,
        logging=dict(machine.logging),
        tracing=machine.tracing,
        created=now,
    )


@dataclass(frozen=True, slots=True)
class MachineAlias:
    """``routing``: (version number, weight) pairs, the weights adding up to 100."""

    tenant_id: str
    region: str
    machine_name: str
    name: str
    routing: tuple[tuple[int, int], ...]
    description: str | None = None
    created: int = 0  # ms
    updated: int = 0  # ms
    revision: int = 1

    @property
    def arn(self) -> str:
        return f"{machine_arn(self.region, self.tenant_id, self.machine_name)}:{self.name}"

    def version_arn(self, number: int) -> str:
        return f"{machine_arn(self.region, self.tenant_id, self.machine_name)}:{number}"

    def changed(self, **fields: Any) -> MachineAlias:
        return dataclasses.replace(self, revision=self.revision + 1, **fields)


@dataclass(frozen=True, slots=True)
class ExecutionTarget:
    """What an execution started by a machine's, a version's or an alias's ARN runs: the
    machine, and the definition, role and revision of its current revision or of the version;
    ``version`` and ``alias`` when it was started through them."""

    machine: StateMachine
    definition: str
    role_arn: str
    revision_id: str
    version: int | None = None
    alias: str | None = None

    @property
    def version_arn(self) -> str | None:
        return None if self.version is None else f"{self.machine.arn}:{self.version}"

    @property
    def alias_arn(self) -> str | None:
        return None if self.alias is None else f"{self.machine.arn}:{self.alias}"


@dataclass(frozen=True, slots=True)
class QualifiedArn:
    """A state machine's ARN, a version's (``version``) or an alias's (``alias``)."""

    account: str
    machine: str
    version: int | None = None
    alias: str | None = None


def split_qualified_arn(arn: Any, region: str) -> QualifiedArn:
    """The parts of a state machine's, a version's or an alias's ARN in ``region``; InvalidArn
    in AWS's words otherwise."""
    if not isinstance(arn, str) or not 1 <= len(arn) <= 2048:
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {str(arn)[:256]}'")
    parts = arn.split(":")
    if len(parts) < 6 or parts[:3] != ["arn", "aws", "states"]:
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn[:256]}'")
    if parts[5] != "stateMachine" or len(parts) not in (7, 8):
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn[:256]}'")
    if parts[3] != region or not re.fullmatch(r"\d{12}", parts[4]):
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN: {arn[:256]}'")
    if not _MACHINE_NAME.fullmatch(parts[6]):
        raise InvalidArn(f"Invalid Arn: 'Invalid resource name: {arn[:256]}'")
    if len(parts) == 7:
        return QualifiedArn(parts[4], parts[6])
    qualifier = parts[7]
    if qualifier.isdigit() and qualifier.isascii() and 0 < int(qualifier) < 2**31:
        return QualifiedArn(parts[4], parts[6], version=int(qualifier))
    if _ALIAS_NAME.fullmatch(qualifier):
        return QualifiedArn(parts[4], parts[6], alias=qualifier)
    raise InvalidArn(f"Invalid Arn: 'Invalid qualifier: {arn[:256]}'")


def check_alias_name(name: Any) -> str:
    if not isinstance(name, str) or not _ALIAS_NAME.fullmatch(name):
        raise InvalidName(f"Invalid Name: '{str(name)[:80]}'")
    return name


def check_description(value: Any, member: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationException(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_DESCRIPTION}"
        )
    return value


def check_routing(value: Any, region: str, tenant_id: str) -> tuple[str, list[tuple[int, int]]]:
    """(the machine's name, [(version number, weight)]) of a ``routingConfiguration``: one or
    two versions, of one state machine, each once, whose weights (0 to 100) add up to 100."""
    if not isinstance(value, list) or not 1 <= len(value) <= 2:
        raise ValidationException(
            "1 validation error detected: Value at 'routingConfiguration' failed to satisfy "
            "constraint: Member must have length between 1 and 2"
        )
    machines: set[str] = set()
    routes: list[tuple[int, int]] = []
    for item in value:
        arn = item.get("stateMachineVersionArn") if isinstance(item, dict) else None
        weight = item.get("weight") if isinstance(item, dict) else None
        parts = split_qualified_arn(arn, region)
        if parts.version is None:
            raise ValidationException(
                f"Invalid routingConfiguration: '{str(arn)[:256]}' is not a state machine "
                "version ARN."
            )
        if parts.account != tenant_id:
            raise ValidationException(
                f"Invalid routingConfiguration: '{str(arn)[:256]}' is not of this account."
            )
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
            raise ValidationException(
                "1 validation error detected: Value at 'routingConfiguration.member.weight' "
                "failed to satisfy constraint: Member must have value between 0 and 100"
            )
        machines.add(parts.machine)
        routes.append((parts.version, weight))
    if len(machines) > 1:
        raise ValidationException(
            "Invalid routingConfiguration: the versions must be of the same state machine."
        )
    if len({number for number, _ in routes}) != len(routes):
        raise ValidationException(
            "Invalid routingConfiguration: a state machine version may appear only once."
        )
    if sum(weight for _, weight in routes) != 100:
        raise ValidationException(
            "Invalid routingConfiguration: the sum of the weights must be equal to 100."
        )
    return machines.pop(), routes


def pick_version(alias: MachineAlias, draw: float | None = None) -> int:
    """The version an execution started through ``alias`` runs: drawn by the weights."""
    point = (random.random() if draw is None else draw) * 100  # noqa: S311 - routing, no secret
    total = 0
    for number, weight in alias.routing:
        total += weight
        if point < total:
            return number
    return next(number for number, weight in reversed(alias.routing) if weight > 0)
