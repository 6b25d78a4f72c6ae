"""The EventBridge calls (decision 0192) the console's event bus and rule pages make, in
process as the signed-in principal through EventBridge's JSON protocol (``eventsapi.app``):
its authorisation (``events:<Action>``), checks, audit and errors answer them. Each answer is
read into the small rows the pages show; nothing here decides what EventBridge allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from andromede.console.json_answers import listed_objects, minute_text
from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "DEFAULT_BUS",
    "ArchiveRow",
    "BusRow",
    "BusSettings",
    "ConnectionRow",
    "DestinationRow",
    "EventsWire",
    "ReplayRow",
    "RuleRow",
    "TargetRow",
]

DEFAULT_BUS: Final = "default"


@dataclass(frozen=True, slots=True)
class BusRow:
    name: str
    arn: str
    description: str


@dataclass(frozen=True, slots=True)
class BusSettings:
    """A bus's key and dead-letter queue (decision 0213), as DescribeEventBus tells them."""

    kms_key: str  # "": EventBridge's own key
    dead_letter_arn: str  # "": none
    description: str


@dataclass(frozen=True, slots=True)
class RuleRow:
    name: str
    arn: str
    bus: str
    state: str
    pattern: str
    schedule: str
    description: str
    role_arn: str = ""  # kept by an edit: PutRule replaces the whole rule
    managed_by: str = ""  # decision 0341: the service a managed rule is AWS's ManagedBy of


@dataclass(frozen=True, slots=True)
class TargetRow:
    id: str
    arn: str
    input: str  # the constant JSON sent instead of the event, "" for the event as is
    role_arn: str = ""  # the role EventBridge invokes an API destination as
    message_group: str = ""  # a FIFO queue's MessageGroupId (SqsParameters)


@dataclass(frozen=True, slots=True)
class ArchiveRow:
    name: str
    source_arn: str  # the bus it records
    state: str
    retention_days: int  # 0: kept forever
    event_count: int

    @property
    def bus(self) -> str:
        return self.source_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class ReplayRow:
    name: str
    archive: str
    state: str
    start: str  # the window replayed, UTC
    end: str


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    """A connection as ListConnections tells it: never its credentials."""

    name: str
    arn: str
    auth_type: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class DestinationRow:
    name: str
    connection: str
    endpoint: str
    method: str
    rate: int  # invocations a second, 0: not limited
    state: str
    arn: str = ""


def _connection_name(arn: str) -> str:
    """A connection's name from its ARN (``…:connection/NAME/UUID``)."""
    return arn.split(":connection/", 1)[-1].split("/", 1)[0]


def _given(members: dict[str, Any]) -> dict[str, Any]:
    """The members that have a value: an empty one (``""`` or None) is not sent, and
    EventBridge keeps (an update) or defaults (a creation) what is not sent."""
    return {member: value for member, value in members.items() if value not in ("", None)}


def _rule(item: dict[str, Any]) -> RuleRow:
    return RuleRow(
        name=str(item.get("Name", "")),
        arn=str(item.get("Arn", "")),
        bus=str(item.get("EventBusName") or DEFAULT_BUS),
        state=str(item.get("State", "")),
        pattern=str(item.get("EventPattern") or ""),
        schedule=str(item.get("ScheduleExpression") or ""),
        description=str(item.get("Description") or ""),
        role_arn=str(item.get("RoleArn") or ""),
        managed_by=str(item.get("ManagedBy") or ""),
    )


def _destination(name: str, endpoint: str, method: str, rate: int | None) -> dict[str, Any]:
    """What CreateApiDestination and UpdateApiDestination both send (a rate of None: not
    sent, EventBridge's default or the destination's own kept)."""
    return {
        "Name": name,
        "InvocationEndpoint": endpoint,
        "HttpMethod": method,
        **_given({"InvocationRateLimitPerSecond": rate}),
    }


class EventsWire(JsonWire):
    """The bus and rule calls the console makes (``AWSEvents`` JSON 1.1), as ``principal``."""

    target_prefix = "AWSEvents."
    content_type = "application/x-amz-json-1.1"
    internal_error = "InternalException"

    async def buses(self, origin: Scope, principal: Principal, *, limit: int) -> list[BusRow]:
        """The account's buses (ListEventBuses, its first ``limit``), the default one first."""
        answer = await self._json(origin, principal, "ListEventBuses", {"Limit": limit})
        rows = [
            BusRow(str(b.get("Name", "")), str(b.get("Arn", "")), str(b.get("Description") or ""))
            for b in listed_objects(answer, "EventBuses")
        ]
        return sorted(rows, key=lambda row: (row.name != DEFAULT_BUS, row.name))

    async def create_bus(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        description: str,
        *,
        kms_key: str = "",
        dead_letter_arn: str = "",
    ) -> None:
        """CreateEventBus, under ``kms_key`` and with ``dead_letter_arn`` when given
        (decision 0213: EventBridge checks the key is open to it, the queue the account's)."""
        payload = {
            "Name": name,
            **_given({"Description": description, "KmsKeyIdentifier": kms_key}),
            **({"DeadLetterConfig": {"Arn": dead_letter_arn}} if dead_letter_arn else {}),
        }
        await self._json(origin, principal, "CreateEventBus", payload)

    async def bus_settings(self, origin: Scope, principal: Principal, name: str) -> BusSettings:
        answer = await self._json(origin, principal, "DescribeEventBus", {"Name": name})
        letters = answer.get("DeadLetterConfig")
        return BusSettings(
            str(answer.get("KmsKeyIdentifier") or ""),
            str(letters.get("Arn") or "") if isinstance(letters, dict) else "",
            str(answer.get("Description") or ""),
        )

    async def update_bus(
        self, origin: Scope, principal: Principal, name: str, kms_key: str, dead_letter_arn: str
    ) -> None:
        """UpdateEventBus: the key and the queue replaced by those given (neither: EventBridge's
        own key and no queue, AWS's meaning); the description kept (not sent)."""
        payload: dict[str, Any] = {"Name": name, **_given({"KmsKeyIdentifier": kms_key})}
        if dead_letter_arn:
            payload["DeadLetterConfig"] = {"Arn": dead_letter_arn}
        await self._json(origin, principal, "UpdateEventBus", payload)

    async def delete_bus(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteEventBus", {"Name": name})

    async def rules(
        self, origin: Scope, principal: Principal, bus: str, *, limit: int, token: str | None
    ) -> tuple[list[RuleRow], str | None]:
        """One page of the bus's rules (ListRules)."""
        payload: dict[str, Any] = {"EventBusName": bus, "Limit": limit}
        if token:
            payload["NextToken"] = token
        answer = await self._json(origin, principal, "ListRules", payload)
        rows = [_rule(r) for r in listed_objects(answer, "Rules")]
        following = answer.get("NextToken")
        return rows, str(following) if following else None

    async def rule(self, origin: Scope, principal: Principal, bus: str, name: str) -> RuleRow:
        payload = {"EventBusName": bus, "Name": name}
        return _rule(await self._json(origin, principal, "DescribeRule", payload))

    async def put_rule(
        self,
        origin: Scope,
        principal: Principal,
        bus: str,
        name: str,
        *,
        pattern: str,
        schedule: str,
        description: str,
        enabled: bool,
        role_arn: str = "",
    ) -> None:
        """PutRule (a rule made, or an existing one replaced whole: an edit gives its role
        again); an empty pattern, schedule, description or role is not sent (EventBridge then
        refuses a rule with neither pattern nor schedule in its words)."""
        payload = {
            "EventBusName": bus,
            "Name": name,
            "State": "ENABLED" if enabled else "DISABLED",
            **_given(
                {
                    "EventPattern": pattern,
                    "ScheduleExpression": schedule,
                    "Description": description,
                    "RoleArn": role_arn,
                }
            ),
        }
        await self._json(origin, principal, "PutRule", payload)

    async def set_enabled(
        self, origin: Scope, principal: Principal, bus: str, name: str, enabled: bool
    ) -> None:
        action = "EnableRule" if enabled else "DisableRule"
        await self._json(origin, principal, action, {"EventBusName": bus, "Name": name})

    async def delete_rule(self, origin: Scope, principal: Principal, bus: str, name: str) -> None:
        await self._json(origin, principal, "DeleteRule", {"EventBusName": bus, "Name": name})

    async def targets(
        self, origin: Scope, principal: Principal, bus: str, rule: str
    ) -> list[TargetRow]:
        """The rule's targets (ListTargetsByRule, its first 100)."""
        payload = {"EventBusName": bus, "Rule": rule, "Limit": 100}
        answer = await self._json(origin, principal, "ListTargetsByRule", payload)
        return [
            TargetRow(
                str(t.get("Id", "")),
                str(t.get("Arn", "")),
                # A transformer's template shown as the input (an archive rule's, 0341).
                str(t.get("Input") or (t.get("InputTransformer") or {}).get("InputTemplate") or ""),
                str(t.get("RoleArn") or ""),
                str((t.get("SqsParameters") or {}).get("MessageGroupId") or ""),
            )
            for t in listed_objects(answer, "Targets")
        ]

    async def put_target(
        self,
        origin: Scope,
        principal: Principal,
        bus: str,
        rule: str,
        target: TargetRow,
    ) -> None:
        """PutTargets of one target: the event as is, or ``target.input`` when given; as its
        role when given (an API destination's); in its message group when given (a FIFO
        queue's)."""
        group = {"MessageGroupId": target.message_group} if target.message_group else None
        spec = {
            "Id": target.id,
            "Arn": target.arn,
            **_given({"Input": target.input, "RoleArn": target.role_arn, "SqsParameters": group}),
        }
        payload = {"EventBusName": bus, "Rule": rule, "Targets": [spec]}
        await self._json(origin, principal, "PutTargets", payload)

    async def remove_target(
        self, origin: Scope, principal: Principal, bus: str, rule: str, target_id: str
    ) -> None:
        payload = {"EventBusName": bus, "Rule": rule, "Ids": [target_id]}
        await self._json(origin, principal, "RemoveTargets", payload)

    async def test_pattern(
        self, origin: Scope, principal: Principal, pattern: str, event: str
    ) -> bool:
        """TestEventPattern: whether ``event`` (JSON) matches ``pattern``."""
        payload = {"EventPattern": pattern, "Event": event}
        answer = await self._json(origin, principal, "TestEventPattern", payload)
        return answer.get("Result") is True

    # Archives and replays (decision 0196), connections and API destinations (decision 0200).

    async def archives(
        self, origin: Scope, principal: Principal, *, limit: int
    ) -> list[ArchiveRow]:
        """The account's archives (ListArchives, its first ``limit``)."""
        answer = await self._json(origin, principal, "ListArchives", {"Limit": limit})
        return [
            ArchiveRow(
                name=str(a.get("ArchiveName", "")),
                source_arn=str(a.get("EventSourceArn", "")),
                state=str(a.get("State", "")),
                retention_days=int(a.get("RetentionDays") or 0),
                event_count=int(a.get("EventCount") or 0),
            )
            for a in listed_objects(answer, "Archives")
        ]

    async def create_archive(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        source_arn: str,
        *,
        pattern: str,
        retention_days: int | None,
        kms_key: str = "",
    ) -> None:
        """CreateArchive; no pattern archives every event, no retention keeps them forever,
        no key (``KmsKeyIdentifier``, decision 0204) leaves them under EventBridge's own."""
        optional = {
            "EventPattern": pattern,
            "RetentionDays": retention_days,
            "KmsKeyIdentifier": kms_key,
        }
        payload = {"ArchiveName": name, "EventSourceArn": source_arn, **_given(optional)}
        await self._json(origin, principal, "CreateArchive", payload)

    async def archive_source(
        self, origin: Scope, principal: Principal, name: str
    ) -> tuple[str, str]:
        """An archive's ARN and the bus it records (DescribeArchive)."""
        answer = await self._json(origin, principal, "DescribeArchive", {"ArchiveName": name})
        return str(answer.get("ArchiveArn", "")), str(answer.get("EventSourceArn", ""))

    async def archive_settings(
        self, origin: Scope, principal: Principal, name: str
    ) -> tuple[str, str, str]:
        """An archive's description, event pattern and customer key (``KmsKeyIdentifier``,
        "" for none) as DescribeArchive answers them, for its edit form and its row."""
        answer = await self._json(origin, principal, "DescribeArchive", {"ArchiveName": name})
        return (
            str(answer.get("Description") or ""),
            str(answer.get("EventPattern") or ""),
            str(answer.get("KmsKeyIdentifier") or ""),
        )

    async def update_archive(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        description: str,
        pattern: str,
        retention_days: int,
        kms_key: str = "",
    ) -> None:
        """UpdateArchive: the description and retention (0: forever) as given, the pattern
        and the key when given (empty ones are not sent: EventBridge keeps the archive's)."""
        payload = {
            "ArchiveName": name,
            "Description": description,
            "RetentionDays": retention_days,
            **_given({"EventPattern": pattern, "KmsKeyIdentifier": kms_key}),
        }
        await self._json(origin, principal, "UpdateArchive", payload)

    async def delete_archive(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteArchive", {"ArchiveName": name})

    async def replays(self, origin: Scope, principal: Principal, *, limit: int) -> list[ReplayRow]:
        """The account's replays (ListReplays, its first ``limit``), with their state."""
        answer = await self._json(origin, principal, "ListReplays", {"Limit": limit})
        return [
            ReplayRow(
                name=str(r.get("ReplayName", "")),
                archive=str(r.get("EventSourceArn", "")).rsplit("/", 1)[-1],
                state=str(r.get("State", "")),
                start=minute_text(r.get("EventStartTime")),
                end=minute_text(r.get("EventEndTime")),
            )
            for r in listed_objects(answer, "Replays")
        ]

    async def start_replay(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        archive_arn: str,
        bus_arn: str,
        window: tuple[datetime, datetime],
    ) -> None:
        """StartReplay of ``window`` from the archive to ``bus_arn``."""
        payload = {
            "ReplayName": name,
            "EventSourceArn": archive_arn,
            "EventStartTime": window[0].timestamp(),
            "EventEndTime": window[1].timestamp(),
            "Destination": {"Arn": bus_arn},
        }
        await self._json(origin, principal, "StartReplay", payload)

    async def cancel_replay(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "CancelReplay", {"ReplayName": name})

    async def connections(
        self, origin: Scope, principal: Principal, *, limit: int
    ) -> list[ConnectionRow]:
        """The account's connections (ListConnections: no credentials in its answer)."""
        answer = await self._json(origin, principal, "ListConnections", {"Limit": limit})
        return [
            ConnectionRow(
                name=str(c.get("Name", "")),
                arn=str(c.get("ConnectionArn", "")),
                auth_type=str(c.get("AuthorizationType", "")),
                state=str(c.get("ConnectionState", "")),
                reason=str(c.get("StateReason") or ""),
            )
            for c in listed_objects(answer, "Connections")
        ]

    async def create_connection(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        auth_type: str,
        credentials: tuple[str, str],
        description: str,
        kms_key: str = "",
    ) -> None:
        """CreateConnection: BASIC's user name and password, or API_KEY's header name and
        value (``credentials``); any other type sent as typed, for EventBridge to refuse.
        A ``kms_key`` puts the connection's secret under that customer key (decision 0204)."""
        first, second = credentials
        params: dict[str, Any] = (
            {"BasicAuthParameters": {"Username": first, "Password": second}}
            if auth_type == "BASIC"
            else {"ApiKeyAuthParameters": {"ApiKeyName": first, "ApiKeyValue": second}}
        )
        payload = {
            "Name": name,
            "AuthorizationType": auth_type,
            "AuthParameters": params,
            **_given({"Description": description, "KmsKeyIdentifier": kms_key}),
        }
        await self._json(origin, principal, "CreateConnection", payload)

    async def connection_secret(
        self, origin: Scope, principal: Principal, name: str
    ) -> tuple[str, str]:
        """The ARN of the Secrets Manager secret holding a connection's credentials and the
        customer key it is under ("" for the account's default), as DescribeConnection
        answers them (decision 0204; ListConnections answers neither)."""
        answer = await self._json(origin, principal, "DescribeConnection", {"Name": name})
        return str(answer.get("SecretArn") or ""), str(answer.get("KmsKeyIdentifier") or "")

    async def update_connection(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        auth_type: str,
        credentials: tuple[str, str],
        description: str,
    ) -> None:
        """UpdateConnection of the connection's own authorization type: only the credentials
        typed are sent (EventBridge keeps the others), the description when typed; nothing
        typed at all still sends the name (EventBridge answers)."""
        names = ("Username", "Password") if auth_type == "BASIC" else ("ApiKeyName", "ApiKeyValue")
        given = _given(dict(zip(names, credentials, strict=True)))
        member = "BasicAuthParameters" if auth_type == "BASIC" else "ApiKeyAuthParameters"
        auth = {member: given} if given else None
        payload = {"Name": name, **_given({"AuthParameters": auth, "Description": description})}
        await self._json(origin, principal, "UpdateConnection", payload)

    async def delete_connection(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteConnection", {"Name": name})

    async def deauthorize_connection(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeauthorizeConnection", {"Name": name})

    async def api_destinations(
        self, origin: Scope, principal: Principal, *, limit: int
    ) -> list[DestinationRow]:
        """The account's API destinations (ListApiDestinations)."""
        answer = await self._json(origin, principal, "ListApiDestinations", {"Limit": limit})
        return [
            DestinationRow(
                name=str(d.get("Name", "")),
                connection=_connection_name(str(d.get("ConnectionArn", ""))),
                endpoint=str(d.get("InvocationEndpoint", "")),
                method=str(d.get("HttpMethod", "")),
                rate=int(d.get("InvocationRateLimitPerSecond") or 0),
                state=str(d.get("ApiDestinationState", "")),
                arn=str(d.get("ApiDestinationArn", "")),
            )
            for d in listed_objects(answer, "ApiDestinations")
        ]

    async def create_api_destination(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        connection_arn: str,
        endpoint: str,
        method: str,
        rate: int | None,
    ) -> None:
        payload = {"ConnectionArn": connection_arn, **_destination(name, endpoint, method, rate)}
        await self._json(origin, principal, "CreateApiDestination", payload)

    async def update_api_destination(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        endpoint: str,
        method: str,
        rate: int | None,
    ) -> None:
        """UpdateApiDestination of its endpoint, method and rate (None: not sent, kept)."""
        payload = _destination(name, endpoint, method, rate)
        await self._json(origin, principal, "UpdateApiDestination", payload)

    async def delete_api_destination(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteApiDestination", {"Name": name})
