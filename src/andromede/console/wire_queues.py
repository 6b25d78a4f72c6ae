"""The SQS calls (decision 0158) the console's Queues page makes, in process as the signed-in
principal through SQS's JSON protocol (``sqsapi.app.SqsApp``): its authorisation
(``sqs:<Action>`` by IAM and queue policies), checks, audit and errors answer them. Each answer
is read into the small rows the page shows; nothing here decides what SQS allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from andromede.console.wire import JsonWire, WireError
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["QueueRow", "SqsWire"]

_COUNTS: Final = (
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
# What the list shows of a queue's kind (decision 0164) and encryption (decision 0165).
_KIND: Final = ("FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled", "KmsMasterKeyId")


@dataclass(frozen=True, slots=True)
class QueueRow:
    name: str
    url: str
    arn: str = ""
    visible: str = ""
    in_flight: str = ""
    delayed: str = ""
    fifo: bool = False
    content_based_deduplication: bool = False
    # SSE-SQS, SSE-KMS with its key, or "" (neither: SqsManagedSseEnabled=false, no key)
    encryption: str = ""
    # GetQueueAttributes' refusal for this queue, in its words ("": read): a policy may let
    # the caller list queues without reading them.
    error: str = ""


class SqsWire(JsonWire):
    """The queue calls the console makes (``AmazonSQS`` JSON), as ``principal``."""

    target_prefix = "AmazonSQS."
    content_type = "application/x-amz-json-1.0"
    internal_error = "InternalFailure"

    async def list_queues(self, origin: Scope, principal: Principal) -> list[QueueRow]:
        """The caller's queues with their message counts, read side by side."""
        listed = await self._json(origin, principal, "ListQueues", {})
        urls = [str(url) for url in listed.get("QueueUrls", [])]
        return list(await asyncio.gather(*(self._queue(origin, principal, u) for u in urls)))

    async def _queue(self, origin: Scope, principal: Principal, url: str) -> QueueRow:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        try:
            answer = await self._json(
                origin,
                principal,
                "GetQueueAttributes",
                {"QueueUrl": url, "AttributeNames": [*_COUNTS, *_KIND]},
            )
        except WireError as exc:
            return QueueRow(name, url, error=exc.message or exc.code)
        found = answer.get("Attributes", {})
        kms_key = str(found.get("KmsMasterKeyId", ""))
        if found.get("SqsManagedSseEnabled") == "true":
            encryption = "SSE-SQS"
        else:
            encryption = f"SSE-KMS {kms_key}" if kms_key else ""
        arn, visible, in_flight, delayed = (str(found.get(key, "")) for key in _COUNTS)
        return QueueRow(
            name,
            url,
            arn,
            visible,
            in_flight,
            delayed,
            fifo=found.get("FifoQueue") == "true",
            content_based_deduplication=found.get("ContentBasedDeduplication") == "true",
            encryption=encryption,
        )

    async def create_queue(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """The new queue's URL (or the existing one's, CreateQueue being idempotent)."""
        payload: dict[str, object] = {"QueueName": name}
        if attributes:
            payload["Attributes"] = dict(attributes)
        answer = await self._json(origin, principal, "CreateQueue", payload)
        return str(answer.get("QueueUrl", ""))

    async def delete_queue(self, origin: Scope, principal: Principal, url: str) -> None:
        await self._json(origin, principal, "DeleteQueue", {"QueueUrl": url})

    async def queue_url(self, origin: Scope, principal: Principal, name: str) -> str:
        """The URL of the caller's queue ``name`` (GetQueueUrl: SQS's QueueDoesNotExist)."""
        answer = await self._json(origin, principal, "GetQueueUrl", {"QueueName": name})
        return str(answer.get("QueueUrl", ""))

    async def attributes(self, origin: Scope, principal: Principal, url: str) -> dict[str, str]:
        """Every attribute of the queue, as GetQueueAttributes ``All`` answers."""
        answer = await self._json(
            origin, principal, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]}
        )
        return {str(k): str(v) for k, v in answer.get("Attributes", {}).items()}

    async def set_attributes(
        self, origin: Scope, principal: Principal, url: str, attributes: Mapping[str, str]
    ) -> None:
        payload = {"QueueUrl": url, "Attributes": dict(attributes)}
        await self._json(origin, principal, "SetQueueAttributes", payload)

    async def purge_queue(self, origin: Scope, principal: Principal, url: str) -> None:
        await self._json(origin, principal, "PurgeQueue", {"QueueUrl": url})
