"""The SNS-style topic calls (decision 0132) and subscription calls (decision 0163) the
console's Topics pages make, in process as the signed-in principal through the Query machinery
(``wire.QueryWire``): the SNS API's own authorisation (``sns:<Action>`` on the topic's ARN),
checks, audit and errors answer them. Each answer is read into the small rows the pages show;
nothing here decides what SNS allows.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire, WireError
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "KMS_MASTER_KEY_ID",
    "OPAQUE_DATA",
    "PENDING",
    "PUSH_ENDPOINT",
    "SnsWire",
    "SubscriptionRow",
    "TopicRow",
]

# The attributes the page sets, as Ceph RGW names them (and the SNS API takes them).
PUSH_ENDPOINT: Final = "push-endpoint"
OPAQUE_DATA: Final = "OpaqueData"
KMS_MASTER_KEY_ID: Final = "KmsMasterKeyId"  # the topic's key (decision 0212)
# What SNS lists in place of a subscription's ARN until it is confirmed (as AWS does).
PENDING: Final = "PendingConfirmation"
_PENDING_LISTED: Final = frozenset({"pending confirmation", PENDING})


@dataclass(frozen=True, slots=True)
class TopicRow:
    arn: str
    name: str
    push_endpoint: str
    opaque_data: str
    # GetTopicAttributes' refusal for this topic, in its words ("": read): a policy may let
    # the caller list topics without reading them.
    error: str = ""
    kms_key: str = ""  # "": SNS keeps its messages under the platform's keys only


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    arn: str  # PENDING until confirmed: such a subscription has no ARN to act on yet
    protocol: str
    endpoint: str
    owner: str
    filter_policy: str = ""
    filter_policy_scope: str = ""
    # A firehose subscription's role and whether messages go raw (decision 0226; "" / False
    # for the others).
    role_arn: str = ""
    raw_delivery: bool = False
    # GetSubscriptionAttributes' refusal for this subscription, in its words ("": read)
    error: str = ""

    @property
    def pending(self) -> bool:
        return self.arn == PENDING


def _attributes(root: Element) -> dict[str, str]:
    return {
        (entry.findtext("key") or ""): (entry.findtext("value") or "")
        for entry in root.iterfind(".//Attributes/entry")
    }


class SnsWire(QueryWire):
    """The topic calls the console makes, as ``principal``, for the request ``origin``."""

    version = "2010-03-31"

    async def list_topics(self, origin: Scope, principal: Principal) -> list[TopicRow]:
        """The caller's topics with their endpoint and opaque data, read side by side."""
        arns = await self.topic_arns(origin, principal)
        return list(await asyncio.gather(*(self.topic(origin, principal, a) for a in arns)))

    async def topic_arns(self, origin: Scope, principal: Principal) -> list[str]:
        """The caller's topics' ARNs alone (ListTopics), for a form's choices."""
        root = await self.call(origin, principal, "ListTopics")
        return [(m.findtext("TopicArn") or "") for m in root.iterfind(".//Topics/member")]

    async def topic(self, origin: Scope, principal: Principal, arn: str) -> TopicRow:
        """The topic's row (GetTopicAttributes), its refusal in ``error``."""
        name = arn.rsplit(":", 1)[-1]
        try:
            root = await self.call(origin, principal, "GetTopicAttributes", {"TopicArn": arn})
        except WireError as exc:
            return TopicRow(arn, name, "", "", exc.message or exc.code)
        found = _attributes(root)
        return TopicRow(
            arn,
            name,
            found.get(PUSH_ENDPOINT, ""),
            found.get(OPAQUE_DATA, ""),
            kms_key=found.get(KMS_MASTER_KEY_ID, ""),
        )

    async def set_topic_attribute(
        self, origin: Scope, principal: Principal, arn: str, name: str, value: str
    ) -> None:
        """SetTopicAttributes of one attribute (an empty ``KmsMasterKeyId``: no key)."""
        params = {"TopicArn": arn, "AttributeName": name, "AttributeValue": value}
        await self.call(origin, principal, "SetTopicAttributes", params)

    async def data_protection_policy(self, origin: Scope, principal: Principal, arn: str) -> str:
        """GetDataProtectionPolicy's document (decision 0215); "" when the topic has none."""
        root = await self.call(origin, principal, "GetDataProtectionPolicy", {"ResourceArn": arn})
        return root.findtext(".//DataProtectionPolicy") or ""

    async def create_topic(
        self, origin: Scope, principal: Principal, name: str, attributes: dict[str, str]
    ) -> str:
        """The topic's ARN. ``attributes`` empty values are not sent: an empty push endpoint
        is no endpoint, not one SNS should check."""
        params = {"Name": name}
        for index, (key, value) in enumerate(((k, v) for k, v in attributes.items() if v), start=1):
            params[f"Attributes.entry.{index}.key"] = key
            params[f"Attributes.entry.{index}.value"] = value
        root = await self.call(origin, principal, "CreateTopic", params)
        return root.findtext(".//TopicArn") or ""

    async def delete_topic(self, origin: Scope, principal: Principal, arn: str) -> None:
        await self.call(origin, principal, "DeleteTopic", {"TopicArn": arn})

    async def subscriptions(
        self, origin: Scope, principal: Principal, topic_arn: str
    ) -> list[SubscriptionRow]:
        """The topic's subscriptions (every page of ListSubscriptionsByTopic), each confirmed
        one with its filter policy read side by side."""
        listed: list[SubscriptionRow] = []
        params = {"TopicArn": topic_arn}
        while True:
            root = await self.call(origin, principal, "ListSubscriptionsByTopic", params)
            for member in root.iterfind(".//Subscriptions/member"):
                arn = member.findtext("SubscriptionArn") or ""
                listed.append(
                    SubscriptionRow(
                        PENDING if arn in _PENDING_LISTED else arn,
                        member.findtext("Protocol") or "",
                        member.findtext("Endpoint") or "",
                        member.findtext("Owner") or "",
                    )
                )
            token = root.findtext(".//NextToken")
            if not token:
                break
            params = {"TopicArn": topic_arn, "NextToken": token}
        return list(await asyncio.gather(*(self._filtered(origin, principal, r) for r in listed)))

    async def _filtered(
        self, origin: Scope, principal: Principal, row: SubscriptionRow
    ) -> SubscriptionRow:
        if row.pending:
            return row
        try:
            root = await self.call(
                origin, principal, "GetSubscriptionAttributes", {"SubscriptionArn": row.arn}
            )
        except WireError as exc:
            return dataclasses.replace(row, error=exc.message or exc.code)
        found = _attributes(root)
        return dataclasses.replace(
            row,
            filter_policy=found.get("FilterPolicy", ""),
            filter_policy_scope=found.get("FilterPolicyScope", ""),
            role_arn=found.get("SubscriptionRoleArn", ""),
            raw_delivery=found.get("RawMessageDelivery", "") == "true",
        )

    async def subscribe(
        self,
        origin: Scope,
        principal: Principal,
        topic_arn: str,
        protocol: str,
        endpoint: str,
        attributes: dict[str, str],
    ) -> str:
        """The subscription's ARN (Subscribe with ReturnSubscriptionArn); empty attributes
        are not sent."""
        params = {
            "TopicArn": topic_arn,
            "Protocol": protocol,
            "Endpoint": endpoint,
            "ReturnSubscriptionArn": "true",
        }
        for index, (key, value) in enumerate(((k, v) for k, v in attributes.items() if v), start=1):
            params[f"Attributes.entry.{index}.key"] = key
            params[f"Attributes.entry.{index}.value"] = value
        root = await self.call(origin, principal, "Subscribe", params)
        return root.findtext(".//SubscriptionArn") or ""

    async def set_subscription_attribute(
        self, origin: Scope, principal: Principal, arn: str, name: str, value: str
    ) -> None:
        params = {"SubscriptionArn": arn, "AttributeName": name, "AttributeValue": value}
        await self.call(origin, principal, "SetSubscriptionAttributes", params)

    async def unsubscribe(self, origin: Scope, principal: Principal, arn: str) -> None:
        await self.call(origin, principal, "Unsubscribe", {"SubscriptionArn": arn})
