"""A topic's data protection policy at work (decision 0215) on each Publish (inbound: denied,
de-identified, audited) and each delivery (outbound: denied or de-identified for its
subscriber), for ``notifications.pubsub``.

A ``json`` message structure has each protocol's message protected on its own. Audit
reports go to the tenant's vended Logs group through :class:`FindingsLogs` (``wiring``); a
report that cannot be written is logged by the platform and never fails the Publish: audit
is an observer, as on AWS; so is a report put into a Firehose findings destination (decision
0226: one record, newline-terminated, into the topic's account's stream, through
``streams``). Each audited message also counts in the topic owner's ``AWS/SNS``
``MessagesWithFindings`` or ``MessagesWithNoFindings`` (Count, dimension ``TopicName``), as
SNS gives them to an audit with a findings destination.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final, Protocol

from andromede.notifications.errors import MessageDenied
from andromede.notifications.message_protection import (
    FindingsLogs,
    MessagePolicy,
    deidentify,
    denied,
    findings_report,
    policy_of,
)
from andromede.notifications.model import Topic
from andromede.notifications.streams import SubscriberStreams, record_of
from andromede.notifications.subscriptions import Subscription

__all__ = ["Caller", "MessageGuard", "MetricRecorder"]

NAMESPACE: Final = "AWS/SNS"

log = logging.getLogger(__name__)

# (principal ARN, account) of a publisher.
Caller = tuple[str | None, str]


def _each_text(message: str, structure: str | None, change: Callable[[str], str]) -> str:
    if structure != "json":
        return change(message)
    parsed = json.loads(message)
    return json.dumps({k: change(v) if isinstance(v, str) else v for k, v in parsed.items()})


class MetricRecorder(Protocol):
    def record(
        self,
        tenant_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        value: float,
        unit: str = "None",
    ) -> None:
        """One datum into the tenant's metrics (the platform's buffered sink)."""


class MessageGuard:
    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        draw: Callable[[], float] = random.random,
    ) -> None:
        """``findings``: where audit reports are written, ``metrics``: where the audit's
        metrics are counted (both settable by the wiring); None: not written (the rest of
        the policy applies)."""
        self.findings: FindingsLogs | None = None
        self.streams: SubscriberStreams | None = None  # Firehose destinations (0226)
        self.metrics: MetricRecorder | None = None
        self._clock = clock
        self._draw = draw

    def inbound(self, topic: Topic, message: str, structure: str | None, caller: Caller) -> str:
        """The message as the topic takes it from ``caller``: MessageDenied when a Deny
        statement finds a term in it, its terms masked or redacted by Deidentify ones."""
        policy = policy_of(topic.attributes)
        if policy is None:
            return message
        arn, account = caller
        refusals = policy.of("Inbound", "Deny")

        def checked(text: str) -> str:
            refusal = denied(refusals, text, arn, account)
            if refusal is not None:
                raise refusal
            return deidentify(policy.of("Inbound", "Deidentify"), text, arn, account)

        return _each_text(message, structure, checked)

    def from_platform(self, topic: Topic, message: str) -> str | None:
        """A message the platform publishes itself (an S3 event, an Auto Scaling
        notification) as the topic takes it, judged as a publish of the topic's account with
        no principal of its own (as an alarm's Publish is); None: an inbound Deny refuses it,
        so it reaches no subscriber, as the service's Publish would have been refused."""
        try:
            return self.inbound(topic, message, None, (None, topic.tenant_id))
        except MessageDenied:
            log.info("platform message for %s refused by its data protection policy", topic.arn)
            return None

    def outbound(self, topic: Topic, subscription: Subscription, text: str) -> str | None:
        """What ``subscription`` receives of ``text``; None: a Deny statement keeps it from
        its subscriber (the principal that subscribed, in the subscription's account)."""
        policy = policy_of(topic.attributes)
        if policy is None:
            return text
        principal, account = subscription.principal, subscription.owner
        if denied(policy.of("Outbound", "Deny"), text, principal, account) is not None:
            return None
        return deidentify(policy.of("Outbound", "Deidentify"), text, principal, account)

    async def audit(
        self, topic: Topic, message: str, structure: str | None, caller: Caller, message_id: str
    ) -> None:
        """The audit report of a published message, if the policy audits and it is sampled."""
        policy: MessagePolicy | None = policy_of(topic.attributes)
        statement = None if policy is None else policy.audit
        if statement is None:
            return
        arn, account = caller
        if not statement.applies_to(arn, account):
            return
        if self._draw() * 100 >= statement.sample_rate:
            return
        texts: list[str] = []

        def seen(text: str) -> str:
            texts.append(text)
            return text

        _each_text(message, structure, seen)
        found = [f for t in texts for f in statement.detector.find(t)]
        if self.metrics is not None:
            name = "MessagesWithFindings" if found else "MessagesWithNoFindings"
            self.metrics.record(
                topic.tenant_id, NAMESPACE, name, [("TopicName", topic.name)], 1, "Count"
            )
        group = statement.findings_group if found else statement.no_findings_group
        stream = statement.findings_stream if found else statement.no_findings_stream
        if (group is None or self.findings is None) and (stream is None or self.streams is None):
            return
        now = self._clock()
        report = findings_report(
            found,
            message_id=message_id,
            caller=arn,
            resource_arn=topic.arn,
            timestamp=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        text = json.dumps(report, separators=(",", ":"))
        try:
            if group is not None and self.findings is not None:
                await self.findings.write(
                    topic.tenant_id, group, topic.name, (int(now.timestamp() * 1000), text)
                )
            if stream is not None and self.streams is not None:
                arn = f"arn:aws:firehose:{topic.region}:{topic.tenant_id}:deliverystream/{stream}"
                await self.streams.put(topic.tenant_id, arn, None, record_of(text))
        except Exception:
            log.warning("sns audit findings of %s not written", topic.arn, exc_info=True)
