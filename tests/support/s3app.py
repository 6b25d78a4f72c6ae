"""The S3 ASGI app in process on the in-memory twins, and a client that signs with botocore.

For tests of the wire layer in the fast loop (no server process, no sockets).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as ElementTree
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtS3SigV4AsymAuth

from andromede.app import operator_access_service, s3_services, storage_limits, topic_service
from andromede.audit.access_service import OperatorAccessService
from andromede.audit.access_store import MemoryAccessRequestStore
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY
from andromede.iam.model import Principal
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.s3.app import S3App
from andromede.s3.handlers.common import NotificationFunctions
from andromede.s3.request_metrics import RequestMetricsHook
from andromede.settings import Settings
from andromede.storage.access_log_delivery import AccessLogDelivery
from andromede.storage.access_points import AccessPointStore
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.expiration_view import ExpirationView
from andromede.storage.multi_region_access_points import MultiRegionAccessPointStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.wiring.route53 import nearest_region, route53_limits
from support.keys import cipher_in
from support.rawclient import RawClient

__all__ = ["REGION", "Client", "Reply", "in_process_client"]

REGION = "eu-fr-1"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""

    def error_code(self) -> str:
        root = ElementTree.fromstring(self.body)
        assert root.tag == "Error"
        fields = {child.tag: child.text for child in root}
        assert fields["RequestId"] == self.headers["x-amz-request-id"]
        assert fields["Message"] and "Resource" in fields
        return fields["Code"] or ""


@dataclass
class Client:
    app: S3App
    credentials: Credentials | None
    audit_store: MemoryAuditStore
    audit: AuditService
    tenant_id: str = ""
    identity: IdentityService | None = None
    # The app's object service and metadata store, for tests that drive them beside it.
    objects: ObjectService | None = None
    store: MemoryMetadataStore | None = None
    access_logs: AccessLogDelivery | None = None
    expirations: ExpirationView | None = None
    # Operator access requests, which S3 asks on each request of an operator's credentials.
    operator_access: OperatorAccessService | None = None
    # Set: requests go unsigned, as this principal, the way the web console calls S3 in
    # process (``TRUSTED_PRINCIPAL_SCOPE_KEY``, decision 0111).
    console_principal: Principal | None = None
    # Bucket notification topics (decision 0132), which PutBucketNotificationConfiguration
    # checks; the events land in ``store.notification_outbox``.
    topics: TopicService | None = None
    # Where the topics' service queues S3's test event of each configuration accepted
    # (increment 4), apart from the store's outbox so that the writes' events stay alone there.
    event_queue: MemoryEventQueue | None = None

    def as_anonymous(self) -> Client:
        return dataclasses.replace(self, credentials=None, tenant_id="")

    async def other_tenant(self, name: str) -> Client:
        """A client of a second tenant (its root user) on the same app."""
        assert self.identity is not None
        created = await self.identity.create_tenant(name)
        return dataclasses.replace(
            self,
            credentials=Credentials(created.access_key_id, created.secret_access_key),
            tenant_id=created.tenant.id,
        )

    async def iam_user(self, name: str) -> Client:
        """A client of a new IAM user of this client's tenant: an access key, no policy."""
        assert self.identity is not None
        await self.identity.create_user(self.tenant_id, name)
        created = await self.identity.create_access_key(self.tenant_id, name)
        return dataclasses.replace(
            self, credentials=Credentials(created.key.access_key_id, created.secret_access_key)
        )

    async def as_console_user(self, user_name: str) -> Client:
        """This client's tenant's ``user_name`` signed in to the console (a password set for it
        here): its requests carry the session's principal as the console's do."""
        assert self.identity is not None
        password = "Console-Password-42"
        await self.identity.create_login_profile(self.tenant_id, user_name, password)
        session = await self.identity.console_login(self.tenant_id, user_name, password)
        return dataclasses.replace(self, credentials=None, console_principal=session.principal)

    def raw_signer(self) -> RawClient:
        """Signs with a chosen clock or presigns (the requests still go in process)."""
        assert self.credentials is not None
        return RawClient(
            "127.0.0.1", 9000, self.credentials.access_key, self.credentials.secret_key, REGION
        )

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        region: str = REGION,
        sign: bool = True,
        stall: bool = False,
        source_ip: str | None = None,
        host: str = "127.0.0.1:9000",
        region_set: str | None = None,
    ) -> Reply:
        """Send one request; ``sign=False`` sends ``headers`` as given (pre-signed by the
        caller, or anonymous); ``stall`` announces the body but never sends it; ``source_ip``
        is the client address the server sees (none by default); ``host`` the Host header sent
        (a website endpoint's, say), signed as sent; ``region_set`` signs with SigV4a (the
        CRT's signer, as botocore signs for a Multi-Region Access Point) for that set."""
        url = f"http://{host}{path}"
        request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
        if "x-amz-content-sha256" not in {k.lower() for k in request.headers}:
            request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        if sign and self.credentials is not None and region_set is not None:
            CrtS3SigV4AsymAuth(self.credentials, "s3", region_set).add_auth(request)
        elif sign and self.credentials is not None:
            S3SigV4Auth(self.credentials, "s3", region).add_auth(request)
        prepared = request.prepare()
        raw_path, _, query = prepared.url[len(f"http://{host}") :].partition("?")
        scope = {
            "type": "http",
            "method": method,
            "path": raw_path,
            "raw_path": raw_path.encode(),
            "query_string": query.encode(),
            "scheme": "http",
            "headers": [(b"host", host.encode())]
            + [
                (k.lower().encode(), str(v).encode())
                for k, v in prepared.headers.items()
                if k.lower() != "host"
            ],
        }
        if source_ip is not None:
            scope["client"] = (source_ip, 40000)
        if self.console_principal is not None:
            scope[TRUSTED_PRINCIPAL_SCOPE_KEY] = self.console_principal
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if stall:
                await asyncio.Event().wait()  # never set: the client went quiet
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        # In a task of its own, as an ASGI server runs each request: what the request sets in
        # its context (``http.requester``) ends with it.
        await asyncio.create_task(self.app(scope, receive, send))
        start = sent[0]
        return Reply(
            status=start["status"],
            headers={k.decode().lower(): v.decode() for k, v in start["headers"]},
            body=b"".join(m.get("body", b"") for m in sent[1:]),
        )


@asynccontextmanager
async def in_process_client(
    data_dir: Path,
    *,
    identity_clock: Callable[[], float] = time.time,
    billing: BillingService | None = None,
    access_points: AccessPointStore | None = None,
    multi_region_access_points: MultiRegionAccessPointStore | None = None,
    request_metrics: Callable[[MemoryMetadataStore], RequestMetricsHook] | None = None,
    functions: NotificationFunctions | None = None,
    **overrides: Any,
) -> AsyncIterator[Client]:
    """An S3 app on memory twins with ``overrides`` applied to its settings, and its client;
    ``identity_clock`` is identity's (temporary credentials' expiry); ``billing``, where the
    app counts its requests (none by default); ``access_points``, the store whose aliases the
    app resolves (none by default), ``multi_region_access_points`` the Multi-Region Access
    Points' (none by default); ``request_metrics``, what makes the CloudWatch request
    metrics hook from the app's store (none by default, decision 0187)."""
    settings = Settings(data_dir=data_dir, region=REGION, **overrides)
    identity = IdentityService(
        MemoryIdentityStore(), SecretSealer(os.urandom(32)), clock=identity_clock
    )
    boot = await identity.bootstrap()
    assert boot is not None
    store = MemoryMetadataStore()
    objects = ObjectService(
        store,
        MemoryBlobStore(),
        dataclasses.replace(storage_limits(settings), deletion_grace=0),
        cipher_in(data_dir / "keys"),
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    access_logs = AccessLogDelivery(
        objects,
        store,
        interval=settings.server_access_log_interval,
        max_buffered_lines=settings.server_access_log_buffer,
    )
    # Refreshed by the tests that need it (a change made by another process), not on a timer.
    expirations = ExpirationView(store, period=settings.lifecycle_interval)
    operator_access = operator_access_service(settings, MemoryAccessRequestStore(), audit)
    event_queue = MemoryEventQueue([])
    topics = topic_service(settings, MemoryTopicStore(), event_queue)
    app = S3App(
        s3_services(
            settings,
            objects,
            identity,
            access_logs=access_logs,
            expirations=expirations,
            operator_access=operator_access,
            topics=topics,
            access_points=access_points,
            multi_region_access_points=multi_region_access_points,
            request_metrics=None if request_metrics is None else request_metrics(store),
            functions=functions,
            # As ``serve`` wires it: the clients' places Route 53 reads (decision 0413).
            nearest_region=nearest_region(settings, route53_limits(settings)),
        ),
        identity,
        audit,
        billing=billing,
    )
    try:
        yield Client(
            app,
            Credentials(boot.access_key_id, boot.secret_access_key),
            audit_store,
            audit,
            boot.tenant.id,
            identity,
            objects,
            store,
            access_logs,
            expirations,
            operator_access,
            topics=topics,
            event_queue=event_queue,
        )
    finally:
        await audit.close()
