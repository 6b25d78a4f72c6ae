"""The IAM, STS and SNS Query apps in process on the in-memory identity store, and a client that
serialises, signs and parses exactly as boto3 does (botocore's own serializer, signer, parser
and IAM policy decoding), so the XML shapes are checked against botocore's model without a
server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.handlers import json_decode_policies
from botocore.serialize import create_serializer

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityLimits, IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.iam.web_identity import JwksCache
from andromede.iamapi.app import QueryApp
from andromede.iamapi.iam import IAM
from andromede.iamapi.sns import sns_spec
from andromede.iamapi.sts import STS
from andromede.notifications.memory import MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.settings import Settings
from andromede.wiring.queues import KeySealer
from support.asgi import post
from support.clock import Clock
from support.keys import key_service_in
from support.query_wire import Answer, service_model

REGION = "eu-fr-1"


class ApiError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status} {error.get('Code')}: {error.get('Message')}")
        self.status = status
        self.code = str(error.get("Code"))
        self.message = str(error.get("Message"))


@dataclass
class World:
    identity: IdentityService
    clock: Clock
    apps: dict[str, QueryApp]
    audit_store: MemoryAuditStore
    audit: AuditService
    tenant_id: str = ""
    root: Credentials | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, credentials: Credentials | None, token: str | None = None) -> Client:
        return Client(self, credentials, token)

    async def new_tenant(self, name: str) -> tuple[str, Credentials]:
        created = await self.identity.create_tenant(name)
        return created.tenant.id, Credentials(created.access_key_id, created.secret_access_key)


@dataclass
class Client:
    world: World
    credentials: Credentials | None
    token: str | None = None
    last_body: bytes = b""
    # Sent with each request (signed), as an SDK adds its own (X-Amzn-Trace-Id).
    headers: dict[str, str] = field(default_factory=dict)

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """One operation, as boto3 would send it; ApiError for an error answer."""
        status, parsed = await self.raw(service, operation, **params)
        if "Error" in parsed and status >= 300:
            raise ApiError(status, parsed["Error"])
        return parsed

    async def raw(self, service: str, operation: str, **params: Any) -> tuple[int, Any]:
        answer = await self.send(service, operation, **params)
        return answer.status, parsed(service, answer)

    async def send(self, service: str, operation: str, **params: Any) -> Answer:
        """The answer as sent, parsed only when asked (``parsed``)."""
        model = service_model(service).operation_model(operation)
        serialised = create_serializer("query", include_validation=False).serialize_to_request(
            params, model
        )
        body = serialised["body"]
        data = urlencode(body, doseq=True) if isinstance(body, dict) else str(body)
        request = AWSRequest(
            method="POST",
            url="http://127.0.0.1:9000/",
            data=data.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                **self.headers,
            },
        )
        if self.credentials is not None:
            credentials = Credentials(
                self.credentials.access_key, self.credentials.secret_key, self.token
            )
            SigV4Auth(credentials, service, REGION).add_auth(request)
        prepared = request.prepare()
        status, headers, answer = await post(
            self.world.apps[service],
            dict(prepared.headers.items()),
            data.encode(),
            ("192.0.2.10", 40000),
        )
        self.last_body = answer
        return Answer(status, headers, answer, model, "query")


def parsed(service: str, answer: Answer) -> Any:
    """``answer`` as boto3 reads it, IAM's URL-encoded policy documents decoded as boto3's
    IAM resource does."""
    read = answer.parsed()
    if answer.status < 300 and service == "iam":
        json_decode_policies(read, answer.model)
    return read


@asynccontextmanager
async def query_world(
    clock: Clock,
    data_dir: Path,
    web_identity_keys: JwksCache | None = None,
    limits: IdentityLimits | None = None,
    **settings: Any,
) -> AsyncIterator[World]:
    """IAM and STS apps over one in-memory identity service, with a first tenant ("acme");
    ``web_identity_keys``: where OIDC issuers' keys come from (a test IdP's, in process);
    ``limits``: identity's, other than the defaults; ``settings``: others than the defaults."""
    identity = IdentityService(
        MemoryIdentityStore(),
        SecretSealer(os.urandom(32)),
        limits=limits or IdentityLimits(cache_ttl=30.0),
        clock=clock,
        web_identity_keys=web_identity_keys,
    )
    # IAM server certificates' keys under the account's key ring, as served (decision 0205).
    identity.certificate_sealer = KeySealer(key_service_in(data_dir / "keys"))
    configured = Settings(data_dir=data_dir, region=REGION, **settings)
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    apps = {spec.name: QueryApp(spec, identity, audit, configured) for spec in (IAM, STS)}
    # Bucket notification topics (decision 0132), SNS-style on the Query machinery.
    topics = TopicService(MemoryTopicStore(), region=REGION, max_topics=3)
    apps["sns"] = QueryApp(sns_spec(topics, REGION), identity, audit, configured)
    created = await identity.create_tenant("acme")
    try:
        yield World(
            identity,
            clock,
            apps,
            audit_store,
            audit,
            created.tenant.id,
            Credentials(created.access_key_id, created.secret_access_key),
        )
    finally:
        await audit.close()
