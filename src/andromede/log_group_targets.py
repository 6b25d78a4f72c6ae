"""CloudWatch Logs log groups as targets (decision 0277), where the events, pipes, IAM and
logs contexts meet: EventBridge's rule targets (:class:`EventLogTargets`, the
``events.dispatcher.LogSink``) and the pipes' log group targets (:func:`pipe_log_event`, written
by ``pipe_targets`` as the pipe's role), both through :class:`LogTargetWriter`.

**A rule's target** is written by EventBridge itself, never as a role (AWS ignores one): the
account's CloudWatch Logs resource policies (PutResourcePolicy) must let
``events.amazonaws.com`` — or ``delivery.logs.amazonaws.com``, which AWS's console policy names
beside it — do ``logs:CreateLogStream`` and ``logs:PutLogEvents`` on the stream's ARN
(``…:log-group:<name>:log-stream:<stream>``, which AWS's ``log-group:/aws/events/*:*``
resources match), ``aws:SourceArn`` the rule's ARN and ``aws:SourceAccount`` its account; an
explicit ``Deny`` in any of them wins. Else the delivery is ``NO_PERMISSIONS``, sent to the
dead-letter queue at once as for a queue whose policy does not let EventBridge in. Each event
is one log event in a stream named after the event's id (made when missing, as AWS's log
target does: one stream an event): the whole event as its message and its ``time`` as its
timestamp, or, for a target with an ``InputTransformer``, the ``timestamp`` (an ISO 8601 time or
milliseconds since the epoch) and ``message`` (a string; other JSON as compact JSON) of the
rendered ``{"timestamp": …, "message": …}``.

**A pipe's target** is written as the pipe's role, which must be allowed both actions on the
stream; the stream is ``CloudWatchLogsParameters.LogStreamName`` (default: the pipe's name),
the timestamp the value at ``CloudWatchLogsParameters.Timestamp`` (milliseconds since the epoch,
or an ISO 8601 time) of the payload when it is a JSON object (else of the event), without it
the time the pipe processes the event.

The write goes through the Logs service's put path, so the group's KMS key seals the event,
its data protection policy masks and audits it, its metric and subscription filters see it,
and an event its retention or AWS's age window rejects is ``INVALID_PARAMETER``. The bytes
ingested are metered into the group's account (each message and 26 bytes, by log class), as
``role_log_groups`` meters vended logs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from andromede.events.dispatcher import DeliveryDeferred, DeliveryRefused
from andromede.events.model import Target, parse_arn
from andromede.events.transform import is_missing, read_path
from andromede.iam.policy.context import PrincipalType, RequestContext
from andromede.iam.policy.document import PolicyKind, load_policy
from andromede.iam.policy.errors import MalformedPolicy
from andromede.iam.policy.evaluate import Outcome, evaluate
from andromede.logs import errors as logs_errors
from andromede.logs.log_classes import ingestion_meter
from andromede.logs.model import InputEvent, stream_arn
from andromede.logs.resource_policies import ResourcePolicy
from andromede.logs.service import LogsService

__all__ = [
    "LOG_TARGET_PRINCIPALS",
    "EventLogTargets",
    "LogTargetWriter",
    "account_policies",
    "event_log_event",
    "log_group_name",
    "pipe_log_event",
    "services_allowed",
]

LOG_TARGET_PRINCIPALS: Final = ("events.amazonaws.com", "delivery.logs.amazonaws.com")
_ACTIONS: Final = ("logs:CreateLogStream", "logs:PutLogEvents")
# What PutLogEvents counts per event beside its message (AWS's batch size rule).
_EVENT_OVERHEAD: Final = 26


def log_group_name(arn: str, tenant_id: str, region: str) -> str | None:
    """The name of the tenant's log group ``arn`` names (with or without its ``:*``)."""
    parts = parse_arn(arn)
    if parts is None or parts[0] != "logs" or parts[1] != region or parts[2] != tenant_id:
        return None
    resource = parts[3]
    if not resource.startswith("log-group:"):
        return None
    name = resource.removeprefix("log-group:").removesuffix(":*")
    return name or None


def _milliseconds(value: Any) -> int | None:
    """A timestamp as milliseconds since the epoch: an ISO 8601 time or a number of them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
        return int(moment.timestamp() * 1000)
    return None


def event_log_event(message: str, event: dict[str, Any], transformed: bool) -> InputEvent:
    """The log event a rule's target writes: the rendered input with the event's time, or
    the ``{"timestamp", "message"}`` an ``InputTransformer`` rendered."""
    if not transformed:
        stamp = _milliseconds(event.get("time"))
        if stamp is None:
            raise DeliveryRefused("INVALID_PARAMETER", "the event has no valid time")
        return InputEvent(stamp, message)
    try:
        rendered = json.loads(message)
    except ValueError:
        rendered = None
    if not isinstance(rendered, dict) or set(rendered) != {"timestamp", "message"}:
        raise DeliveryRefused(
            "INVALID_PARAMETER",
            'the input is not {"timestamp": <timestamp>, "message": <message>}',
        )
    stamp = _milliseconds(rendered["timestamp"])
    if stamp is None:
        raise DeliveryRefused("INVALID_PARAMETER", "the input's timestamp is not a time")
    text = rendered["message"]
    if text is None:
        raise DeliveryRefused("INVALID_PARAMETER", "the input's message is null")
    if not isinstance(text, str):
        text = json.dumps(text, separators=(",", ":"))
    return InputEvent(stamp, text)


def pipe_log_event(
    params: dict[str, Any], payload: str, event: dict[str, Any], now_ms: int
) -> InputEvent:
    """A pipe's log event: its payload, timestamped from ``CloudWatchLogsParameters``'
    ``Timestamp`` path into ``event`` (the payload's object, or the source's event), else
    ``now_ms``."""
    path = params.get("Timestamp")
    if not isinstance(path, str):
        return InputEvent(now_ms, payload)
    found = read_path(event, path)
    stamp = None if is_missing(found) else _milliseconds(found)
    if stamp is None:
        raise DeliveryRefused(
            "INVALID_PARAMETER", f"the event has no timestamp in milliseconds at {path[:256]}"
        )
    return InputEvent(stamp, payload)


class LogTargetWriter:
    """One log event into a group's stream through the Logs service (found when needed:
    ``serve`` makes it after EventBridge and Pipes), the stream made when missing."""

    def __init__(
        self,
        logs: Callable[[], LogsService | None],
        ingested: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self._logs = logs
        self._ingested = ingested

    def service(self) -> LogsService:
        logs = self._logs()
        if logs is None:
            raise DeliveryRefused("NO_RESOURCE", "CloudWatch Logs is not served here")
        return logs

    async def require_group(self, tenant_id: str, name: str) -> None:
        try:
            await self.service().group(tenant_id, name)
        except logs_errors.ResourceNotFound:
            raise DeliveryRefused(
                "NO_RESOURCE", f"the log group {name[:512]} does not exist"
            ) from None

    async def write(self, tenant_id: str, group: str, stream: str, event: InputEvent) -> None:
        logs = self.service()
        try:
            with contextlib.suppress(logs_errors.ResourceAlreadyExists):  # a retry's own
                await logs.create_stream(tenant_id, group, stream)
            batch = await logs.put_events(tenant_id, group, stream, [event])
        except logs_errors.ResourceNotFound as exc:  # the group deleted meanwhile
            raise DeliveryRefused("NO_RESOURCE", exc.message[:512]) from None
        except logs_errors.InvalidParameter as exc:  # too large: no try will do
            raise DeliveryRefused("INVALID_PARAMETER", exc.message[:512]) from None
        except logs_errors.LogsError as exc:  # its key refuses, for now
            raise DeliveryDeferred(
                "ERROR_FROM_TARGET", f"{type(exc).__name__}: {exc.message[:256]}"
            ) from None
        if not batch.accepted:
            reasons = ", ".join(sorted(batch.rejected_info())) or "rejected"
            raise DeliveryRefused("INVALID_PARAMETER", f"the log event was {reasons}")
        if self._ingested is not None:
            size = len(event.message.encode()) + _EVENT_OVERHEAD
            self._ingested(tenant_id, size, ingestion_meter(batch.log_class))


class EventLogTargets:
    """:class:`~andromede.events.dispatcher.LogSink`: a rule's event into a log group, as
    EventBridge, by the account's Logs resource policies."""

    def __init__(self, writer: LogTargetWriter, region: str) -> None:
        self._writer = writer
        self._region = region

    async def send(
        self, tenant_id: str, target: Target, message: str, event: dict[str, Any], rule_arn: str
    ) -> None:
        name = log_group_name(target.arn, tenant_id, self._region)
        if name is None:
            raise DeliveryRefused("NO_RESOURCE", f"{target.arn[:512]} is no log group here")
        log_event = event_log_event(message, event, target.input_transformer is not None)
        await self._writer.require_group(tenant_id, name)
        stream = str(event.get("id") or "").replace(":", "_").replace("*", "_")[:512]
        if not stream:
            raise DeliveryRefused("INVALID_PARAMETER", "the event has no id")
        resource = stream_arn(self._region, tenant_id, name, stream)
        policies = await self._policies(tenant_id)
        for action in _ACTIONS:
            if not _allowed(policies, action, resource, tenant_id, rule_arn, self._region):
                raise DeliveryRefused(
                    "NO_PERMISSIONS",
                    f"no resource policy of CloudWatch Logs lets {LOG_TARGET_PRINCIPALS[0]} "
                    f"{action} on {resource[:512]}",
                )
        await self._writer.write(tenant_id, name, stream, log_event)

    async def _policies(self, tenant_id: str) -> list[ResourcePolicy]:
        return await account_policies(self._writer.service(), tenant_id)


async def account_policies(logs: LogsService, tenant_id: str) -> list[ResourcePolicy]:
    """Every CloudWatch Logs resource policy of the account."""
    found: list[ResourcePolicy] = []
    token: str | None = None
    while True:
        page, token = await logs.describe_resource_policies(tenant_id, 50, token)
        found += page
        if token is None:
            return found


def _allowed(
    policies: list[ResourcePolicy],
    action: str,
    resource: str,
    tenant_id: str,
    rule_arn: str,
    region: str,
) -> bool:
    return services_allowed(
        policies, action, resource, tenant_id, rule_arn, region, LOG_TARGET_PRINCIPALS
    )


def services_allowed(
    policies: list[ResourcePolicy],
    action: str,
    resource: str,
    tenant_id: str,
    source_arn: str,
    region: str,
    principals: tuple[str, ...],
) -> bool:
    """Whether the account's policies, as one, let the service in (EventBridge or Logs'
    delivery; Route 53's query logs, decision 0305): their statements merged, so that a
    ``Deny`` of any, for any of ``principals``, wins; a policy that does not parse as a
    policy counts for nothing (not even a denial), as ``iam.policy.service_grants`` treats
    one alone."""
    statements: list[Any] = []
    for policy in policies:
        if not _parses(policy.document):
            continue
        given = json.loads(policy.document).get("Statement")
        # Two policies may each have a statement of one Sid (AWS's console writes the same
        # one): merged, the Sids would clash, and they decide nothing.
        statements += [
            {k: v for k, v in s.items() if k != "Sid"} if isinstance(s, dict) else s
            for s in (given if isinstance(given, list) else [given])
        ]
    if not statements:
        return False
    merged = load_policy(
        json.dumps({"Version": "2012-10-17", "Statement": statements}), kind=PolicyKind.RESOURCE
    )
    outcomes = {
        evaluate(
            RequestContext(
                action=action,
                resource=resource,
                principal_type=PrincipalType.SERVICE,
                principal_arn=principal,
                secure_transport=True,
                requested_region=region,
                keys={"aws:SourceArn": source_arn, "aws:SourceAccount": tenant_id},
            ),
            resource_policy=merged,
            resource_account=tenant_id,
        ).outcome
        for principal in principals
    }
    return Outcome.ALLOW in outcomes and Outcome.EXPLICIT_DENY not in outcomes


def _parses(document: str) -> bool:
    try:
        load_policy(document, kind=PolicyKind.RESOURCE)
    except MalformedPolicy:
        return False
    return True
