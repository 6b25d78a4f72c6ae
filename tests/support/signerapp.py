"""AWS Signer's restJson1 app in process (decision 0386): SignerApp over the in-memory identity
store and signer store, its jobs' objects a :class:`~support.dict_objects.DictObjects`; calls
made through botocore's own model of the service (its rest-json serializer and parser, the
parameters validated first), signed with SigV4 for service ``signer``."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.settings import Settings
from andromede.signer.service import SignerLimits, SignerService
from andromede.signer.store import MemorySignerStore
from andromede.signerapi.app import SignerApp
from andromede.wiring.queues import KeySealer
from support.asgi import post
from support.dict_objects import DictObjects
from support.json_client import JsonReply, Signers

__all__ = ["CallFailed", "World", "signer_world"]

REGION: Final = "eu-fr-1"
MODEL: Final = botocore.session.get_session().get_service_model("signer")


@dataclass
class CallFailed(Exception):
    status: int
    code: str
    message: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class World(Signers):
    app: SignerApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    signer: SignerService
    objects: DictObjects
    audit_store: MemoryAuditStore
    audit: AuditService

    async def raw(self, method: str, path: str, body: bytes = b"", query: str = "") -> JsonReply:
        url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
        request = AWSRequest(
            method=method, url=url, data=body, headers={"Content-Type": "application/json"}
        )
        if self.credentials is not None:
            SigV4Auth(self.credentials, "signer", REGION).add_auth(request)
        status, headers, answer = await post(
            self.app, dict(request.headers.items()), body, ("127.0.0.1", 50000),
            method=method, path=path, query=query.encode(),
        )  # fmt: skip
        assert headers["x-amzn-requestid"]
        return JsonReply(status, headers, answer)

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        model = MODEL.operation_model(operation)
        validate_parameters(params, model.input_shape)
        request = create_serializer("rest-json").serialize_to_request(params, model)
        query = urlencode(request["query_string"], doseq=True)
        body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
        reply = await self.raw(request["method"], request["url_path"], body, query)
        parsed = create_parser("rest-json").parse(
            {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
            model.output_shape,
        )
        if reply.status >= 300:
            raise CallFailed(
                reply.status,
                parsed["Error"]["Code"],
                parsed["Error"]["Message"],
                json.loads(reply.body or b"{}"),
                dict(reply.headers),
            )
        parsed.pop("ResponseMetadata", None)
        return dict(parsed)

    async def fails(self, operation: str, code: str, **params: Any) -> CallFailed:
        try:
            await self.client(operation, **params)
        except CallFailed as exc:
            assert exc.code == code, (exc.code, exc.message)
            return exc
        raise AssertionError(f"{operation} succeeded")


async def signer_world(tmp_path: Path, **settings_given: Any) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION, **settings_given)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    objects = DictObjects()
    limits = SignerLimits(
        settings.signer_max_profiles,
        settings.signer_max_object_bytes,
        settings.signer_max_profile_permissions,
    )
    signer = SignerService(MemorySignerStore(), REGION, KeySealer(keys), objects, limits)
    try:
        yield World(
            SignerApp(signer, identity, audit, settings),
            identity,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            signer,
            objects,
            audit_store,
            audit,
        )
    finally:
        await audit.close()
        keys.close()
