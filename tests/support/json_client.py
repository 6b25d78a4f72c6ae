"""A signed in-process client of an AWS JSON-protocol app (KMS, SQS): the request botocore
sends (``X-Amz-Target``, JSON body, SigV4), driven straight into the app, its reply, the
harnesses' switches of signer (another tenant, an IAM user, nobody), and their calls as boto3
makes them (:class:`ModelledCalls`: botocore's model validating, serialising and parsing)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.iam.service import IdentityService
from support.asgi import AsgiApp, post

__all__ = ["CallFailed", "JsonReply", "ModelledCalls", "Signers", "signed_json_post"]


@dataclass
class JsonReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        parsed = json.loads(self.body)
        assert isinstance(parsed, dict)
        return parsed

    def error_fields(self) -> dict[str, Any]:
        """The error body, once it is exactly ``__type`` and a non-empty ``message``."""
        parsed = self.json()
        assert set(parsed) == {"__type", "message"} and parsed["message"]
        return parsed


async def signed_json_post(
    app: AsgiApp,
    target: str,
    payload: dict[str, Any] | bytes | None,
    *,
    content_type: str,
    credentials: Credentials | None,
    service: str,
    region: str,
) -> JsonReply:
    """POST ``payload`` (JSON-encoded unless bytes) to ``app`` for ``target``, signed with
    ``credentials`` for ``service`` in ``region`` (unsigned without them)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload or {}).encode()
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9000/",
        data=body,
        headers={"Content-Type": content_type, "X-Amz-Target": target},
    )
    if credentials is not None:
        SigV4Auth(credentials, service, region).add_auth(request)
    status, headers, answer = await post(
        app, dict(request.headers.items()), body, ("127.0.0.1", 50000)
    )
    assert headers["x-amzn-requestid"]
    return JsonReply(status, headers, answer)


class Signers:
    """For a harness dataclass with these fields: the same harness, signing as someone else."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str

    async def other_tenant(self, name: str) -> Self:
        """Signing as the root user of a new tenant."""
        created = await self.identity.create_tenant(name)
        return dataclasses.replace(
            self,
            credentials=Credentials(created.access_key_id, created.secret_access_key),
            tenant_id=created.tenant.id,
        )

    async def iam_user(self, name: str) -> Self:
        """Signing as a new IAM user of this tenant (an access key, no policy)."""
        await self.identity.create_user(self.tenant_id, name)
        created = await self.identity.create_access_key(self.tenant_id, name)
        return dataclasses.replace(
            self, credentials=Credentials(created.key.access_key_id, created.secret_access_key)
        )

    def anonymous(self) -> Self:
        return dataclasses.replace(self, credentials=None)


@dataclass
class CallFailed(Exception):
    status: int
    code: str
    message: str


class ModelledCalls(Signers):
    """For a harness of a JSON-protocol app whose class names the API (``target_prefix``, as
    in ``X-Amz-Target``; ``service`` and its botocore ``model``; the app's ``content_type``):
    raw calls, calls as boto3 makes them, and expected refusals."""

    app: AsgiApp
    target_prefix: ClassVar[str]
    service: ClassVar[str]
    model: ClassVar[ServiceModel]
    content_type: ClassVar[str]
    region: ClassVar[str] = "eu-fr-1"

    async def raw(self, action: str, payload: dict[str, Any] | bytes) -> JsonReply:
        return await signed_json_post(
            self.app,
            f"{self.target_prefix}.{action}",
            payload,
            content_type=self.content_type,
            credentials=self.credentials,
            service=self.service,
            region=self.region,
        )

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` as boto3 sends it (its model validating ``params``), its answer
        parsed by botocore's JSON parser; a failure raises :class:`CallFailed`."""
        model = self.model.operation_model(operation)
        if model.input_shape is not None:  # ACM's GetAccountConfiguration takes nothing
            validate_parameters(params, model.input_shape)
        request = create_serializer("json").serialize_to_request(params, model)
        reply = await self.raw(operation, request["body"])
        parsed = create_parser("json").parse(
            {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
            model.output_shape,
        )
        if reply.status >= 300:
            raise CallFailed(reply.status, parsed["Error"]["Code"], parsed["Error"]["Message"])
        parsed.pop("ResponseMetadata", None)
        return dict(parsed)

    async def fails(self, operation: str, code: str, **params: Any) -> str:
        """The message of ``operation``'s refusal, which must be ``code``."""
        try:
            await self.client(operation, **params)
        except CallFailed as exc:
            assert exc.code == code, (exc.code, exc.message)
            return exc.message
        raise AssertionError(f"{operation} succeeded")
