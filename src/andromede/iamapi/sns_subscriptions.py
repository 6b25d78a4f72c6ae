"""SNS's subscription and publishing calls (decision 0163), beside the topic calls of
``iamapi.sns``: Subscribe, ConfirmSubscription, Unsubscribe, ListSubscriptions,
ListSubscriptionsByTopic, Get/SetSubscriptionAttributes, Publish and PublishBatch.

ConfirmSubscription and Unsubscribe are also taken unsigned, as SNS takes them from the
``SubscribeURL`` and ``UnsubscribeURL`` of its messages: the token, or the subscription's
ARN with its random UUID, is the credential.

Subscribe, ListSubscriptionsByTopic, Publish and PublishBatch are authorised on the topic by
``iamapi.sns_access`` (decision 0168): another account may call them when the topic's policy
lets it, the subscription then being the caller's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from andromede.errors import AndromedeError
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import (
    UNSIGNED_DETAILS,
    UNSIGNED_TENANT,
    Action,
    Call,
)
from andromede.iamapi.sns_access import TopicAccess
from andromede.kms.keys_interface import Caller
from andromede.notifications.errors import (
    InvalidTopic,
    MessageDenied,
    NoSuchSubscription,
    NoSuchTopic,
    NotSubscribable,
    SubscriptionLimitExceeded,
    TopicKeyError,
)
from andromede.notifications.pubsub import Published, PubSubService, check_publish
from andromede.notifications.subscriptions import Subscription

__all__ = ["SUBSCRIPTION_ACTIONS", "subscription_actions"]

SUBSCRIPTION_ACTIONS: Final = (
    "ConfirmSubscription",
    "GetSubscriptionAttributes",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "Publish",
    "PublishBatch",
    "SetSubscriptionAttributes",
    "Subscribe",
    "Unsubscribe",
)
_BATCH_MAX: Final = 10
_BY_TOPIC_POLICY: Final = frozenset(
    {"ListSubscriptionsByTopic", "Publish", "PublishBatch", "Subscribe"}
)
_PENDING: Final = "pending confirmation"
_ERRORS = (
    InvalidTopic,
    MessageDenied,
    NoSuchTopic,
    NoSuchSubscription,
    NotSubscribable,
    SubscriptionLimitExceeded,
    TopicKeyError,
)


def _publisher(call: Call, region: str) -> Caller:
    """The caller of a Publish as KMS judges it, for a topic under a KMS key (decision
    0212): it must be let ``kms:GenerateDataKey`` and ``kms:Decrypt`` through SNS."""
    return Caller(
        account_id=call.tenant_id,
        arn=call.principal.arn,
        principal=call.principal,
        source_ip=call.source_ip or None,
        secure=call.secure,
        via_service=f"sns.{region}.amazonaws.com",
        request_id=call.request_id,
    )


def _wire(exc: AndromedeError) -> QueryError:
    if isinstance(exc, NoSuchTopic):
        return QueryError("NotFound", "Topic does not exist")
    if isinstance(exc, NoSuchSubscription):
        return QueryError("NotFound", "Subscription does not exist")
    if isinstance(exc, (NotSubscribable, MessageDenied)):
        return QueryError("AuthorizationError", str(exc))
    if isinstance(exc, SubscriptionLimitExceeded):
        return QueryError("SubscriptionLimitExceeded")
    if isinstance(exc, TopicKeyError):
        return QueryError(exc.code, str(exc))
    return QueryError("InvalidParameter", str(exc))


def _map(call: Call, prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    index = 1
    while (key := call.get(f"{prefix}.entry.{index}.key")) is not None:
        found[key] = call.get(f"{prefix}.entry.{index}.value") or ""
        index += 1
    return found


def _message_attributes(call: Call, prefix: str) -> dict[str, tuple[str, str]]:
    """``<prefix>.entry.N.Name`` and ``.Value.DataType`` / ``.StringValue`` / ``.BinaryValue``."""
    found: dict[str, tuple[str, str]] = {}
    index = 1
    while (name := call.get(f"{prefix}.entry.{index}.Name")) is not None:
        base = f"{prefix}.entry.{index}.Value"
        kind = call.get(f"{base}.DataType")
        value = call.get(f"{base}.StringValue")
        if value is None:
            value = call.get(f"{base}.BinaryValue")
        if not kind or value is None:
            raise QueryError(
                "InvalidParameterValue",
                f"The message attribute '{name[:64]}' must contain a DataType and a value.",
            )
        found[name] = (kind, value)
        index += 1
    return found


def _shown_arn(subscription: Subscription) -> str:
    return subscription.arn if subscription.confirmed else _PENDING


def _write_subscriptions(call: Call, found: list[Subscription], next_token: str | None) -> None:
    xml = call.result
    xml.open("Subscriptions")
    for subscription in found:
        xml.open("member")
        xml.element("SubscriptionArn", _shown_arn(subscription))
        xml.element("Owner", subscription.owner)
        xml.element("Protocol", subscription.protocol)
        xml.element("Endpoint", subscription.endpoint)
        xml.element("TopicArn", subscription.topic_arn)
        xml.close("member")
    xml.close("Subscriptions")
    if next_token is not None:
        xml.element("NextToken", next_token)


def subscription_actions(pubsub: PubSubService, access: TopicAccess) -> dict[str, Action]:
    """The calls over ``pubsub``, to be merged into the SNS service's table; ``access``
    decides the calls naming a topic."""

    async def guarded(work: Awaitable[None]) -> None:
        try:
            await work
        except _ERRORS as exc:
            raise _wire(exc) from exc

    async def subscribe(call: Call) -> None:
        arn = call.required("TopicArn")
        account = await access.authorise(call, "sns:Subscribe", arn)

        async def work() -> None:
            held = await pubsub.subscribe(
                call.tenant_id,
                arn,
                call.required("Protocol"),
                call.get("Endpoint") or "",
                _map(call, "Attributes"),
                topic_account=account,
                principal=call.principal.arn,
            )
            returned = call.boolean("ReturnSubscriptionArn", default=False)
            call.result.element("SubscriptionArn", held.arn if returned else _shown_arn(held))

        await guarded(work())

    async def confirm_subscription(call: Call) -> None:
        async def work() -> None:
            confirmed = await pubsub.confirm(call.required("TopicArn"), call.required("Token"))
            call.context["resource"] = confirmed.arn
            if call.principal.is_anonymous:
                call.context[UNSIGNED_TENANT] = confirmed.tenant_id
                call.context[UNSIGNED_DETAILS] = {"subscription": confirmed.arn}
            call.result.element("SubscriptionArn", confirmed.arn)

        await guarded(work())

    async def unsubscribe(call: Call) -> None:
        arn = call.required("SubscriptionArn")
        if call.principal.is_anonymous:
            call.context["resource"] = arn
            held = await pubsub.unsubscribe_unsigned(arn)
            call.context[UNSIGNED_DETAILS] = {"subscription": arn, "found": str(held).lower()}
            return
        # Signed: authorised here, the action being exempt from the engine's check so that
        # the unsigned form reaches this handler.
        call.context["resource"] = arn
        await call.allow("sns:Unsubscribe", arn)
        await guarded(pubsub.unsubscribe(call.tenant_id, arn))

    async def list_subscriptions(call: Call) -> None:
        found, token = await pubsub.list_subscriptions(call.tenant_id, call.get("NextToken"))
        _write_subscriptions(call, found, token)

    async def list_by_topic(call: Call) -> None:
        arn = call.required("TopicArn")
        account = await access.authorise(call, "sns:ListSubscriptionsByTopic", arn)

        async def work() -> None:
            found, token = await pubsub.list_subscriptions(
                call.tenant_id, call.get("NextToken"), topic_arn=arn, topic_account=account
            )
            _write_subscriptions(call, found, token)

        await guarded(work())

    async def get_attributes(call: Call) -> None:
        async def work() -> None:
            held = await pubsub.get_subscription(call.tenant_id, call.required("SubscriptionArn"))
            shown = {
                "SubscriptionArn": held.arn,
                "TopicArn": held.topic_arn,
                "Owner": held.owner,
                "Protocol": held.protocol,
                "Endpoint": held.endpoint,
                "PendingConfirmation": str(not held.confirmed).lower(),
                "ConfirmationWasAuthenticated": str(held.protocol in ("sqs", "firehose")).lower(),
                "RawMessageDelivery": "false",
                **held.attributes,
            }
            effective = await pubsub.effective_delivery_policy(held)
            if effective is not None:
                shown["EffectiveDeliveryPolicy"] = effective
            replay = await pubsub.replay_status(held)
            if replay is not None:
                shown["ReplayStatus"] = replay  # decision 0175
            xml = call.result
            xml.open("Attributes")
            for key, value in shown.items():
                xml.open("entry")
                xml.element("key", key)
                xml.element("value", value)
                xml.close("entry")
            xml.close("Attributes")

        await guarded(work())

    async def set_attributes(call: Call) -> None:
        await guarded(
            pubsub.set_attribute(
                call.tenant_id,
                call.required("SubscriptionArn"),
                call.required("AttributeName"),
                call.get("AttributeValue") or "",
            )
        )

    async def publish(call: Call) -> None:
        if call.get("PhoneNumber") or call.get("TargetArn"):
            raise QueryError("InvalidParameter", "Invalid parameter: only TopicArn is supported")

        arn = call.required("TopicArn")
        account = await access.authorise(call, "sns:Publish", arn)

        async def work() -> None:
            published = await pubsub.publish(
                account,
                arn,
                call.required("Message"),
                call.get("Subject"),
                _message_attributes(call, "MessageAttributes"),
                call.get("MessageStructure"),
                group_id=call.get("MessageGroupId"),
                dedup_id=call.get("MessageDeduplicationId"),
                publisher=_publisher(call, access.region),
                caller=(call.principal.arn, call.tenant_id),
                trace=call.trace_header,  # its Lambda lineage (decision 0336)
            )
            call.result.element("MessageId", published.message_id)
            if published.sequence_number is not None:
                call.result.element("SequenceNumber", published.sequence_number)

        await guarded(work())

    async def publish_batch(call: Call) -> None:
        prefix = "PublishBatchRequestEntries.member"
        count = 0
        while call.get(f"{prefix}.{count + 1}.Id") is not None:
            count += 1
        if count == 0:
            raise QueryError("EmptyBatchRequest", "The batch request doesn't contain any entries")
        if count > _BATCH_MAX:
            raise QueryError(
                "TooManyEntriesInBatchRequest", f"The batch request contains more than {_BATCH_MAX}"
            )
        ids = [call.get(f"{prefix}.{n}.Id") or "" for n in range(1, count + 1)]
        if len(set(ids)) != len(ids):
            raise QueryError("BatchEntryIdsNotDistinct", "Two or more batch entries have one Id")
        topic_arn = call.required("TopicArn")
        # AWS authorises PublishBatch as sns:Publish (there is no sns:PublishBatch).
        account = await access.authorise(call, "sns:Publish", topic_arn)
        succeeded: list[tuple[str, Published]] = []
        failed: list[tuple[str, str, str]] = []

        async def work() -> None:
            for n, entry_id in enumerate(ids, start=1):
                base = f"{prefix}.{n}"
                try:
                    attributes = _message_attributes(call, f"{base}.MessageAttributes")
                    message = call.get(f"{base}.Message") or ""
                    subject = call.get(f"{base}.Subject")
                    structure = call.get(f"{base}.MessageStructure")
                    check_publish(message, subject, attributes, structure, pubsub.max_message_size)
                    published = await pubsub.publish(
                        account,
                        topic_arn,
                        message,
                        subject,
                        attributes,
                        structure,
                        group_id=call.get(f"{base}.MessageGroupId"),
                        dedup_id=call.get(f"{base}.MessageDeduplicationId"),
                        publisher=_publisher(call, access.region),
                        caller=(call.principal.arn, call.tenant_id),
                        trace=call.trace_header,
                    )
                except (InvalidTopic, QueryError) as exc:
                    failed.append((entry_id, "InvalidParameter", str(exc)))
                    continue
                except TopicKeyError as exc:
                    failed.append((entry_id, exc.code, str(exc)))
                    continue
                except MessageDenied as exc:
                    failed.append((entry_id, "AuthorizationError", str(exc)))
                    continue
                succeeded.append((entry_id, published))

        await guarded(work())
        xml = call.result
        xml.open("Successful")
        for entry_id, published in succeeded:
            xml.open("member")
            xml.element("Id", entry_id)
            xml.element("MessageId", published.message_id)
            if published.sequence_number is not None:
                xml.element("SequenceNumber", published.sequence_number)
            xml.close("member")
        xml.close("Successful")
        xml.open("Failed")
        for entry_id, code, text in failed:
            xml.open("member")
            xml.element("Id", entry_id)
            xml.element("Code", code)
            xml.element("Message", text)
            xml.element("SenderFault", "true")
            xml.close("member")
        xml.close("Failed")

    async def topic(call: Call) -> str:
        return call.required("TopicArn")

    async def subscription(call: Call) -> str:
        return call.required("SubscriptionArn")

    table: dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool, object]] = {
        "Subscribe": (subscribe, True, True, topic),
        "ConfirmSubscription": (confirm_subscription, True, True, None),
        "Unsubscribe": (unsubscribe, True, False, subscription),
        "ListSubscriptions": (list_subscriptions, False, True, None),
        "ListSubscriptionsByTopic": (list_by_topic, False, True, topic),
        "GetSubscriptionAttributes": (get_attributes, False, True, subscription),
        "SetSubscriptionAttributes": (set_attributes, True, False, subscription),
        "Publish": (publish, True, True, topic),
        "PublishBatch": (publish_batch, True, True, topic),
    }
    actions: dict[str, Action] = {}
    for name, (handler, mutating, has_result, resource) in table.items():
        unsigned = name in ("ConfirmSubscription", "Unsubscribe")
        actions[name] = Action(
            handler=handler,
            mutating=mutating,
            has_result=has_result,
            # The token is ConfirmSubscription's credential, whoever calls (as SNS);
            # Unsubscribe authorises its signed form itself; the calls naming a topic are
            # decided with its policy (decision 0168).
            authorised=not unsigned and name not in _BY_TOPIC_POLICY,
            resource=resource if callable(resource) else None,
            unsigned=unsigned,
        )
    return actions
