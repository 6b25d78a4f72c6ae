"""The SNS-style topic calls (decision 0132) the console's Topics page makes, in process as the
signed-in principal through the Query machinery (``wire.QueryWire``): the SNS API's own
authorisation (``sns:<Action>`` on the topic's ARN), checks, audit and errors answer them.
Each answer is read into the small rows the page shows; nothing here decides what SNS allows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire, WireError
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["OPAQUE_DATA", "PUSH_ENDPOINT", "SnsWire", "TopicRow"]

# The attributes the page sets, as Ceph RGW names them (and the SNS API takes them).
PUSH_ENDPOINT: Final = "push-endpoint"
OPAQUE_DATA: Final = "OpaqueData"


@dataclass(frozen=True, slots=True)
class TopicRow:
    arn: str
    name: str
    push_endpoint: str
    opaque_data: str
    # GetTopicAttributes' refusal for this topic, in its words ("": read): a policy may let
    # the caller list topics without reading them.
    error: str = ""


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
        return list(await asyncio.gather(*(self._topic(origin, principal, a) for a in arns)))

    async def topic_arns(self, origin: Scope, principal: Principal) -> list[str]:
        """The caller's topics' ARNs alone (ListTopics), for a form's choices."""
        root = await self.call(origin, principal, "ListTopics")
        return [(m.findtext("TopicArn") or "") for m in root.iterfind(".//Topics/member")]

    async def _topic(self, origin: Scope, principal: Principal, arn: str) -> TopicRow:
        name = arn.rsplit(":", 1)[-1]
        try:
            root = await self.call(origin, principal, "GetTopicAttributes", {"TopicArn": arn})
        except WireError as exc:
            return TopicRow(arn, name, "", "", exc.message or exc.code)
        found = _attributes(root)
        return TopicRow(arn, name, found.get(PUSH_ENDPOINT, ""), found.get(OPAQUE_DATA, ""))

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
