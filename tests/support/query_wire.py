"""What the in-process clients of the Query-style APIs (support/ec2app.py for EC2 and Auto
Scaling, support/queryapp.py for IAM, STS and SNS) share of botocore: one service model per
service, and an answer as sent, parsed as boto3 parses it only when asked."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Literal

import botocore.session
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import create_parser

__all__ = ["Answer", "service_model"]

_SESSION = botocore.session.get_session()
_REQUEST_ID = re.compile(rb"<requestId>[^<]*</requestId>|<RequestId>[^<]*</RequestId>")


@functools.cache
def service_model(service: str) -> ServiceModel:
    """One model per service for the whole run, as one boto3 client keeps: botocore caches
    each shape it resolves on the model, and a model made again for every call resolved them
    all again (most of the parsing's CPU in the isolation matrices)."""
    return _SESSION.get_service_model(service)


@dataclass(frozen=True)
class Answer:
    """One answer of an app: its status, headers and body as sent, and how to parse it."""

    status: int
    headers: dict[str, str]
    body: bytes
    model: OperationModel
    protocol: Literal["ec2", "query"]

    def parsed(self) -> Any:
        """The answer as boto3 reads it."""
        response = {"status_code": self.status, "headers": self.headers, "body": self.body}
        return create_parser(self.protocol).parse(response, self.model.output_shape)

    def content(self) -> bytes:
        """The body without its request id, which is new in every answer: two answers of the
        same content are the same bytes."""
        return _REQUEST_ID.sub(b"", self.body)
