"""Clients of the management API: SigV4 signing (service ``andromede``) for httpx and requests,
as an operator would write it with botocore, and the in-process app on memory twins."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from andromede.api.app import ManagementApi
from andromede.app import audit_key_name, storage_limits, tenant_closer
from andromede.audit.access_service import OperatorAccessService
from andromede.audit.access_store import MemoryAccessRequestStore
from andromede.audit.cosigned import MemoryCosignatureStore
from andromede.audit.service import AuditService
from andromede.audit.signing import KEY_FILE_NAME, FileLogSigningKey
from andromede.audit.store import MemoryAuditStore
from andromede.audit.trail import AuditTrail
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.compute.driver import HypervisorDriver
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.host_processes import HostProcesses, read_host_processes
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityLimits, IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser, alias_names
from andromede.notifications.memory import MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.model import Bucket
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.keys import cipher_in

__all__ = ["REGION", "ApiHarness", "HttpxSigV4", "RequestsSigV4", "api_harness", "sigv4_headers"]

REGION = "eu-fr-1"
SERVICE = "andromede"


def sigv4_headers(
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    credentials: Credentials,
    region: str = REGION,
    service: str = SERVICE,
) -> dict[str, str]:
    """The headers botocore's SigV4Auth adds (Authorization, X-Amz-Date, the session token)."""
    signed = {k: v for k, v in headers.items() if k.lower() == "content-type"}
    request = AWSRequest(method=method, url=url, data=body, headers=signed)
    SigV4Auth(credentials, service, region).add_auth(request)
    return {
        name: value
        for name, value in request.headers.items()
        if name.lower() in ("authorization", "x-amz-date", "x-amz-security-token")
    }


class HttpxSigV4(httpx.Auth):
    requires_request_body = True

    def __init__(self, credentials: Credentials, region: str = REGION, service: str = SERVICE):
        self.credentials = credentials
        self.region = region
        self.service = service

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(
            sigv4_headers(
                request.method,
                str(request.url),
                request.content,
                dict(request.headers),
                self.credentials,
                self.region,
                self.service,
            )
        )
        yield request


class RequestsSigV4(requests.auth.AuthBase):
    def __init__(self, credentials: Credentials, region: str = REGION):
        self.credentials = credentials
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        assert request.url is not None and request.method is not None
        request.headers.update(
            sigv4_headers(
                request.method,
                request.url,
                body,
                dict(request.headers),
                self.credentials,
                self.region,
            )
        )
        return request


@dataclass
class ApiHarness:
    app: ManagementApi
    identity: IdentityService
    audit: AuditService
    audit_store: MemoryAuditStore
    trail: AuditTrail
    # The witnesses' cosignatures the trail serves (decision 0122).
    cosigned: MemoryCosignatureStore
    settings: Settings
    operator: Credentials
    admin: Credentials
    admin_tenant_id: str
    keys: KeyService
    customer_keys: CustomerKeyService
    operator_access: OperatorAccessService
    billing: BillingService
    # The buckets the tenant closer finds (the harness has no object service): tests add some.
    buckets: list[Bucket] = field(default_factory=list)
    # The buckets whose settings the API changes (data events, decision 0109): tests make
    # them in this store.
    bucket_store: MemoryMetadataStore = field(default_factory=MemoryMetadataStore)
    # The event notification topics closing a tenant deletes (decision 0132).
    topics: TopicService | None = None
    # The tenants whose other contexts' data (Firehose's streams, decision 0223) closing
    # asked to delete, in order.
    forgotten: list[str] = field(default_factory=list)
    # The hypervisor hosts ``/hosts/metrics`` asks (decision 0389): tests tell them what to
    # answer, or add one that does not.
    hosts: list[HypervisorDriver] = field(default_factory=list)

    def client(self, auth: httpx.Auth | None = None, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://127.0.0.1:9001",
            auth=auth,
            **kwargs,
        )

    def as_operator(self) -> httpx.AsyncClient:
        return self.client(HttpxSigV4(self.operator))

    def as_admin(self) -> httpx.AsyncClient:
        return self.client(HttpxSigV4(self.admin))


@asynccontextmanager
async def api_harness(
    data_dir: Path,
    clock: Callable[[], float] = time.time,
    access_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    **overrides: Any,
) -> AsyncIterator[ApiHarness]:
    """The management API on memory twins, with a tenant (``admin``) and an operator.

    ``clock`` is identity's (sessions, TOTP); ``access_clock`` the access requests' (their
    expiry); SigV4 checks dates against the real time."""
    settings = Settings(data_dir=data_dir, region=REGION, **overrides)
    identity = IdentityService(
        MemoryIdentityStore(),
        SecretSealer(os.urandom(32)),
        limits=IdentityLimits(
            login_max_failures=settings.login_max_failures,
            login_backoff_max=settings.login_backoff_max,
            password_min_length=settings.password_min_length,
            console_session_idle_timeout=settings.console_session_idle_timeout,
        ),
        clock=clock,
    )
    boot = await identity.bootstrap()
    operator = await identity.bootstrap_operator()
    assert boot is not None and operator is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    # The signing key as a server keeps it (keys/audit-log.key), without the database check.
    cosigned = MemoryCosignatureStore()
    trail = AuditTrail(
        audit_store,
        FileLogSigningKey.load_or_create(
            data_dir / "keys" / KEY_FILE_NAME, audit_key_name(settings)
        ),
        max_entries=settings.audit_max_entries,
        cosigned=cosigned,
    )
    keys = KeyService(LocalKeyFileProvider(data_dir / "keys"))
    key_store = MemoryCustomerKeyStore()
    customer_keys = CustomerKeyService(
        key_store,
        keys,
        KmsAuthoriser(identity.policies_for, REGION, key_aliases=alias_names(key_store)),
        region=REGION,
    )
    # No object service in this harness: a test puts in ``buckets`` the buckets closing a
    # tenant would find (Object Lock's refusal, decision 0102).
    buckets: list[Bucket] = []

    async def buckets_of(tenant_id: str) -> list[Bucket]:
        return [b for b in buckets if b.tenant_id == tenant_id]

    topics = TopicService(MemoryTopicStore(), region=REGION, max_topics=10)
    forgotten: list[str] = []  # what the other contexts' deletions were asked for

    async def forget(tenant_id: str) -> None:
        forgotten.append(tenant_id)

    closer = tenant_closer(
        identity, keys, customer_keys, buckets=buckets_of, topics=topics, others=[forget]
    )
    operator_access = OperatorAccessService(
        MemoryAccessRequestStore(),
        audit,
        max_duration=settings.operator_access_max_duration,
        reason_max_length=settings.operator_access_reason_max_length,
        request_ttl=settings.operator_access_request_ttl,
        clock=access_clock,
    )
    # Usage reports read the store; nothing is metered here unless a test counts it.
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    bucket_store = MemoryMetadataStore()
    hosts: list[HypervisorDriver] = [MemoryDriver("host-a")]

    async def read_hosts() -> list[HostProcesses]:
        return await read_host_processes(hosts)

    objects = ObjectService(
        bucket_store, MemoryBlobStore(), storage_limits(settings), cipher_in(data_dir / "keys")
    )
    try:
        yield ApiHarness(
            app=ManagementApi(
                identity,
                audit,
                settings,
                close_tenant=closer,
                trail=trail,
                operator_access=operator_access,
                billing=billing,
                buckets=objects,
                hosts=read_hosts,
            ),
            identity=identity,
            audit=audit,
            audit_store=audit_store,
            trail=trail,
            cosigned=cosigned,
            settings=settings,
            operator=Credentials(operator.access_key_id, operator.secret_access_key),
            admin=Credentials(boot.access_key_id, boot.secret_access_key),
            admin_tenant_id=boot.tenant.id,
            topics=topics,
            forgotten=forgotten,
            keys=keys,
            customer_keys=customer_keys,
            operator_access=operator_access,
            billing=billing,
            buckets=buckets,
            bucket_store=bucket_store,
            hosts=hosts,
        )
    finally:
        await audit.close()
        keys.close()
