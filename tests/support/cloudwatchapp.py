"""The CloudWatch app in process (decision 0172): CloudWatchApp over the in-memory identity and
metrics stores, and a client that builds each request with botocore's own serializer of the
protocol asked (RPC v2 CBOR, JSON 1.0, Query) from botocore's CloudWatch model, signs it for
service ``monitoring`` and reads the answer with botocore's own parser of that protocol."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from andromede.audit.model import AuditEvent
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.cloudwatchapi.app import CloudWatchApp
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.anomaly import AnomalyLimits, AnomalyService
from andromede.metrics.anomaly_store import MemoryDetectorStore
from andromede.metrics.dashboards import DashboardLimits, DashboardService, MemoryDashboardStore
from andromede.metrics.insight_service import InsightLimits, InsightRuleService
from andromede.metrics.insight_store import MemoryInsightRuleStore
from andromede.metrics.service import MetricLimits, MetricsService
from andromede.metrics.store import MemoryMetricStore
from andromede.metrics.stream_service import MetricStreamService, StreamLimits
from andromede.metrics.streams import MemoryMetricStreamStore
from andromede.settings import Settings
from andromede.wiring.insight_rules import AccountRingSealer, meter_matched_events
from andromede.wiring.logs import LogKeySealer
from support.asgi import post
from support.metering import Metered

__all__ = ["PROTOCOLS", "Harness", "Reply", "cloudwatch", "raw_request"]

REGION = "eu-fr-1"
PROTOCOLS = ("smithy-rpc-v2-cbor", "json", "query")
_MODEL = botocore.session.get_session().get_service_model("cloudwatch")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    parsed: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.parsed.get("Error", {}).get("Code", ""))


async def raw_request(
    app: CloudWatchApp,
    *,
    path: str,
    query: bytes,
    headers: dict[str, str],
    body: bytes,
    credentials: Credentials | None,
    method: str = "POST",
) -> tuple[int, dict[str, str], bytes]:
    """One request, signed for ``monitoring`` when ``credentials`` are given."""
    url = f"http://127.0.0.1:9000{path}" + (f"?{query.decode()}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    if credentials is not None:
        SigV4Auth(credentials, "monitoring", REGION).add_auth(request)
    status, answer, content = await post(
        app, dict(request.headers.items()), body, ("127.0.0.1", 50000),
        method=method, path=path, query=query,
    )  # fmt: skip
    assert answer["x-amzn-requestid"]
    return status, answer, content


@dataclass
class Harness(Metered):
    app: CloudWatchApp
    identity: IdentityService
    metrics: MetricsService
    store: MemoryMetricStore
    audit_store: MemoryAuditStore
    audit: AuditService
    billing: BillingService
    credentials: Credentials | None
    tenant_id: str
    protocol: str = "smithy-rpc-v2-cbor"
    alarms: AlarmService | None = None
    anomaly: AnomalyService | None = None
    streams: MetricStreamService | None = None
    insights: InsightRuleService | None = None

    async def call(self, operation: str, params: dict[str, Any]) -> Reply:
        model = _MODEL.operation_model(operation)
        request = create_serializer(self.protocol).serialize_to_request(params, model)
        body = request["body"]
        if isinstance(body, dict):  # the Query serializer leaves the form as a dict
            body = AWSRequest(method="POST", url="http://x/", data=body).prepare().body
        body = body.encode() if isinstance(body, str) else body or b""
        headers = dict(request["headers"])
        if self.protocol == "query":
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        status, answer, content = await raw_request(
            self.app,
            path=request["url_path"],
            query=b"",
            headers=headers,
            body=body,
            credentials=self.credentials,
        )
        parsed = create_parser(self.protocol).parse(
            {"status_code": status, "headers": answer, "body": content}, model.output_shape
        )
        return Reply(status, answer, content, parsed)

    async def ok(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = await self.call(operation, params)
        assert reply.status == 200, reply.body
        return reply.parsed

    async def audited(self) -> list[AuditEvent]:
        await self.audit.flush()
        return [e for _, e in await self.audit_store.list_events(None, after_id=0, limit=500)]

    def anonymous(self) -> Self:
        return dataclasses.replace(self, credentials=None)

    def speaking(self, protocol: str) -> Self:
        return dataclasses.replace(self, protocol=protocol)

    async def other_tenant(self, name: str) -> Self:
        created = await self.identity.create_tenant(name)
        return dataclasses.replace(
            self,
            credentials=Credentials(created.access_key_id, created.secret_access_key),
            tenant_id=created.tenant.id,
        )

    async def iam_user(self, name: str) -> Self:
        await self.identity.create_user(self.tenant_id, name)
        created = await self.identity.create_access_key(self.tenant_id, name)
        return dataclasses.replace(
            self, credentials=Credentials(created.key.access_key_id, created.secret_access_key)
        )


@pytest.fixture
async def cloudwatch(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(data_dir=tmp_path, region=REGION, metrics_max_body_size=64 * 1024)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    store = MemoryMetricStore()
    metrics = MetricsService(store, limits=MetricLimits(max_metrics=20, max_datapoints=100))
    alarms = AlarmService(MemoryAlarmStore(), metrics, REGION)
    # Small bounds, so that the tests reach them (decision 0189).
    anomaly = AnomalyService(
        MemoryDetectorStore(), metrics, limits=AnomalyLimits(max_per_account=3, page=2)
    )
    metrics.bands = anomaly
    # Small bounds, so that the tests reach them (decision 0185).
    dashboards = DashboardService(
        MemoryDashboardStore(),
        REGION,
        DashboardLimits(max_per_account=3, max_body_size=4096, max_widgets=3, list_page=2),
    )
    # Small bounds, so that the tests reach them (decision 0233).
    streams = MetricStreamService(
        MemoryMetricStreamStore(),
        REGION,
        StreamLimits(max_per_account=3, max_filter_names=5, max_statistics_metrics=2, list_page=2),
    )
    # Small bounds, so that the tests reach them (decision 0272); minutes sealed for real.
    insights = InsightRuleService(
        MemoryInsightRuleStore(),
        AccountRingSealer(LogKeySealer(KeyService(LocalKeyFileProvider(tmp_path / "keys")), None)),
        REGION,
        InsightLimits(max_per_account=3, max_contributors=5, list_page=2, report_max_datapoints=60),
    )
    meter_matched_events(insights, billing, REGION)
    metrics.insights = insights  # INSIGHT_RULE_METRIC (decision 0272)
    try:
        yield Harness(
            CloudWatchApp(
                metrics,
                identity,
                audit,
                settings,
                billing=billing,
                alarms=alarms,
                dashboards=dashboards,
                anomaly=anomaly,
                streams=streams,
                insights=insights,
            ),
            identity,
            metrics,
            store,
            audit_store,
            audit,
            billing,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            alarms=alarms,
            anomaly=anomaly,
            streams=streams,
            insights=insights,
        )
    finally:
        await audit.close()
        await billing.close()
