"""EventBridge's actions (decision 0192): one handler per operation, each reading its JSON
parameters, authorising the resource it names (``events:<Action>`` on the bus's or the rule's
ARN, ``*`` for the lists and TestEventPattern), calling :class:`EventsService` and writing
EventBridge's answer. The table :data:`ACTIONS` is the served operations (the bus policies'
and UpdateEventBus are :mod:`.bus_actions`', the archives' and replays'
:mod:`.archive_actions`'); those of
EventBridge not served are :data:`NOT_SERVED`, answered ``UnsupportedOperation``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from andromede.events.archives import ArchiveService
from andromede.events.connection_secrets import ConnectionCaller
from andromede.events.connections import ConnectionService
from andromede.events.endpoints import EndpointService
from andromede.events.entries import entry_size
from andromede.events.errors import EventsError
from andromede.events.model import DEFAULT_BUS, EventBus, Rule, RuleState, bus_arn, parse_arn
from andromede.events.service import EntryResult, EventsService
from andromede.eventsapi.errors import EventsWireError
from andromede.eventsapi.put_events_access import BusJudge, entry_refusals
from andromede.iam.policy.context import ContextValue

__all__ = [
    "ACTIONS",
    "DETAIL_KEYS",
    "NOT_SERVED",
    "Authorise",
    "CallJudge",
    "EventsCall",
    "JudgeBus",
    "allow_key",
    "bus_config",
    "bus_config_shape",
    "tag_list",
    "tags_of",
]


class Authorise(Protocol):
    async def __call__(
        self,
        action: str,
        resource: str,
        *,
        policy: str | None = None,
        owner: str | None = None,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """AccessDeniedException unless the caller may do ``action`` on ``resource``, its
        identity policies or ``policy`` (the resource policy of ``owner``'s bus) allowing;
        ``keys``: the request's own condition keys (PutEvents' ``events:source``…)."""
        ...


class CallJudge(BusJudge, Protocol):
    def refusal(self) -> EventsWireError:
        """The call's AccessDeniedException, in AWS's words, for what it judges."""
        ...


class JudgeBus(Protocol):
    async def __call__(
        self, action: str, resource: str, *, policy: str | None = None, owner: str | None = None
    ) -> CallJudge:
        """The caller's policies and ``policy`` (the resource policy of ``owner``'s bus) for
        ``action`` on ``resource``, loaded once to be judged with several sets of keys
        (PutEvents' entries, decision 0318)."""
        ...


@dataclass(slots=True)
class EventsCall:
    params: dict[str, Any]
    tenant_id: str
    events: EventsService
    authorise: Authorise
    judge: JudgeBus
    list_page: int
    max_policy_size: int = 10240
    # The archives and replays (decision 0196); None where they are not served.
    archives: ArchiveService | None = None
    # The connections and API destinations (decision 0200); None where not served.
    connections: ConnectionService | None = None
    # The global endpoints (decision 0355); None where not served.
    endpoints: EndpointService | None = None
    # Who calls, for the KMS keys used on the caller's behalf (decision 0204).
    caller: ConnectionCaller | None = None
    resources: list[str] = field(default_factory=list)
    # PutEvents' billed events: its entries taken, one per 64 KiB chunk begun.
    published: int = 0
    # The request's X-Amzn-Trace-Id: its events' lineage for their targets (decision 0351).
    trace_header: str | None = None

    async def allow(
        self,
        action: str,
        resource: str,
        *,
        policy: str | None = None,
        owner: str | None = None,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """``action`` on ``resource`` for the caller; a rule's calls carry AWS's
        ``events:creatorAccount`` (the account that made the rule: rules are made on the
        caller's own buses only, so it is the caller's) besides ``keys``, and a managed
        rule's its ``events:ManagedBy`` (decision 0332: absent for a user's rule)."""
        if resource not in self.resources:
            self.resources.append(resource)
        if ":rule/" in resource:
            keys = {"events:creatorAccount": self.tenant_id, **(keys or {})}
            managed = await self.events.managed_by(self.tenant_id, resource)
            if managed is not None:
                keys["events:ManagedBy"] = managed
        await self.authorise(f"events:{action}", resource, policy=policy, owner=owner, keys=keys)

    def bus_arn(self, bus: str, owner: str | None = None) -> str:
        return bus_arn(self.events.region, owner or self.tenant_id, bus)

    def text(self, name: str, *, required: bool = False, limit: int = 2048) -> str | None:
        value = self.params.get(name)
        if value is None:
            if required:
                raise EventsWireError(
                    "ValidationException",
                    f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' "
                    "failed to satisfy constraint: Member must not be null",
                )
            return None
        if not isinstance(value, str) or len(value) > limit:
            raise EventsWireError(
                "ValidationException", f"{name} must be a string of at most {limit} characters."
            )
        return value

    def flag(self, name: str) -> bool:
        """A boolean member (``Force``); absent: false."""
        value = self.params.get(name, False)
        if not isinstance(value, bool):
            raise EventsWireError("ValidationException", f"{name} must be a boolean.")
        return value

    def bus(self, member: str = "EventBusName") -> str:
        return self.events.bus_name(self.tenant_id, self.text(member, limit=1600))

    def page(self) -> tuple[str, int]:
        token = self.text("NextToken") or ""
        limit = self.params.get("Limit")
        if limit is None:
            return token, self.list_page
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            raise EventsWireError("ValidationException", "Limit must be between 1 and 100.")
        return token, min(limit, self.list_page)

    def rule_arn(self, bus: str, name: str) -> str:
        return Rule(self.tenant_id, self.events.region, bus, name).arn


def tags_of(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list) or len(value) > 50:
        raise EventsWireError("ValidationException", "Tags must be a list of at most 50 tags.")
    tags: dict[str, str] = {}
    for tag in value:
        key = tag.get("Key") if isinstance(tag, dict) else None
        text = tag.get("Value") if isinstance(tag, dict) else None
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise EventsWireError("ValidationException", "A tag's Key must be 1 to 128 characters.")
        if not isinstance(text, str) or len(text) > 256:
            raise EventsWireError(
                "ValidationException", "A tag's Value must be at most 256 characters."
            )
        tags[key] = text
    return tags


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _bus_shape(bus: EventBus) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "Name": bus.name,
        "Arn": bus.arn,
        "CreationTime": bus.created.timestamp(),
        "LastModifiedTime": bus.created.timestamp(),
    }
    if bus.description is not None:
        shape["Description"] = bus.description
    return shape


def bus_config(call: EventsCall) -> tuple[str | None, str | None]:
    """(KmsKeyIdentifier, DeadLetterConfig.Arn) of CreateEventBus or UpdateEventBus
    (decision 0213)."""
    key = call.text("KmsKeyIdentifier", limit=2048)
    given = call.params.get("DeadLetterConfig")
    if given is None:
        return key, None
    arn = given.get("Arn") if isinstance(given, dict) else None
    if arn is not None and (not isinstance(arn, str) or not 1 <= len(arn) <= 1600):
        raise EventsWireError(
            "ValidationException", "DeadLetterConfig.Arn must be 1 to 1600 characters."
        )
    if not isinstance(given, dict):
        raise EventsWireError("ValidationException", "DeadLetterConfig must be an object.")
    return key, arn


async def allow_key(call: EventsCall, bus: EventBus) -> None:
    """The caller must be allowed ``kms:DescribeKey`` on the bus's key, as AWS requires of
    whoever names a customer key for a bus (decision 0213)."""
    if bus.kms_key is not None:
        key_arn = await call.events.bus_key_arn(bus)
        call.resources.append(key_arn)
        await call.authorise("kms:DescribeKey", key_arn)


def bus_config_shape(bus: EventBus) -> dict[str, Any]:
    shape: dict[str, Any] = {}
    if bus.kms_key is not None:
        shape["KmsKeyIdentifier"] = bus.kms_key
    if bus.dead_letter_arn is not None:
        shape["DeadLetterConfig"] = {"Arn": bus.dead_letter_arn}
    return shape


def _rule_shape(rule: Rule) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "Name": rule.name,
        "Arn": rule.arn,
        "State": rule.state,
        "EventBusName": rule.bus_name,
    }
    for member, value in (
        ("EventPattern", rule.event_pattern),
        ("ScheduleExpression", rule.schedule),
        ("Description", rule.description),
        ("RoleArn", rule.role_arn),
        ("ManagedBy", rule.managed_by),  # decision 0332
    ):
        if value is not None:
            shape[member] = value
    return shape


async def create_event_bus(call: EventsCall) -> dict[str, Any]:
    name = call.text("Name", required=True, limit=256) or ""
    await call.allow("CreateEventBus", bus_arn(call.events.region, call.tenant_id, name))
    if call.params.get("EventSourceName") is not None:
        raise EventsWireError(
            "ValidationException",
            "EventSourceName is not supported here (decision 0192): the platform has no "
            "partner event sources.",
        )
    kms_key, dead_letter = bus_config(call)
    if kms_key is not None:
        wanted = EventBus(call.tenant_id, call.events.region, name, kms_key=kms_key)
        await allow_key(call, wanted)
    bus = await call.events.create_bus(
        call.tenant_id,
        name,
        description=call.text("Description", limit=512),
        tags=tags_of(call.params.get("Tags")),
        kms_key=kms_key,
        dead_letter_arn=dead_letter,
    )
    answer: dict[str, Any] = {"EventBusArn": bus.arn, **bus_config_shape(bus)}
    if bus.description is not None:
        answer["Description"] = bus.description
    return answer


async def describe_event_bus(call: EventsCall) -> dict[str, Any]:
    name = call.bus("Name")
    await call.allow("DescribeEventBus", bus_arn(call.events.region, call.tenant_id, name))
    bus = await call.events.describe_bus(call.tenant_id, name)
    shape = {**_bus_shape(bus), **bus_config_shape(bus)}
    policy = await call.events.bus_policy(call.tenant_id, name)
    if policy is not None:
        shape["Policy"] = policy
    return shape


async def delete_event_bus(call: EventsCall) -> dict[str, Any]:
    name = call.bus("Name")
    await call.allow("DeleteEventBus", bus_arn(call.events.region, call.tenant_id, name))
    await call.events.delete_bus(call.tenant_id, name)
    return {}


async def list_event_buses(call: EventsCall) -> dict[str, Any]:
    await call.allow("ListEventBuses", "*")
    prefix = call.text("NamePrefix", limit=256) or ""
    token, limit = call.page()
    found = await call.events.list_buses(call.tenant_id, prefix, token, limit + 1)
    answer: dict[str, Any] = {"EventBuses": [_bus_shape(bus) for bus in found[:limit]]}
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].name
    return answer


async def put_events(call: EventsCall) -> dict[str, Any]:
    started = time.monotonic()
    entries = call.params.get("Entries")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise EventsWireError("ValidationException", "Entries must be a list of entries.")
    buses: dict[tuple[str, str], dict[tuple[str, str], list[int]]] = {}
    for index, entry in enumerate(entries):
        try:
            place = call.events.bus_owner(call.tenant_id, entry.get("EventBusName") or None)
        except EventsError:
            continue  # the entry's own failure, answered in its place
        kinds = buses.setdefault(place, {})
        source, detail_type = entry.get("Source"), entry.get("DetailType")
        if isinstance(source, str) and isinstance(detail_type, str):
            kinds.setdefault((source, detail_type), []).append(index)
    refused: dict[int, EntryResult] = {}
    for (owner, bus), kinds in buses.items():
        # Another account's bus (named by ARN) opens only by its policy; the caller's own
        # bus may be opened by its policy too, as on AWS. Each entry is judged with its
        # source and detail type (decision 0273), one refused failing alone (decision 0318).
        policy = await call.events.bus_policy(owner, bus)
        arn = call.bus_arn(bus, owner)
        call.resources.append(arn)
        judge = await call.judge("events:PutEvents", arn, policy=policy, owner=owner)
        if not kinds:  # its entries lack a source or detail type: refused one by one
            if not await judge.allows({"events:eventBusInvocation": False}):
                raise judge.refusal()
            continue
        found = await entry_refusals(judge, sorted(kinds))
        if found is None:
            raise judge.refusal()
        for kind, refusal in found.items():
            for index in kinds[kind]:
                refused[index] = EntryResult(None, refusal.code, refusal.message)
    results = await call.events.put_events(
        call.tenant_id, entries, other_accounts=True, denied=refused, trace=call.trace_header
    )
    shaped: list[dict[str, str]] = []
    for result in results:
        if result.event_id is not None:
            shaped.append({"EventId": result.event_id})
        else:
            shaped.append(
                {"ErrorCode": result.error_code or "", "ErrorMessage": result.error_message or ""}
            )
    # Billed as AWS bills them: each entry taken, one per 64 KiB chunk of it begun.
    call.published = sum(
        max(1, -(-_entry_bytes(entry) // 65536))
        for entry, result in zip(entries, results, strict=True)
        if result.event_id is not None
    )
    failed = sum(1 for result in results if result.event_id is None)
    measure = call.events.measures
    if measure is not None:  # decision 0332: AWS/Events' PutEvents metrics, no dimension
        size = float(sum(entry_size(entry) for entry in entries))
        elapsed = (time.monotonic() - started) * 1000
        for name, value, unit in (
            ("PutEventsRequestSize", size, "Bytes"),
            ("PutEventsLatency", elapsed, "Milliseconds"),
            ("PutEventsEntriesCount", float(len(entries)), "Count"),
            ("PutEventsFailedEntries", float(failed), "Count"),
        ):
            measure(call.tenant_id, name, value, unit, None)
    return {"FailedEntryCount": failed, "Entries": shaped}


def _entry_bytes(entry: Mapping[str, Any]) -> int:
    return sum(len(str(entry.get(m) or "").encode()) for m in ("Source", "DetailType", "Detail"))


async def put_rule(call: EventsCall) -> dict[str, Any]:
    name = call.text("Name", required=True, limit=64) or ""
    bus = call.bus()
    pattern = call.text("EventPattern", limit=1 << 20)
    await call.allow("PutRule", call.rule_arn(bus, name), keys=_pattern_keys(pattern))
    rule = await call.events.put_rule(
        call.tenant_id,
        name,
        bus,
        event_pattern=pattern,
        schedule=call.text("ScheduleExpression", limit=256),
        state=call.text("State", limit=64),
        description=call.text("Description", limit=512),
        role_arn=call.text("RoleArn", limit=1600),
        tags=tags_of(call.params.get("Tags")),
    )
    return {"RuleArn": rule.arn}


# The ``events:detail.*`` keys AWS gives PutRule (its service authorisation reference): the
# CloudTrail events' caller, and AWS Health's service and event type code.
DETAIL_KEYS: Final = (
    ("userIdentity", "principalId"),
    ("service",),
    ("eventTypeCode",),
)


def _pattern_keys(pattern: str | None) -> dict[str, ContextValue]:
    """PutRule's ``events:source``, ``events:detail-type`` and ``events:detail.<path>`` of
    :data:`DETAIL_KEYS`: the values the event pattern matches there, so a policy may let a
    user make rules of some sources only, or of one principal's CloudTrail events (AWS's
    ``ForAllValues:StringEquals`` examples, with a ``Null`` condition: a pattern without such
    a field has no such key). A value that is a filter rather than a string
    (``{"prefix": "aws."}``) is given as its JSON text, which no list of granted values
    equals: a prefix cannot widen what the policy grants. A pattern that is not JSON gives
    none (the put refuses it)."""
    try:
        parsed = json.loads(pattern) if pattern else None
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    keys: dict[str, ContextValue] = {}
    fields = [(("source",), "events:source"), (("detail-type",), "events:detail-type")]
    fields += [(("detail", *path), "events:detail." + ".".join(path)) for path in DETAIL_KEYS]
    for path, key in fields:
        values = _pattern_values(parsed, path)
        if values:
            keys[key] = [
                v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values
            ]
    return keys


def _pattern_values(pattern: Mapping[str, Any], path: Sequence[str]) -> list[Any]:
    """The values a pattern lists at ``path`` (nested objects), or none."""
    found: Any = pattern
    for name in path:
        found = found.get(name) if isinstance(found, dict) else None
    return found if isinstance(found, list) else []


async def describe_rule(call: EventsCall) -> dict[str, Any]:
    name = call.text("Name", required=True, limit=64) or ""
    bus = call.bus()
    await call.allow("DescribeRule", call.rule_arn(bus, name))
    rule = await call.events.describe_rule(call.tenant_id, name, bus)
    return {**_rule_shape(rule), "CreatedBy": call.tenant_id}


async def list_rules(call: EventsCall) -> dict[str, Any]:
    await call.allow("ListRules", "*")
    bus = call.bus()
    prefix = call.text("NamePrefix", limit=64) or ""
    token, limit = call.page()
    found = await call.events.list_rules(call.tenant_id, bus, prefix, token, limit + 1)
    answer: dict[str, Any] = {"Rules": [_rule_shape(rule) for rule in found[:limit]]}
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].name
    return answer


async def delete_rule(call: EventsCall) -> dict[str, Any]:
    name = call.text("Name", required=True, limit=64) or ""
    bus = call.bus()
    await call.allow("DeleteRule", call.rule_arn(bus, name))
    await call.events.delete_rule(call.tenant_id, name, bus, force=call.flag("Force"))
    return {}


def _state_setter(action: str, state: str) -> Callable[[EventsCall], Awaitable[dict[str, Any]]]:
    async def handler(call: EventsCall) -> dict[str, Any]:
        name = call.text("Name", required=True, limit=64) or ""
        bus = call.bus()
        await call.allow(action, call.rule_arn(bus, name))
        await call.events.set_state(call.tenant_id, name, bus, state)
        return {}

    return handler


async def put_targets(call: EventsCall) -> dict[str, Any]:
    name = call.text("Rule", required=True, limit=64) or ""
    bus = call.bus()
    targets = call.params.get("Targets")
    if not isinstance(targets, list):
        raise EventsWireError("ValidationException", "Targets must be a list of targets.")
    # Judged once for each target's ARN (AWS's ``events:TargetArn``), so a user allowed some
    # targets only cannot slip another one in beside them.
    arns = sorted(
        {t["Arn"] for t in targets if isinstance(t, dict) and isinstance(t.get("Arn"), str)}
    )
    for arn in arns or [None]:
        keys = None if arn is None else {"events:TargetArn": arn[:1600]}
        await call.allow("PutTargets", call.rule_arn(bus, name), keys=keys)
    # As AWS: whoever makes EventBridge act as a role (an API destination's, a stream's:
    # decisions 0200, 0238) may pass it.
    roles = {t["RoleArn"] for t in targets if isinstance(t, dict) and "RoleArn" in t}
    for role in sorted(r for r in roles if isinstance(r, str)):
        await call.authorise("iam:PassRole", role[:1600])
    await call.events.put_targets(call.tenant_id, name, bus, targets)
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def remove_targets(call: EventsCall) -> dict[str, Any]:
    name = call.text("Rule", required=True, limit=64) or ""
    bus = call.bus()
    await call.allow("RemoveTargets", call.rule_arn(bus, name))
    ids = call.params.get("Ids")
    if not isinstance(ids, list) or not all(isinstance(one, str) for one in ids):
        raise EventsWireError("ValidationException", "Ids must be a list of target ids.")
    await call.events.remove_targets(call.tenant_id, name, bus, ids, force=call.flag("Force"))
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def list_targets_by_rule(call: EventsCall) -> dict[str, Any]:
    name = call.text("Rule", required=True, limit=64) or ""
    bus = call.bus()
    await call.allow("ListTargetsByRule", call.rule_arn(bus, name))
    token, limit = call.page()
    targets = [t for t in await call.events.list_targets(call.tenant_id, name, bus) if t.id > token]
    answer: dict[str, Any] = {"Targets": [t.spec for t in targets[:limit]]}
    if len(targets) > limit:
        answer["NextToken"] = targets[limit - 1].id
    return answer


async def list_rule_names_by_target(call: EventsCall) -> dict[str, Any]:
    await call.allow("ListRuleNamesByTarget", "*")
    arn = call.text("TargetArn", required=True, limit=1600) or ""
    bus = call.bus()
    token, limit = call.page()
    names = await call.events.rule_names_by_target(call.tenant_id, arn, bus, token, limit + 1)
    answer: dict[str, Any] = {"RuleNames": names[:limit]}
    if len(names) > limit:
        answer["NextToken"] = names[limit - 1]
    return answer


async def test_event_pattern(call: EventsCall) -> dict[str, Any]:
    await call.allow("TestEventPattern", "*")
    pattern = call.text("EventPattern", required=True, limit=1 << 20) or ""
    event = call.text("Event", required=True, limit=1 << 20) or ""
    return {"Result": call.events.test_event_pattern(pattern, event)}


def _resource_of(call: EventsCall, arn: str) -> tuple[str, str | None]:
    """(bus, rule name or None for the bus itself) of an ARN of the caller's account."""
    parts = parse_arn(arn)
    if parts is None or parts[0] != "events" or parts[2] != call.tenant_id:
        raise EventsWireError("ResourceNotFoundException", f"Resource {arn[:256]} does not exist.")
    resource = parts[3]
    if resource.startswith("event-bus/"):
        return call.events.bus_name(call.tenant_id, arn), None
    if not resource.startswith("rule/"):
        raise EventsWireError(
            "ValidationException", "Tags are served on buses and rules here (decision 0192)."
        )
    path = resource.removeprefix("rule/").split("/")
    return (DEFAULT_BUS, path[0]) if len(path) == 1 else (path[0], path[1])


async def list_tags_for_resource(call: EventsCall) -> dict[str, Any]:
    arn = call.text("ResourceARN", required=True, limit=1600) or ""
    await call.allow("ListTagsForResource", arn)
    bus, name = _resource_of(call, arn)
    if name is None:
        return {"Tags": tag_list((await call.events.describe_bus(call.tenant_id, bus)).tags)}
    return {"Tags": tag_list((await call.events.describe_rule(call.tenant_id, name, bus)).tags)}


async def tag_resource(call: EventsCall) -> dict[str, Any]:
    arn = call.text("ResourceARN", required=True, limit=1600) or ""
    await call.allow("TagResource", arn)
    bus, name = _resource_of(call, arn)
    tags = tags_of(call.params.get("Tags"))
    if name is None:
        await call.events.update_bus(call.tenant_id, bus, add_tags=tags)
    else:
        await call.events.tag_rule(call.tenant_id, name, bus, tags, [])
    return {}


async def untag_resource(call: EventsCall) -> dict[str, Any]:
    arn = call.text("ResourceARN", required=True, limit=1600) or ""
    await call.allow("UntagResource", arn)
    keys = call.params.get("TagKeys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise EventsWireError("ValidationException", "TagKeys must be a list of keys.")
    bus, name = _resource_of(call, arn)
    if name is None:
        await call.events.update_bus(call.tenant_id, bus, remove_tags=keys)
    else:
        await call.events.tag_rule(call.tenant_id, name, bus, {}, keys)
    return {}


ACTIONS: Final[dict[str, Callable[[EventsCall], Awaitable[dict[str, Any]]]]] = {
    "CreateEventBus": create_event_bus,
    "DescribeEventBus": describe_event_bus,
    "DeleteEventBus": delete_event_bus,
    "ListEventBuses": list_event_buses,
    "PutEvents": put_events,
    "PutRule": put_rule,
    "DescribeRule": describe_rule,
    "ListRules": list_rules,
    "DeleteRule": delete_rule,
    "EnableRule": _state_setter("EnableRule", RuleState.ENABLED),
    "DisableRule": _state_setter("DisableRule", RuleState.DISABLED),
    "PutTargets": put_targets,
    "RemoveTargets": remove_targets,
    "ListTargetsByRule": list_targets_by_rule,
    "ListRuleNamesByTarget": list_rule_names_by_target,
    "TestEventPattern": test_event_pattern,
    "ListTagsForResource": list_tags_for_resource,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
}

NOT_SERVED: Final = frozenset(
    {
        "CreatePartnerEventSource",
        "DescribePartnerEventSource",
        "ListPartnerEventSources",
        "ListPartnerEventSourceAccounts",
        "DeletePartnerEventSource",
        "PutPartnerEvents",
        "ActivateEventSource",
        "DeactivateEventSource",
        "DescribeEventSource",
        "ListEventSources",
    }
)
