"""SNS's topic calls, as Ceph RGW serves them for bucket notifications (decision 0132), on the
shared endpoint (service ``sns`` in the credential scope): CreateTopic, GetTopicAttributes,
SetTopicAttributes, ListTopics, DeleteTopic. Query protocol, the IAM and STS machinery
(``iamapi.app.QueryApp``): SigV4, the ``sns:<Action>`` policy check on the topic's ARN, the
audit record of each mutating call, the error envelope.

Subscriptions and Publish (decision 0163) are ``iamapi.sns_subscriptions``'s, merged into
this table when the app has a :class:`PubSubService`; a topic's ``push-endpoint`` keeps
receiving its S3 events, as on RGW.

The calls naming a topic by its ARN are authorised by ``iamapi.sns_access`` (decision 0168):
the caller's IAM and the topic's ``Policy``, so that another account may act on a topic
shared with it; AddPermission and RemovePermission edit that policy.

Tags (decision 0175): CreateTopic's ``Tags`` (which need ``sns:TagResource`` too, as on
AWS), TagResource, UntagResource and ListTagsForResource, with ``aws:RequestTag/<key>``,
``aws:TagKeys`` and ``aws:ResourceTag/<key>`` in the calls' policy evaluation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.errors import AndromedeError
from andromede.iam.policy import ContextValue
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Action, Call, ServiceSpec, iso8601
from andromede.iamapi.sns_access import (
    TopicAccess,
    add_permission,
    check_topic_policy,
    default_topic_policy,
    remove_permission,
    request_tag_keys,
)
from andromede.iamapi.sns_subscriptions import SUBSCRIPTION_ACTIONS, subscription_actions
from andromede.notifications.errors import (
    InvalidTopic,
    NoSuchTopic,
    TagLimitExceeded,
    TopicLimitExceeded,
)
from andromede.notifications.message_protection import DATA_PROTECTION_POLICY
from andromede.notifications.model import Topic, topic_arn
from andromede.notifications.pubsub import PubSubService
from andromede.notifications.service import TopicService

__all__ = ["ACTIONS", "NAMESPACE", "sns_spec"]

NAMESPACE: Final = "http://sns.amazonaws.com/doc/2010-03-31/"
ACTIONS: Final = (
    "AddPermission",
    "CreateTopic",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetTopicAttributes",
    "ListTagsForResource",
    "ListTopics",
    "PutDataProtectionPolicy",
    "RemovePermission",
    "SetTopicAttributes",
    "TagResource",
    "UntagResource",
    *SUBSCRIPTION_ACTIONS,
)
# Authorised by the handler itself, with the topic's policy (decision 0168).
_BY_TOPIC_POLICY: Final = frozenset(
    {
        "AddPermission",
        "CreateTopic",
        "DeleteTopic",
        "GetDataProtectionPolicy",
        "PutDataProtectionPolicy",
        "ListTagsForResource",
        "TagResource",
        "UntagResource",
        "GetTopicAttributes",
        "RemovePermission",
        "SetTopicAttributes",
    }
)


def _wire(exc: AndromedeError) -> QueryError:
    if isinstance(exc, NoSuchTopic):
        return QueryError("NotFound", "Topic does not exist")
    if isinstance(exc, TopicLimitExceeded):
        return QueryError("TopicLimitExceeded")
    if isinstance(exc, TagLimitExceeded):
        return QueryError("TagLimitExceeded", str(exc))
    return QueryError("InvalidParameter", str(exc))


def _tags(call: Call) -> list[tuple[str, str]]:
    """``Tags.member.N.Key`` / ``.Value``; InvalidParameter for a tag lacking either."""
    keys, values = call.members("Tags", "Key"), call.members("Tags", "Value")
    if len(keys) != len(values):
        raise QueryError("InvalidParameter", "Invalid parameter: Tags Reason: a Key and a Value")
    return list(zip(keys, values, strict=True))


def _attributes(call: Call) -> dict[str, str]:
    """``Attributes.entry.N.key`` / ``.value`` (N from 1), as botocore sends a map."""
    found: dict[str, str] = {}
    index = 1
    while (key := call.get(f"Attributes.entry.{index}.key")) is not None:
        found[key] = call.get(f"Attributes.entry.{index}.value") or ""
        index += 1
    check_topic_policy(found.get("Policy", ""))
    return found


def _write_attributes(
    call: Call, topic: Topic, attributes: dict[str, str], counted: dict[str, str]
) -> None:
    xml = call.result
    shown = {
        "TopicArn": topic.arn,
        "Name": topic.name,
        "Owner": topic.tenant_id,
        "User": topic.tenant_id,
        "CreatedTime": iso8601(topic.created_at),
        "EndpointAddress": topic.push_endpoint or "",
        **attributes,
    }
    shown.update(counted)
    if not shown.get("Policy"):
        shown["Policy"] = default_topic_policy(topic)
    xml.open("Attributes")
    for key, value in shown.items():
        xml.open("entry")
        xml.element("key", key)
        xml.element("value", value)
        xml.close("entry")
    xml.close("Attributes")


def sns_spec(topics: TopicService, region: str, pubsub: PubSubService | None = None) -> ServiceSpec:
    """The SNS Query service over ``topics``; topic ARNs name ``region``; with ``pubsub``,
    subscriptions and Publish too (decision 0163)."""
    access = TopicAccess(topics, region)

    async def guarded(work: Awaitable[object]) -> None:
        try:
            await work
        except (InvalidTopic, NoSuchTopic, TopicLimitExceeded) as exc:
            raise _wire(exc) from exc

    async def create_topic(call: Call) -> None:
        tags = _tags(call)
        arn = topic_arn(region, call.tenant_id, call.required("Name"))
        call.context["resource"] = arn
        keys = request_tag_keys(tags, [])
        await call.allow("sns:CreateTopic", arn, keys)
        if tags:
            # Tagging at creation needs both permissions, as on AWS.
            await call.allow("sns:TagResource", arn, keys)

        attributes = _attributes(call)
        if DATA_PROTECTION_POLICY in attributes:
            raise QueryError(
                "InvalidParameter", f"Invalid parameter: AttributeName {DATA_PROTECTION_POLICY}"
            )
        if call.get(DATA_PROTECTION_POLICY):
            attributes[DATA_PROTECTION_POLICY] = call.get(DATA_PROTECTION_POLICY) or ""

        async def work() -> None:
            topic = await topics.create_topic(
                call.tenant_id, call.required("Name"), attributes, tags or None
            )
            call.result.element("TopicArn", topic.arn)

        await guarded(work())

    async def tagged(
        call: Call, action: str, keys: Mapping[str, ContextValue] | None = None
    ) -> str:
        """The account of ``ResourceArn``'s topic once the caller may do ``action``."""
        arn = call.required("ResourceArn")
        try:
            return await access.authorise(call, action, arn, keys)
        except QueryError as exc:
            if exc.code == "NotFound":
                raise QueryError("ResourceNotFound", "Resource does not exist") from exc
            raise

    async def resource_guarded(work: Awaitable[object]) -> None:
        try:
            await work
        except NoSuchTopic as exc:
            raise QueryError("ResourceNotFound", "Resource does not exist") from exc
        except (InvalidTopic, TagLimitExceeded) as exc:
            raise _wire(exc) from exc

    async def tag_resource(call: Call) -> None:
        tags = _tags(call)
        if not tags:
            raise QueryError("InvalidParameter", "Invalid parameter: Tags Reason: none given")
        account = await tagged(call, "sns:TagResource", request_tag_keys(tags, []))
        await resource_guarded(topics.tag(account, call.required("ResourceArn"), tags))

    async def untag_resource(call: Call) -> None:
        keys = call.members("TagKeys")
        if not keys:
            raise QueryError("InvalidParameter", "Invalid parameter: TagKeys Reason: none given")
        account = await tagged(call, "sns:UntagResource", request_tag_keys([], keys))
        await resource_guarded(topics.untag(account, call.required("ResourceArn"), keys))

    async def list_tags(call: Call) -> None:
        account = await tagged(call, "sns:ListTagsForResource")

        async def work() -> None:
            topic = await topics.get_topic(account, call.required("ResourceArn"))
            xml = call.result
            xml.open("Tags")
            for key, value in topic.tags.items():
                xml.open("member")
                xml.element("Key", key)
                xml.element("Value", value)
                xml.close("member")
            xml.close("Tags")

        await resource_guarded(work())

    async def get_topic_attributes(call: Call) -> None:
        arn = call.required("TopicArn")
        account = await access.authorise(call, "sns:GetTopicAttributes", arn)

        async def work() -> None:
            topic = await topics.get_topic(account, arn)
            counted: dict[str, str] = {}
            if pubsub is not None:
                # SNS shows what the topic's subscriptions get and how many it holds;
                # deleted ones are gone at once here, never counted.
                counted["EffectiveDeliveryPolicy"] = pubsub.topic_delivery_policy(topic)
                confirmed, pending = await pubsub.subscription_counts(topic.arn)
                counted |= {
                    "SubscriptionsConfirmed": str(confirmed),
                    "SubscriptionsPending": str(pending),
                    "SubscriptionsDeleted": "0",
                }
            _write_attributes(call, topic, topics.shown_attributes(topic), counted)

        await guarded(work())

    async def set_topic_attributes(call: Call) -> None:
        arn = call.required("TopicArn")
        account = await access.authorise(call, "sns:SetTopicAttributes", arn)
        name = call.required("AttributeName")
        value = call.get("AttributeValue") or ""
        if name == DATA_PROTECTION_POLICY:
            # Its own calls set it (PutDataProtectionPolicy), as on SNS.
            raise QueryError("InvalidParameter", f"Invalid parameter: AttributeName {name}")
        if name == "Policy":
            check_topic_policy(value)
        await guarded(topics.set_attribute(account, arn, name, value))

    async def add_permission_call(call: Call) -> None:
        arn = call.required("TopicArn")
        account = await access.authorise(call, "sns:AddPermission", arn)

        async def work() -> None:
            topic = await topics.get_topic(account, arn)
            policy = add_permission(
                topic,
                call.required("Label"),
                call.members("AWSAccountId"),
                call.members("ActionName"),
            )
            await topics.set_attribute(account, arn, "Policy", policy)

        await guarded(work())

    async def remove_permission_call(call: Call) -> None:
        arn = call.required("TopicArn")
        account = await access.authorise(call, "sns:RemovePermission", arn)

        async def work() -> None:
            topic = await topics.get_topic(account, arn)
            policy = remove_permission(topic, call.required("Label"))
            await topics.set_attribute(account, arn, "Policy", policy)

        await guarded(work())

    async def put_data_protection_policy(call: Call) -> None:
        arn = call.required("ResourceArn")
        document = call.get(DATA_PROTECTION_POLICY)
        if document is None:
            raise QueryError(
                "InvalidParameter",
                f"Invalid parameter: {DATA_PROTECTION_POLICY} Reason: a policy is required",
            )
        account = await access.authorise(call, "sns:PutDataProtectionPolicy", arn)
        # An empty document removes the topic's policy.
        await guarded(topics.set_attribute(account, arn, DATA_PROTECTION_POLICY, document))

    async def get_data_protection_policy(call: Call) -> None:
        arn = call.required("ResourceArn")
        account = await access.authorise(call, "sns:GetDataProtectionPolicy", arn)

        async def work() -> None:
            topic = await topics.get_topic(account, arn)
            call.result.element(
                DATA_PROTECTION_POLICY, topic.attributes.get(DATA_PROTECTION_POLICY, "")
            )

        await guarded(work())

    async def list_topics(call: Call) -> None:
        found = await topics.list_topics(call.tenant_id)
        call.result.open("Topics")
        for topic in found:
            call.result.open("member")
            call.result.element("TopicArn", topic.arn)
            call.result.close("member")
        call.result.close("Topics")

    async def delete_topic(call: Call) -> None:
        arn = call.required("TopicArn")
        try:
            account = await access.authorise(call, "sns:DeleteTopic", arn)
        except QueryError as exc:
            if exc.code != "NotFound":
                raise
            return  # another account's topic not shared: none to delete, as before
        await guarded(topics.delete_topic(account, arn))

    async def named_topic(call: Call) -> str:
        return topic_arn(region, call.tenant_id, call.required("Name"))

    async def addressed_topic(call: Call) -> str:
        return call.required("TopicArn")

    async def tagged_topic(call: Call) -> str:
        return call.required("ResourceArn")

    handlers: dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]] = {
        "AddPermission": (add_permission_call, True, False),
        "RemovePermission": (remove_permission_call, True, False),
        "CreateTopic": (create_topic, True, True),
        "DeleteTopic": (delete_topic, True, False),
        "GetTopicAttributes": (get_topic_attributes, False, True),
        "PutDataProtectionPolicy": (put_data_protection_policy, True, False),
        "GetDataProtectionPolicy": (get_data_protection_policy, False, True),
        "ListTopics": (list_topics, False, True),
        "SetTopicAttributes": (set_topic_attributes, True, False),
        "TagResource": (tag_resource, True, True),
        "UntagResource": (untag_resource, True, True),
        "ListTagsForResource": (list_tags, False, True),
    }
    resources = {
        "CreateTopic": named_topic,
        "DeleteTopic": addressed_topic,
        "GetTopicAttributes": addressed_topic,
        "PutDataProtectionPolicy": tagged_topic,
        "GetDataProtectionPolicy": tagged_topic,
        "SetTopicAttributes": addressed_topic,
        "TagResource": tagged_topic,
        "UntagResource": tagged_topic,
        "ListTagsForResource": tagged_topic,
    }
    actions = {
        name: Action(
            handler=handler,
            mutating=mutating,
            has_result=has_result,
            authorised=name not in _BY_TOPIC_POLICY,
            resource=resources.get(name),
        )
        for name, (handler, mutating, has_result) in handlers.items()
    }
    if pubsub is not None:
        actions.update(subscription_actions(pubsub, access))
    return ServiceSpec(name="sns", namespace=NAMESPACE, version="2010-03-31", actions=actions)
