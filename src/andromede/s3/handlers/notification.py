"""Get/PutBucketNotificationConfiguration: a bucket's event notifications (decision 0132),
whose ``TopicConfiguration`` rules name topics of the SNS-style API (``andromede.iamapi.sns``).
The events themselves are queued by the object store with the writes they tell of and pushed
by ``andromede.notifications.delivery``.

Checked as S3 checks it, in its words (all ``InvalidArgument`` unless said):
- an event type S3 does not have, or one not emitted here: "The event is not supported for
  notifications";
- a topic that is not an existing topic of the bucket's owner: "Unable to validate the
  following destination configurations";
- a filter rule other than ``prefix``/``suffix``: "filter rule name must be either prefix or
  suffix"; two of one kind: "Cannot specify more than one prefix (suffix) rule in a filter.";
- two rules sharing an event type whose filters some key matches both: "Configuration is
  ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are
  overlapping for the same event type.";
- a rule without ``Event`` or ``Topic``: ``MalformedXML``.

Ceph RGW's ``S3Metadata`` and ``S3Tags`` filters (increment 3) are taken beside ``S3Key``, in
RGW's XML; a ``Filter`` child none of the three: ``MalformedXML``. Checked here, RGW's own
parser taking them silently: a metadata name not ``x-amz-meta-*`` (it could never match), one
name twice in a filter (RGW keeps the first), a rule with them naming removal events (their
object's attributes are not known when a removal is queued: decision 0132) are
``InvalidArgument``; a rule ``Type`` other than ``IN`` (RGW's newer negative filters):
``NotImplemented``. RGW's ``regex`` key rule is refused as S3 refuses any other name.

``CloudFunctionConfiguration`` (decision 0293; boto3's ``LambdaFunctionConfigurations``) names
a Lambda function by its ARN in ``CloudFunction``: accepted when the function exists and its
resource-based policy lets ``s3.amazonaws.com`` ``lambda:InvokeFunction`` with the bucket as
``aws:SourceArn`` (and its owner as ``aws:SourceAccount``), else "Unable to validate the
following destination configurations", as S3 checks it; its rules are kept and checked with
the others', and no test event is sent to a function, as S3 sends none.

``EventBridgeConfiguration`` (decision 0192's session 48 addendum), an empty element, once at
most (else ``MalformedXML``): every event of the bucket also goes to its owner's default event
bus, kept as one more rule (``eventbridge_rule``) outside the overlap check, as S3 keeps it
beside the other destinations; no test event is sent to it, as S3 sends none.

``QueueConfiguration`` (decision 0158) names an SQS-style queue (``andromede.queues``) by its
ARN in ``Queue``: accepted when it is a queue of the bucket owner's account whose policy lets
``s3.amazonaws.com`` ``sqs:SendMessage`` with the bucket as ``aws:SourceArn``, else "Unable to
validate the following destination configurations", as S3 checks it. Its rules are kept and
checked (overlaps included) with the topics' in one list, each destination an ARN.
"""

from __future__ import annotations

import secrets
from xml.etree.ElementTree import Element

from andromede.db.notification_events import EVENTBRIDGE_DESTINATION
from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, addressed_bucket, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, children, local_name, only_child, parse_xml
from andromede.storage.notification import (
    METADATA_PREFIX,
    SUPPORTED_EVENTS,
    NotificationConfiguration,
    TopicRule,
    attribute_filtered_removals,
    eventbridge_rule,
    overlapping,
)

__all__ = ["get_bucket_notification_configuration", "put_bucket_notification_configuration"]

_EVENTBRIDGE = "EventBridgeConfiguration"
_QUEUE_ARN = "arn:aws:sqs:"
_FUNCTION_ARN = "arn:aws:lambda:"
_S3_PRINCIPAL = "s3.amazonaws.com"
# Configuration element → its destination element.
_DESTINATIONS = {
    "TopicConfiguration": "Topic",
    "QueueConfiguration": "Queue",
    "CloudFunctionConfiguration": "CloudFunction",
}
_ELEMENTS = {destination: element for element, destination in _DESTINATIONS.items()}
# S3's order of the configurations in GetBucketNotificationConfiguration's answer.
_ORDER = ("Topic", "Queue", "CloudFunction")
_MAX_RULES = 100
_MAX_FILTER_VALUE = 1024
_AMBIGUOUS = (
    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if "
    "the prefixes are overlapping for the same event type."
)
_UNVALIDATED = "Unable to validate the following destination configurations"


async def get_bucket_notification_configuration(ctx: S3Context, svc: S3Services) -> Response:
    config = await svc.objects.get_bucket_notification(ctx.bucket)
    xml = XmlWriter("NotificationConfiguration")
    rules = () if config is None else config.rules
    to_bus = any(rule.topic_arn == EVENTBRIDGE_DESTINATION for rule in rules)
    rules = tuple(rule for rule in rules if rule.topic_arn != EVENTBRIDGE_DESTINATION)
    # S3's order: the topics' configurations, the queues', the functions', then EventBridge's.
    for rule in sorted(rules, key=lambda r: _ORDER.index(_destination_of(r.topic_arn))):
        destination = _destination_of(rule.topic_arn)
        element = _ELEMENTS[destination]
        xml.open(element)
        xml.element("Id", rule.id)
        xml.element(destination, rule.topic_arn)
        for event in rule.events:
            xml.element("Event", event)
        key_rules = [
            (name, value)
            for name, value in (("Prefix", rule.prefix), ("Suffix", rule.suffix))
            if value is not None
        ]
        if key_rules or rule.metadata or rule.tags:
            xml.open("Filter")
            # RGW's shape: each container only when it has rules.
            for container, pairs in (
                ("S3Key", key_rules),
                ("S3Metadata", list(rule.metadata)),
                ("S3Tags", list(rule.tags)),
            ):
                if pairs:
                    _write_filter_rules(xml, container, pairs)
            xml.close("Filter")
        xml.close(element)
    if to_bus:
        xml.open(_EVENTBRIDGE)
        xml.close(_EVENTBRIDGE)
    return xml_response(xml)


def _destination_of(arn: str) -> str:
    if arn.startswith(_QUEUE_ARN):
        return "Queue"
    return "CloudFunction" if arn.startswith(_FUNCTION_ARN) else "Topic"


def _write_filter_rules(xml: XmlWriter, container: str, pairs: list[tuple[str, str]]) -> None:
    xml.open(container)
    for name, value in pairs:
        xml.open("FilterRule")
        xml.element("Name", name)
        xml.element("Value", value)
        xml.close("FilterRule")
    xml.close(container)


async def put_bucket_notification_configuration(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(await ctx.read_xml_body(), "NotificationConfiguration")
    names = {local_name(child) for child in root}
    if names - {*_DESTINATIONS, _EVENTBRIDGE}:
        raise S3Error("MalformedXML")
    buses = [element for element in root if local_name(element) == _EVENTBRIDGE]
    if len(buses) > 1 or any(len(element) for element in buses):
        raise S3Error("MalformedXML")
    configured = [
        (element, _DESTINATIONS[local_name(element)])
        for element in root
        if local_name(element) in _DESTINATIONS
    ]
    if (configured or buses) and svc.topics is None:
        raise S3Error("NotImplemented", "Event notifications are not served by this endpoint")
    if svc.queues is None and any(d == "Queue" for _, d in configured):
        raise S3Error(
            "NotImplemented", "QueueConfiguration: queues are not served by this endpoint"
        )
    if svc.functions is None and any(d == "CloudFunction" for _, d in configured):
        raise S3Error(
            "NotImplemented",
            "CloudFunctionConfiguration: Lambda functions are not served by this endpoint",
        )
    if len(configured) > _MAX_RULES:
        raise S3Error("InvalidArgument", f"At most {_MAX_RULES} configurations are allowed")
    rules = [_rule(element, destination) for element, destination in configured]
    if len({rule.id for rule in rules}) != len(rules):
        raise S3Error("InvalidArgument", "Configuration IDs must be unique", ArgumentName="Id")
    if overlapping(rules):
        raise S3Error("InvalidArgument", _AMBIGUOUS)
    # S3 sends no test event to a function.
    tested = [rule.topic_arn for rule in rules if not rule.topic_arn.startswith(_FUNCTION_ARN)]
    if buses:  # beside the others, outside their overlap check, as S3 keeps it
        rules.append(eventbridge_rule())
    bucket = await addressed_bucket(ctx, svc) if rules else None
    if bucket is not None:
        for rule in rules:
            if rule.topic_arn == EVENTBRIDGE_DESTINATION:
                continue  # the owner's own default bus: always there
            if rule.topic_arn.startswith(_FUNCTION_ARN):
                await _check_function(svc, rule.topic_arn, bucket.name, bucket.tenant_id)
                continue
            if rule.topic_arn.startswith(_QUEUE_ARN):
                if svc.queues is None or not await svc.queues.accepts_bucket_events(
                    bucket.tenant_id, rule.topic_arn, bucket.name
                ):
                    raise S3Error(
                        "InvalidArgument",
                        _UNVALIDATED,
                        ArgumentName=rule.topic_arn[:256],
                        ArgumentValue="Permissions on the destination queue do not allow S3 "
                        "to publish notifications from this bucket",
                    )
            elif svc.topics is None or not await svc.topics.accepts_bucket_events(
                bucket.tenant_id, rule.topic_arn, bucket.name
            ):
                raise S3Error(
                    "InvalidArgument",
                    _UNVALIDATED,
                    ArgumentName=rule.topic_arn[:256],
                    ArgumentValue="The destination topic does not exist, or its policy "
                    "does not allow S3 to publish notifications from this bucket",
                )
    await svc.objects.set_bucket_notification(
        ctx.bucket, NotificationConfiguration(tuple(rules)) if rules else None
    )
    if bucket is not None and svc.topics is not None:
        # As S3: each destination of the accepted configuration is sent s3:TestEvent, through
        # the queue of every event. After the commit: a crash between the two loses only this
        # message, which tells of no write.
        await svc.topics.send_test_events(bucket.tenant_id, bucket.name, tested, ctx.request_id)
    return Response()


async def _check_function(svc: S3Services, arn: str, bucket: str, owner: str) -> None:
    """As S3 validates a function: there, and its policy lets S3 invoke it for the bucket."""
    if svc.functions is None or not await svc.functions.accepts(
        _S3_PRINCIPAL, arn, source_arn=f"arn:aws:s3:::{bucket}", source_account=owner
    ):
        raise S3Error(
            "InvalidArgument",
            _UNVALIDATED,
            ArgumentName=arn[:256],
            ArgumentValue=f"Not authorized to invoke function [{arn[:256]}]",
        )


def _rule(element: Element, destination: str) -> TopicRule:
    rule_id = _text(element, "Id") or secrets.token_hex(16)
    topic = _text(element, destination)
    events = [(e.text or "").strip() for e in children(element, "Event")]
    if not topic or not events:
        raise S3Error("MalformedXML")
    if _destination_of(topic) != destination:
        # A topic's rule naming a queue, or the like: no such destination of that kind.
        raise S3Error("InvalidArgument", _UNVALIDATED, ArgumentName=topic[:256])
    for event in events:
        if event not in SUPPORTED_EVENTS:
            raise S3Error(
                "InvalidArgument",
                "The event is not supported for notifications",
                ArgumentName="Event",
                ArgumentValue=event[:256],
            )
    prefix, suffix, metadata, tags = _filter(only_child(element, "Filter"))
    rule = TopicRule(rule_id, topic, tuple(dict.fromkeys(events)), prefix, suffix, metadata, tags)
    removals = attribute_filtered_removals(rule)
    if removals:
        raise S3Error(
            "InvalidArgument",
            "Metadata and tag filters apply to creations, tagging and ACL events only: a "
            "removed object's metadata and tags are not known when its event is queued",
            ArgumentName="Event",
            ArgumentValue=", ".join(f"s3:{name}" for name in removals)[:256],
        )
    return rule


def _text(element: Element, name: str) -> str | None:
    found = only_child(element, name)
    return None if found is None else (found.text or "").strip()


_Pairs = tuple[tuple[str, str], ...]
_FILTERS = frozenset({"S3Key", "S3Metadata", "S3Tags"})


def _filter(element: Element | None) -> tuple[str | None, str | None, _Pairs, _Pairs]:
    if element is None:
        return None, None, (), ()
    names = [local_name(child) for child in element]
    if not names or set(names) - _FILTERS:
        raise S3Error("MalformedXML")
    prefix, suffix = _key_filter(only_child(element, "S3Key"))
    metadata = _pair_filter(only_child(element, "S3Metadata"), metadata=True)
    tags = _pair_filter(only_child(element, "S3Tags"), metadata=False)
    return prefix, suffix, metadata, tags


def _pair_filter(element: Element | None, *, metadata: bool) -> _Pairs:
    """RGW's ``S3Metadata`` or ``S3Tags``: ``FilterRule`` pairs an object must all have."""
    if element is None:
        return ()
    pairs: dict[str, tuple[str, str]] = {}
    for rule in children(element, "FilterRule"):
        name = _text(rule, "Name")
        value = _text(rule, "Value")
        if not name or value is None:
            raise S3Error("MalformedXML")
        _require_inclusive(rule)
        if metadata and (
            not name.lower().startswith(METADATA_PREFIX) or name.lower() == METADATA_PREFIX
        ):
            raise S3Error(
                "InvalidArgument",
                "A metadata filter rule name must be x-amz-meta- followed by the metadata's name",
                ArgumentName="FilterRule.Name",
                ArgumentValue=name[:256],
            )
        if len(name) > _MAX_FILTER_VALUE or len(value) > _MAX_FILTER_VALUE:
            raise S3Error("InvalidArgument", "The filter rule value is too long")
        # Metadata names are HTTP header names, whose case does not count.
        seen = name.lower() if metadata else name
        if seen in pairs:
            raise S3Error(
                "InvalidArgument",
                "Cannot specify more than one rule for a name in a filter.",
                ArgumentName="FilterRule.Name",
                ArgumentValue=name[:256],
            )
        pairs[seen] = (name, value)
    return tuple(pairs.values())


def _require_inclusive(rule: Element) -> None:
    """RGW's newer ``Type`` (``IN``, the default, or ``OUT`` for a rule that must not match)."""
    kind = _text(rule, "Type")
    if kind is not None and kind != "IN":
        raise S3Error("NotImplemented", "Only filter rules of Type IN are implemented")


def _key_filter(key: Element | None) -> tuple[str | None, str | None]:
    if key is None:
        return None, None
    found: dict[str, str] = {}
    for rule in children(key, "FilterRule"):
        _require_inclusive(rule)
        name = (_text(rule, "Name") or "").lower()
        value = _text(rule, "Value") or ""
        if name not in ("prefix", "suffix"):
            raise S3Error(
                "InvalidArgument",
                "filter rule name must be either prefix or suffix",
                ArgumentName="FilterRule.Name",
                ArgumentValue=name[:256],
            )
        if name in found:
            raise S3Error(
                "InvalidArgument", f"Cannot specify more than one {name} rule in a filter."
            )
        if len(value) > _MAX_FILTER_VALUE:
            raise S3Error("InvalidArgument", "The filter rule value is too long")
        found[name] = value
    return found.get("prefix"), found.get("suffix")
