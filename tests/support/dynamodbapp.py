"""Amazon DynamoDB's JSON 1.0 app in process (decision 0237): DynamoApp over the in-memory
identity store and a DynamoDB store (memory by default), its items sealed by the real sealer
(the account's key ring, in a key file), its request units into a memory billing; calls made
through botocore's own model of the service (its serializer and parser, the parameters
validated first, the answer's ``x-amz-crc32`` checked as botocore checks it), signed with
SigV4 for service ``dynamodb``."""

from __future__ import annotations

import os
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import botocore.session
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.dynamodb.backfill import IndexBackfill
from andromede.dynamodb.backup_memory import MemoryBackupStore
from andromede.dynamodb.backups import BackupStore, DynamoBackups
from andromede.dynamodb.memory import MemoryDynamoStore
from andromede.dynamodb.resource_policies import DynamoResourcePolicies
from andromede.dynamodb.resource_policies_memory import MemoryResourcePolicyStore
from andromede.dynamodb.service import DynamoService
from andromede.dynamodb.store import DynamoStore
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.dynamodbapi.app import CONTENT_TYPE, DynamoApp
from andromede.dynamodbapi.streams import shard_layout, stream_limits
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.settings import Settings
from andromede.wiring.dynamodb import DynamoMeter, dynamodb_limits
from andromede.wiring.dynamodb_metrics import DynamoMetrics
from andromede.wiring.dynamodb_table_keys import DynamoKmsSealer
from support.firehoseapp import CallFailed
from support.json_client import JsonReply, Signers, signed_json_post
from support.keys import key_service_in
from support.metering import Audited, Metered
from support.metric_sinks import RecordingSink

REGION: Final = "eu-fr-1"
MODEL: Final = botocore.session.get_session().get_service_model("dynamodb")
STREAMS_MODEL: Final = botocore.session.get_session().get_service_model("dynamodbstreams")


@dataclass
class World(Signers, Metered, Audited):
    app: DynamoApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    dynamodb: DynamoService
    store: DynamoStore
    keys: KeyService
    audit_store: MemoryAuditStore
    audit: AuditService
    billing: BillingService
    customer_keys: CustomerKeyService
    sink: RecordingSink
    metrics: DynamoMetrics
    backfill: IndexBackfill
    sealer: DynamoKmsSealer

    def root(self) -> Caller:
        account = self.tenant_id
        arn = f"arn:aws:iam::{account}:root"
        return Caller(account, arn, Principal(account, None, None, PrincipalKind.ROOT, arn))

    async def raw(
        self, action: str, payload: dict[str, Any] | bytes, prefix: str = "DynamoDB_20120810"
    ) -> JsonReply:
        reply = await signed_json_post(
            self.app,
            f"{prefix}.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="dynamodb",
            region=REGION,
        )
        assert int(reply.headers["x-amz-crc32"]) == zlib.crc32(reply.body)
        return reply

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` as boto3 sends it (its model validating ``params``), its answer
        parsed by botocore's JSON parser; a failure raises :class:`CallFailed`."""
        return await self._call(MODEL, "DynamoDB_20120810", operation, params)

    async def streams(self, operation: str, **params: Any) -> dict[str, Any]:
        """A DynamoDB Streams ``operation`` as ``boto3.client("dynamodbstreams")`` sends it
        (decision 0246: signed for ``dynamodb``, its own target prefix)."""
        return await self._call(STREAMS_MODEL, "DynamoDBStreams_20120810", operation, params)

    async def streams_fails(self, operation: str, code: str, **params: Any) -> str:
        try:
            await self.streams(operation, **params)
        except CallFailed as exc:
            assert exc.code == code, (exc.code, exc.message)
            return exc.message
        raise AssertionError(f"{operation} succeeded")

    async def _call(
        self, service: Any, prefix: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        model = service.operation_model(operation)
        validate_parameters(params, model.input_shape)
        request = create_serializer("json").serialize_to_request(params, model)
        reply = await self.raw(operation, request["body"], prefix)
        parsed = create_parser("json").parse(
            {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
            model.output_shape,
        )
        if reply.status >= 300:
            raise CallFailed(reply.status, parsed["Error"]["Code"], parsed["Error"]["Message"])
        parsed.pop("ResponseMetadata", None)
        return dict(parsed)

    async def fails(self, operation: str, code: str, **params: Any) -> str:
        try:
            await self.client(operation, **params)
        except CallFailed as exc:
            assert exc.code == code, (exc.code, exc.message)
            return exc.message
        raise AssertionError(f"{operation} succeeded")

    async def table(self, name: str = "things", sort: str | None = None, kind: str = "S") -> None:
        """A table keyed by ``pk`` (S), with a sort key ``sort`` of type ``kind`` if named."""
        schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
        attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
        if sort is not None:
            schema.append({"AttributeName": sort, "KeyType": "RANGE"})
            attributes.append({"AttributeName": sort, "AttributeType": kind})
        await self.client(
            "CreateTable",
            TableName=name,
            KeySchema=schema,
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
        )


async def dynamodb_world(
    tmp_path: Path,
    store: DynamoStore | None = None,
    backup_store: BackupStore | None = None,
    **overrides: Any,
) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION, **overrides)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    keys = key_service_in(tmp_path / "dynamodb-keys")
    held = store or MemoryDynamoStore()
    meter = DynamoMeter(billing, REGION)
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(), keys, KmsAuthoriser(identity.policies_for, REGION), region=REGION
    )
    sealer = DynamoKmsSealer(
        keys, customer_keys, audit, billing, check_period=settings.dynamodb_table_key_check
    )
    dynamodb = DynamoService(held, sealer, REGION, dynamodb_limits(settings), meter)
    dynamodb.stream_shards = shard_layout(settings)  # decision 0275
    sink = RecordingSink()
    metrics = DynamoMetrics(sink)
    streams = DynamoStreams(dynamodb, stream_limits(settings), meter.stream_read)
    app = DynamoApp(
        dynamodb,
        identity,
        audit,
        settings,
        streams=streams,
        backups=DynamoBackups(
            dynamodb,
            backup_store or MemoryBackupStore(held),  # type: ignore[arg-type]
            settings.dynamodb_pitr_restore_lag,
        ),
        table_keys=sealer,
        observer=metrics,
    )
    app.resource_policies = DynamoResourcePolicies(  # decision 0266
        MemoryResourcePolicyStore(), settings.dynamodb_max_resource_policy_size
    )
    yield World(
        app=app,
        identity=identity,
        credentials=Credentials(boot.access_key_id, boot.secret_access_key),
        tenant_id=boot.tenant.id,
        dynamodb=dynamodb,
        store=held,
        keys=keys,
        audit_store=audit_store,
        audit=audit,
        billing=billing,
        customer_keys=customer_keys,
        sink=sink,
        metrics=metrics,
        backfill=IndexBackfill(dynamodb),
        sealer=sealer,
    )


__all__ = ["MODEL", "REGION", "STREAMS_MODEL", "World", "dynamodb_world"]
