"""An HTTP endpoint destination's protocol (decision 0250), as AWS's "HTTP endpoint delivery
request and response specifications" lay it out, with no I/O: the request a batch becomes,
the answer that acknowledges it, and the ports the deliverer sends and reads secrets through.

**The request.** ``POST`` to the endpoint's URL, the body JSON
``{"requestId", "timestamp", "records": [{"data": <base64>}]}`` (gzip'd, with
``Content-Encoding: gzip``, when the RequestConfiguration's ContentEncoding is GZIP), headers
``X-Amz-Firehose-Protocol-Version: 1.0``, ``X-Amz-Firehose-Request-Id``,
``X-Amz-Firehose-Source-Arn``, ``X-Amz-Firehose-Access-Key`` (the AccessKey or the secret's
``api_key``, when there is one), ``X-Amz-Firehose-Common-Attributes``
(``{"commonAttributes": {…}}``, when there are some) and ``Content-Type: application/json``.
The request id is the same at every attempt of one batch (AWS: endpoints may deduplicate on
it): it is derived from the stream and the batch's first and last record ids.

**The answer.** A 200 whose JSON body carries the same ``requestId`` acknowledges the batch;
anything else is a failed attempt named by AWS's delivery error codes
(``HttpEndpoint.DestinationException``, ``HttpEndpoint.InvalidResponseFromDestination``;
the sender adds ``HttpEndpoint.RequestTimeout`` and ``HttpEndpoint.ConnectionFailed``).
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.firehose.model import BufferedRecord, DeliveryFailed, DeliveryStream

__all__ = [
    "BACKUP_MODES",
    "CONTENT_ENCODINGS",
    "FAILED_TYPE",
    "PROTOCOL_VERSION",
    "EndpointAnswer",
    "EndpointRequest",
    "EndpointSecrets",
    "EndpointSender",
    "check_answer",
    "endpoint_request",
    "request_id",
]

PROTOCOL_VERSION: Final = "1.0"
CONTENT_ENCODINGS: Final = ("NONE", "GZIP")
BACKUP_MODES: Final = ("FailedDataOnly", "AllData")
# The folder AWS writes an HTTP endpoint's undelivered records under in the backup bucket.
FAILED_TYPE: Final = "http-endpoint-failed"
# How much of a refusing answer's body the error message quotes (AWS: "truncated").
_QUOTED: Final = 256
_BATCHES: Final = uuid.UUID("6f1c1d1e-8a39-4c4e-9a53-0250f12e4a77")


@dataclass(frozen=True, slots=True)
class EndpointRequest:
    url: str
    request_id: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class EndpointAnswer:
    status: int
    body: bytes


class EndpointSender(Protocol):
    async def send(self, stream: DeliveryStream, request: EndpointRequest) -> EndpointAnswer:
        """The request sent to the stream's endpoint; :class:`DeliveryFailed` when no answer
        came (``HttpEndpoint.RequestTimeout``, ``HttpEndpoint.ConnectionFailed``, an
        address the platform may not call)."""
        ...


class EndpointSecrets(Protocol):
    """The Secrets Manager secrets an endpoint's access key may be kept in."""

    async def check(self, stream: DeliveryStream) -> None:
        """At creation and update: ``InvalidArgument`` unless the secret is one of the
        stream's account and the role reading it is the account's and trusts Firehose."""
        ...

    async def access_key(self, stream: DeliveryStream) -> str:
        """The secret's ``api_key``, read as the role; :class:`DeliveryFailed` when it
        cannot be (gone, refused, not ``{"api_key": "…"}``)."""
        ...


def request_id(stream: DeliveryStream, records: Sequence[BufferedRecord]) -> str:
    """One batch's request id, the same at each of its attempts."""
    return str(
        uuid.uuid5(_BATCHES, f"{stream.arn}\n{records[0].record_id}\n{records[-1].record_id}")
    )


def endpoint_request(
    stream: DeliveryStream,
    records: Sequence[BufferedRecord],
    opened: Sequence[bytes],
    access_key: str | None,
    now: int,
) -> EndpointRequest:
    """The request delivering ``opened`` (the records' data) to the stream's endpoint."""
    http = stream.http
    if http is None:
        raise ValueError("the stream has no HTTP endpoint")
    ident = request_id(stream, records)
    document = {
        "requestId": ident,
        "timestamp": now,
        "records": [{"data": base64.b64encode(data).decode()} for data in opened],
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Amz-Firehose-Protocol-Version": PROTOCOL_VERSION,
        "X-Amz-Firehose-Request-Id": ident,
        "X-Amz-Firehose-Source-Arn": stream.arn,
    }
    if http.content_encoding == "GZIP":
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    if access_key is not None:
        headers["X-Amz-Firehose-Access-Key"] = access_key
    if http.common_attributes:
        headers["X-Amz-Firehose-Common-Attributes"] = json.dumps(
            {"commonAttributes": dict(http.common_attributes)}, separators=(",", ":")
        )
    return EndpointRequest(http.url, ident, headers, body)


def check_answer(answer: EndpointAnswer, ident: str) -> None:
    """Nothing when ``answer`` acknowledges request ``ident``; else :class:`DeliveryFailed`."""
    if answer.status != 200:
        quoted = answer.body[:_QUOTED].decode("utf-8", "replace")
        raise DeliveryFailed(
            "HttpEndpoint.DestinationException",
            f"The following response was received from the endpoint destination. "
            f"{answer.status}: {quoted}",
        )
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("requestId") != ident:
        raise DeliveryFailed(
            "HttpEndpoint.InvalidResponseFromDestination",
            "The response received from the endpoint is invalid: it must be JSON carrying "
            "the request's requestId.",
        )
