"""SQS's Query protocol as the clients that still speak it send it (decision 0173): botocore's
own Query serializer and parser over the SQS model botocore shipped while SQS spoke Query
(``support/sqs_query_model``), signed with botocore's SigV4, driven straight into the in-process
SQS app; and raw form posts and GETs as hand-written scripts send them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from botocore import parsers, serialize
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.loaders import Loader
from botocore.model import ServiceModel

from support.asgi import post
from support.sqsapp import REGION, Harness

__all__ = ["MODEL_DIR", "QueryClient", "RawReply", "query_model"]

MODEL_DIR = Path(__file__).parent / "sqs_query_model"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def query_model() -> ServiceModel:
    loader = Loader(extra_search_paths=[str(MODEL_DIR)], include_default_search_paths=False)
    return ServiceModel(loader.load_service_model("sqs", "service-2"), "sqs")


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes


class QueryClient:
    """A Query-speaking SQS client of a harness's app, signing as its credentials."""

    def __init__(self, sqs: Harness) -> None:
        self._sqs = sqs
        self._model = query_model()
        self._serializer = serialize.create_serializer("query")
        self._parser = parsers.create_parser("query")

    async def raw(
        self,
        params: dict[str, str] | None,
        *,
        method: str = "POST",
        path: str = "/",
        query: dict[str, str] | None = None,
        raw_query: bytes | None = None,
        content_type: str | None = FORM,
        signed: bool = True,
    ) -> RawReply:
        """One request: ``params`` as a form body, ``query`` as the query string."""
        body = urlencode(params).encode() if params is not None else b""
        query_string = raw_query.decode() if raw_query else urlencode(query) if query else ""
        url = f"http://127.0.0.1:9000{path}" + (f"?{query_string}" if query_string else "")
        headers = {"Content-Type": content_type} if content_type else {}
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        if signed and self._sqs.credentials is not None:
            SigV4Auth(self._sqs.credentials, "sqs", REGION).add_auth(request)
        status, answer, payload = await post(
            self._sqs.app,
            dict(request.headers.items()),
            body,
            ("127.0.0.1", 50000),
            method=method,
            path=path,
            query=query_string.encode(),
        )
        assert answer["x-amzn-requestid"]
        return RawReply(status, answer, payload)

    async def call(self, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """botocore's Query serialisation of the call, and its parse of the answer (an error's
        under ``Error``, with ``status``)."""
        model = self._model.operation_model(operation)
        request = self._serializer.serialize_to_request(params or {}, model)
        reply = await self.raw(request["body"])
        parsed = self._parser.parse(
            {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
            model.output_shape,
        )
        parsed["status"] = reply.status
        return dict(parsed)

    async def ok(self, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.call(operation, params)
        assert answer["status"] == 200, answer
        return answer

    async def error(self, operation: str, params: dict[str, Any] | None = None) -> str:
        answer = await self.call(operation, params)
        assert answer["status"] >= 400 and answer["Error"]["Message"], answer
        return str(answer["Error"]["Code"])
