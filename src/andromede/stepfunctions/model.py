"""Step Functions' state machines as values (decision 0271), and the rules their parameters
follow on AWS: names, ARNs, role ARNs, types, logging, tracing and encryption
configurations, tags. Pure: no I/O."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from andromede.stepfunctions.errors import (
    InvalidArn,
    InvalidEncryptionConfiguration,
    InvalidLoggingConfiguration,
    InvalidName,
    InvalidTracingConfiguration,
    TooManyTags,
    ValidationException,
)

__all__ = [
    "MAX_TAGS",
    "MachineType",
    "StateMachine",
    "check_encryption",
    "check_logging",
    "check_name",
    "check_role_arn",
    "check_tags",
    "check_tracing",
    "check_type",
    "machine_arn",
    "split_machine_arn",
]

MAX_TAGS: Final = 50
# AWS's rule: 1 to 80 characters, none of whitespace, brackets, wildcards, the special
# characters "#%\^|~`$&,;:/ and the control characters.
_NAME: Final = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")
_ROLE: Final = re.compile(r"arn:aws:iam::(\d{12}):role/[\w+=,.@/-]{1,512}")
_LOG_GROUP: Final = re.compile(r"arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:[\w#./-]{1,512}:\*")
_LEVELS: Final = ("ALL", "ERROR", "FATAL", "OFF")


class MachineType(Enum):
    STANDARD = "STANDARD"
    EXPRESS = "EXPRESS"


@dataclass(frozen=True, slots=True)
class StateMachine:
    """One state machine of an account in a Region. ``definition`` is the Amazon States
    Language text as the caller gave it (sealed at rest by the SQL store); ``revision`` counts
    its writes (compare-and-set), ``revision_id`` is AWS's, changed by each update."""

    tenant_id: str
    region: str
    name: str
    definition: str
    role_arn: str
    machine_type: MachineType
    revision_id: str
    logging: dict[str, Any] = dataclasses.field(default_factory=lambda: {"level": "OFF"})
    tracing: bool = False
    tags: tuple[tuple[str, str], ...] = ()
    created: int = 0  # ms
    updated: int = 0  # ms
    revision: int = 1
    versions_published: int = 0  # the last version number given (decision 0283)

    @property
    def arn(self) -> str:
        return machine_arn(self.region, self.tenant_id, self.name)

    def changed(self, **fields: Any) -> StateMachine:
        return dataclasses.replace(self, revision=self.revision + 1, **fields)


def machine_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:states:{region}:{tenant_id}:stateMachine:{name}"


def split_machine_arn(arn: Any, region: str) -> tuple[str, str]:
    """(account, name) of a state machine's ARN in ``region``; InvalidArn otherwise (a
    version's or an alias's ARN too: versions and aliases are not served)."""
    if not isinstance(arn, str) or not 1 <= len(arn) <= 256:
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {str(arn)[:256]}'")
    parts = arn.split(":")
    if len(parts) < 6 or parts[:3] != ["arn", "aws", "states"]:
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
    if parts[5] != "stateMachine" or len(parts) != 7:
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
    if parts[3] != region or not re.fullmatch(r"\d{12}", parts[4]):
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN: {arn}'")
    if not _NAME.fullmatch(parts[6]):
        raise InvalidArn(f"Invalid Arn: 'Invalid resource name: {arn}'")
    return parts[4], parts[6]


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(f"Invalid Name: '{str(name)[:80]}'")
    return name


def check_role_arn(role: Any) -> str:
    """The role ARN, well formed; RoleRefused for one not the account's is the service's."""
    if not isinstance(role, str) or not _ROLE.fullmatch(role):
        raise InvalidArn(f"Invalid Arn: 'Invalid role ARN: {str(role)[:256]}'")
    return role


def check_type(value: Any) -> MachineType:
    if value is None:
        return MachineType.STANDARD
    try:
        return MachineType(value)
    except ValueError:
        raise ValidationException(
            f"1 validation error detected: Value '{str(value)[:64]}' at 'type' failed to "
            "satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ) from None


def check_logging(value: Any) -> dict[str, Any]:
    """The logging configuration as DescribeStateMachine gives it back."""
    if value is None:
        return {"level": "OFF", "includeExecutionData": False}
    if not isinstance(value, Mapping):
        raise InvalidLoggingConfiguration("Invalid Logging Configuration: must be an object.")
    level = value.get("level", "OFF")
    if level not in _LEVELS:
        raise InvalidLoggingConfiguration(
            f"Invalid Logging Configuration: level must be one of {', '.join(_LEVELS)}."
        )
    include = value.get("includeExecutionData", False)
    if not isinstance(include, bool):
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: includeExecutionData must be a boolean."
        )
    destinations = value.get("destinations") or []
    if not isinstance(destinations, list) or len(destinations) > 1:
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination."
        )
    if level != "OFF" and not destinations:
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination."
        )
    checked: dict[str, Any] = {"level": level, "includeExecutionData": include}
    if destinations:
        group = (
            destinations[0].get("cloudWatchLogsLogGroup")
            if isinstance(destinations[0], Mapping)
            else None
        )
        arn = group.get("logGroupArn") if isinstance(group, Mapping) else None
        if not isinstance(arn, str) or not _LOG_GROUP.fullmatch(arn):
            raise InvalidLoggingConfiguration(
                "Invalid Logging Configuration: Log Destination not valid: "
                f"{str(arn)[:256]} (a log group's ARN ending in ':*')."
            )
        checked["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}]
    return checked


def check_tracing(value: Any) -> bool:
    if value is None:
        return False
    enabled = value.get("enabled", False) if isinstance(value, Mapping) else None
    if not isinstance(enabled, bool):
        raise InvalidTracingConfiguration(
            "Invalid Tracing Configuration: enabled must be a boolean."
        )
    if enabled:
        raise InvalidTracingConfiguration(
            "Invalid Tracing Configuration: X-Ray tracing is not served by this platform."
        )
    return False


def check_encryption(value: Any) -> None:
    """Only AWS-owned keys: a state machine's definition is always sealed under its account's
    own key ring, which plays that part here."""
    if value is None:
        return
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind != "AWS_OWNED_KEY":
        raise InvalidEncryptionConfiguration(
            "Invalid Encryption Configuration: only AWS_OWNED_KEY is served by this platform "
            "(the definition is sealed under the account's own keys)."
        )


def check_tags(tags: Any, resource: str) -> tuple[tuple[str, str], ...]:
    """A ``[{key, value}]`` list as sorted pairs (the last of a repeated key wins)."""
    if tags is None:
        return ()
    if not isinstance(tags, list):
        raise ValidationException("tags must be a list of {key, value}.")
    pairs: dict[str, str] = {}
    for tag in tags:
        key = tag.get("key") if isinstance(tag, Mapping) else None
        value = tag.get("value", "") if isinstance(tag, Mapping) else None
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise ValidationException(
                f"Tag key {str(key)[:128]!r} must be 1 to 128 characters, not starting with 'aws:'."
            )
        if not isinstance(value, str) or len(value) > 256:
            raise ValidationException(f"The value of tag {key!r} must be at most 256 characters.")
        pairs[key] = value
    if len(pairs) > MAX_TAGS:
        raise TooManyTags(f"Too many tags: a resource may have at most {MAX_TAGS}.", resource)
    return tuple(sorted(pairs.items()))
