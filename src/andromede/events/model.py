"""EventBridge's resources as values (decision 0192): event buses, rules and targets, their
names' and ARNs' rules, and the event envelope PutEvents builds. Pure: no I/O.

A rule on the default bus is ``rule/<name>``, one on a custom bus ``rule/<bus>/<name>``, as
AWS names them. A target is kept as the client gave it (its JSON, in AWS's member names), so
that what ListTargetsByRule answers is what PutTargets took.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from andromede.events.errors import ValidationError

__all__ = [
    "DEFAULT_BUS",
    "EventBus",
    "Rule",
    "RuleState",
    "Target",
    "bus_arn",
    "bus_of_target",
    "check_bus_name",
    "check_rule_name",
    "check_target_id",
    "event_envelope",
    "format_time",
    "parse_arn",
    "rule_arn",
]

DEFAULT_BUS: Final = "default"
_BUS_NAME: Final = re.compile(r"[/\.\-_A-Za-z0-9]{1,256}")
_RULE_NAME: Final = re.compile(r"[\.\-_A-Za-z0-9]{1,64}")
_TARGET_ID: Final = re.compile(r"[\.\-_A-Za-z0-9]{1,64}")
_ARN: Final = re.compile(r"arn:aws:([a-z0-9-]+):([a-z0-9-]*):(\d{12}|[^:]*):(.+)")


class RuleState:
    ENABLED: Final = "ENABLED"
    DISABLED: Final = "DISABLED"
    ALL: Final = frozenset({"ENABLED", "DISABLED"})


def bus_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:events:{region}:{tenant_id}:event-bus/{name}"


def rule_arn(region: str, tenant_id: str, bus: str, name: str) -> str:
    middle = "" if bus == DEFAULT_BUS else f"{bus}/"
    return f"arn:aws:events:{region}:{tenant_id}:rule/{middle}{name}"


def parse_arn(arn: str) -> tuple[str, str, str, str] | None:
    """(service, region, account, resource) of an ARN, or None."""
    found = _ARN.fullmatch(arn)
    return None if found is None else (found[1], found[2], found[3], found[4])


def bus_of_target(arn: str) -> tuple[str, str, str] | None:
    """(region, account, bus name) of a target's ARN when it names an event bus (decision
    0273), else None (an API destination's ``events`` ARN included)."""
    parts = parse_arn(arn)
    if parts is None or parts[0] != "events" or not parts[3].startswith("event-bus/"):
        return None
    return parts[1], parts[2], parts[3].removeprefix("event-bus/")


def check_bus_name(name: str, *, custom: bool = False) -> str:
    if not _BUS_NAME.fullmatch(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name[:300]}' at 'name' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+"
        )
    if custom and (name == DEFAULT_BUS or "/" in name or name.startswith("aws.")):
        # "/" is for partner buses, "aws." for AWS's own: neither a tenant's to create.
        raise ValidationError(f"Event bus name {name} is not valid.")
    return name


def check_rule_name(name: str) -> str:
    if not _RULE_NAME.fullmatch(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name[:300]}' at 'name' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        )
    return name


def check_target_id(target_id: str) -> str:
    if not _TARGET_ID.fullmatch(target_id):
        raise ValidationError(
            f"1 validation error detected: Value '{target_id[:300]}' at 'targets.id' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "[\\.\\-_A-Za-z0-9]+"
        )
    return target_id


def format_time(moment: datetime) -> str:
    """An event's ``time``: ISO 8601 in UTC to the second, as EventBridge writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class EventBus:
    tenant_id: str
    region: str
    name: str
    description: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    tags: dict[str, str] = field(default_factory=dict)
    # Decision 0213: the customer key its events are sealed under at rest (as given: id,
    # ARN, alias or alias ARN), and the SQS queue its undeliverable sealed events go to.
    kms_key: str | None = None
    dead_letter_arn: str | None = None
    # Decision 0218: its rules, targets and waiting deliveries are being re-sealed under
    # ``kms_key`` (or opened, for EventBridge's own key) after a change of key.
    resealing: bool = False

    @property
    def arn(self) -> str:
        return bus_arn(self.region, self.tenant_id, self.name)

    def config_document(self) -> str | None:
        """The key and dead-letter queue as the store keeps them (None: neither)."""
        if self.kms_key is None and self.dead_letter_arn is None:
            return None
        return json.dumps(
            {"KmsKeyIdentifier": self.kms_key, "DeadLetterArn": self.dead_letter_arn},
            separators=(",", ":"),
        )

    def with_config(self, document: str | None) -> EventBus:
        """This bus with the key and dead-letter queue :meth:`config_document` wrote."""
        data = json.loads(document) if document else {}
        return replace(
            self, kms_key=data.get("KmsKeyIdentifier"), dead_letter_arn=data.get("DeadLetterArn")
        )


@dataclass(frozen=True, slots=True)
class Rule:
    tenant_id: str
    region: str
    bus_name: str
    name: str
    event_pattern: str | None = None
    schedule: str | None = None
    state: str = RuleState.ENABLED
    description: str | None = None
    role_arn: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    tags: dict[str, str] = field(default_factory=dict)
    # Decision 0218: on a bus under a customer key, the pattern and description sealed
    # together (``event_pattern`` and ``description`` then None until opened).
    sealed: str | None = None
    # Decision 0332: the service principal that made it on the account's behalf (AWS's
    # ``ManagedBy``), None for a user's rule.
    managed_by: str | None = None

    @property
    def arn(self) -> str:
        return rule_arn(self.region, self.tenant_id, self.bus_name, self.name)

    @property
    def enabled(self) -> bool:
        return self.state == RuleState.ENABLED

    def document(self) -> str:
        """What the store keeps besides the key columns."""
        return json.dumps(
            {
                "EventPattern": self.event_pattern,
                "ScheduleExpression": self.schedule,
                "State": self.state,
                "Description": self.description,
                "RoleArn": self.role_arn,
                "Created": self.created.timestamp(),
                "Tags": self.tags,
                **({} if self.sealed is None else {"Sealed": self.sealed}),
                **({} if self.managed_by is None else {"ManagedBy": self.managed_by}),
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_document(tenant_id: str, region: str, bus: str, name: str, doc: str) -> Rule:
        data = json.loads(doc)
        return Rule(
            tenant_id,
            region,
            bus,
            name,
            event_pattern=data.get("EventPattern"),
            schedule=data.get("ScheduleExpression"),
            state=data.get("State", RuleState.ENABLED),
            description=data.get("Description"),
            role_arn=data.get("RoleArn"),
            created=datetime.fromtimestamp(float(data["Created"]), UTC),
            tags=dict(data.get("Tags") or {}),
            sealed=data.get("Sealed"),
            managed_by=data.get("ManagedBy"),
        )


@dataclass(frozen=True, slots=True)
class Target:
    """One target of a rule, as PutTargets gave it (``spec``: its AWS members)."""

    id: str
    arn: str
    spec: dict[str, Any]

    @property
    def input(self) -> str | None:
        value = self.spec.get("Input")
        return value if isinstance(value, str) else None

    @property
    def input_path(self) -> str | None:
        value = self.spec.get("InputPath")
        return value if isinstance(value, str) else None

    @property
    def input_transformer(self) -> dict[str, Any] | None:
        value = self.spec.get("InputTransformer")
        return value if isinstance(value, dict) else None

    @property
    def sealed(self) -> str | None:
        """Decision 0218: the input members sealed under the bus's key (None: in clear)."""
        value = self.spec.get("Sealed")
        return value if isinstance(value, str) else None

    @property
    def message_group_id(self) -> str | None:
        value = (self.spec.get("SqsParameters") or {}).get("MessageGroupId")
        return value if isinstance(value, str) else None

    @property
    def role_arn(self) -> str | None:
        value = self.spec.get("RoleArn")
        return value if isinstance(value, str) else None

    @property
    def partition_key_path(self) -> str | None:
        """Decision 0238: a Kinesis target's ``KinesisParameters.PartitionKeyPath``."""
        value = (self.spec.get("KinesisParameters") or {}).get("PartitionKeyPath")
        return value if isinstance(value, str) else None

    @property
    def dead_letter_arn(self) -> str | None:
        value = (self.spec.get("DeadLetterConfig") or {}).get("Arn")
        return value if isinstance(value, str) else None

    @property
    def maximum_retry_attempts(self) -> int:
        value = (self.spec.get("RetryPolicy") or {}).get("MaximumRetryAttempts")
        return 185 if value is None else int(value)  # AWS's default

    @property
    def maximum_event_age(self) -> int:
        value = (self.spec.get("RetryPolicy") or {}).get("MaximumEventAgeInSeconds")
        return 86_400 if value is None else int(value)  # AWS's default: 24 hours

    def document(self) -> str:
        return json.dumps(self.spec, separators=(",", ":"))

    @staticmethod
    def from_document(doc: str) -> Target:
        spec = json.loads(doc)
        return Target(str(spec["Id"]), str(spec["Arn"]), spec)


def event_envelope(
    *,
    event_id: str,
    detail_type: str,
    source: str,
    account: str,
    moment: datetime,
    region: str,
    resources: list[str],
    detail: Any,
) -> dict[str, Any]:
    """An event as rules match it and targets receive it, in EventBridge's member order."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": format_time(moment),
        "region": region,
        "resources": resources,
        "detail": detail,
    }
