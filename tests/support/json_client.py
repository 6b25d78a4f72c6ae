"""A signed in-process client of an AWS JSON-protocol app (KMS, SQS): the request botocore
sends (``X-Amz-Target``, JSON body, SigV4), driven straight into the app, its reply, and the
harnesses' switches of signer (another tenant, an IAM user, nobody)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from andromede.iam.service import IdentityService
from support.asgi import AsgiApp, post

__all__ = ["JsonReply", "Signers", "signed_json_post"]


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
