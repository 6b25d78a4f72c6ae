"""Decision 0414: SQS in each Region the gateway serves — in process, built as ``serve``
builds it (``wiring.queues.queue_service`` over the metered SQL store on SQLite, the real
key sealer and the customer keys), called with botocore's SigV4 in each Region. A name in
each Region is two queues (ARNs, listings, messages apart); a stored name reaches nothing;
the quota counted a Region; ``aws:RequestedRegion`` the call's; requests billed and metrics
kept in the call's Region; a queue under a KMS key of its Region used with
``kms:ViaService`` ``sqs.<region>.amazonaws.com``; a Region declared but not served, and one
not declared, refused."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db.database import open_database
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.platform_metrics import MeteredQueueStore, QueueActivity
from andromede.queues.mover import MessageMover
from andromede.settings import Settings
from andromede.sqsapi.app import CONTENT_TYPE, SqsApp
from andromede.wiring.queues import message_mover, queue_service
from support.json_client import JsonReply, signed_json_post
from support.metric_sinks import RecordingSink
from support.regional_events import region_bound_keys
from support.schema import migrated_sqlite

HOME, OTHER, UNSERVED = "eu-fr-1", "eu-de-1", "eu-it-1"


@dataclass
class World:
    app: SqsApp
    identity: IdentityService
    credentials: Credentials
    account: str
    billing: BillingService
    metrics: RecordingSink
    customer_keys: CustomerKeyService
    mover: MessageMover

    async def call(self, region: str, action: str, payload: dict[str, Any]) -> JsonReply:
        return await signed_json_post(
            self.app,
            f"AmazonSQS.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="sqs",
            region=region,
        )

    async def ok(self, region: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = await self.call(region, action, payload)
        assert reply.status == 200, reply.body
        return reply.json()

    async def refused(self, region: str, action: str, payload: dict[str, Any]) -> str:
        reply = await self.call(region, action, payload)
        assert reply.status >= 400, reply.body
        return str(reply.json()["__type"]).rsplit("#", 1)[-1]

    async def url(self, region: str, name: str, attributes: dict[str, str] | None = None) -> str:
        made = await self.ok(region, "CreateQueue", {"QueueName": name, **_attrs(attributes)})
        return str(made["QueueUrl"])

    async def arn(self, region: str, url: str) -> str:
        got = await self.ok(
            region, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}
        )
        return str(got["Attributes"]["QueueArn"])

    async def bodies(self, region: str, url: str) -> list[str]:
        got = await self.ok(region, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
        return [m["Body"] for m in got.get("Messages", [])]


def _attrs(attributes: dict[str, str] | None) -> dict[str, Any]:
    return {"Attributes": attributes} if attributes else {}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path,
        region=HOME,
        regions=[{"name": HOME}, {"name": OTHER}, {"name": UNSERVED}],
        served_regions=(HOME, OTHER),
        max_queues=2,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(),
        keys,
        KmsAuthoriser(identity.policies_for, HOME),
        region=HOME,
        regions=(HOME, OTHER, UNSERVED),
    )
    audit = AuditService(MemoryAuditStore())
    billing = BillingService(MemoryBillingStore(), region=HOME, instance_types=[])
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    metrics = RecordingSink()
    store = MeteredQueueStore(db, metrics, QueueActivity())
    queues = queue_service(settings, db, keys, customer_keys, audit, billing, store)
    queues.observe(store)
    mover = message_mover(settings, db)
    app = SqsApp(queues, identity, audit, settings, mover=mover, billing=billing)
    credentials = Credentials(boot.access_key_id, boot.secret_access_key)
    try:
        yield World(
            app, identity, credentials, boot.tenant.id, billing, metrics, customer_keys, mover
        )
    finally:
        await billing.close()
        await audit.close()
        await db.close()


async def test_a_name_in_each_region_is_two_queues(world: World) -> None:
    """Same name, two queues: each ARN of its Region, messages apart, each listed in its
    Region only; the URL keeps its scheme (the host called, the account, the name)."""
    home_url = await world.url(HOME, "orders")
    other_url = await world.url(OTHER, "orders", {"DelaySeconds": "0"})
    assert home_url == other_url == f"http://127.0.0.1:9000/{world.account}/orders"
    assert await world.arn(HOME, home_url) == f"arn:aws:sqs:{HOME}:{world.account}:orders"
    assert await world.arn(OTHER, other_url) == f"arn:aws:sqs:{OTHER}:{world.account}:orders"
    await world.ok(HOME, "SendMessage", {"QueueUrl": home_url, "MessageBody": "home"})
    await world.ok(OTHER, "SendMessage", {"QueueUrl": other_url, "MessageBody": "other"})
    assert await world.bodies(OTHER, other_url) == ["other"]
    assert await world.bodies(HOME, home_url) == ["home"]
    await world.url(OTHER, "only-other")
    listed = await world.ok(OTHER, "ListQueues", {})
    assert [u.rsplit("/", 1)[1] for u in listed["QueueUrls"]] == ["only-other", "orders"]
    listed = await world.ok(HOME, "ListQueues", {})
    assert [u.rsplit("/", 1)[1] for u in listed["QueueUrls"]] == ["orders"]
    found = await world.ok(OTHER, "GetQueueUrl", {"QueueName": "only-other"})
    assert found["QueueUrl"].endswith("/only-other")
    assert await world.refused(HOME, "GetQueueUrl", {"QueueName": "only-other"}) == (
        "QueueDoesNotExist"
    )
    # The other Region's stored name reaches nothing from the default Region.
    hidden = f"http://127.0.0.1:9000/{world.account}/~{OTHER}~orders"
    assert await world.refused(HOME, "GetQueueAttributes", {"QueueUrl": hidden}) == (
        "QueueDoesNotExist"
    )
    await world.ok(OTHER, "DeleteQueue", {"QueueUrl": other_url})
    assert await world.bodies(HOME, home_url) == []  # received already, still there
    assert (await world.arn(HOME, home_url)).endswith(":orders")


async def test_the_quota_and_a_redrive_are_a_regions(world: World) -> None:
    """``max_queues`` (2 here) is counted a Region, as AWS's quota; a dead-letter queue
    must be of the source's Region."""
    for region in (HOME, OTHER):
        await world.url(region, "a")
        await world.url(region, "b")
        assert await world.refused(region, "CreateQueue", {"QueueName": "c"}) == "OverLimit"
    other_dlq = await world.arn(OTHER, f"http://127.0.0.1:9000/{world.account}/b")
    policy = json.dumps({"deadLetterTargetArn": other_dlq, "maxReceiveCount": 1})
    url = f"http://127.0.0.1:9000/{world.account}/a"
    attributes = {"QueueUrl": url, "Attributes": {"RedrivePolicy": policy}}
    assert await world.refused(HOME, "SetQueueAttributes", attributes) == ("InvalidParameterValue")
    await world.ok(OTHER, "SetQueueAttributes", attributes)
    sources = await world.ok(
        OTHER, "ListDeadLetterSourceQueues", {"QueueUrl": url.replace("/a", "/b")}
    )
    assert [u.rsplit("/", 1)[1] for u in sources["queueUrls"]] == ["a"]


async def test_a_message_move_task_is_its_regions(world: World) -> None:
    """StartMessageMoveTask in eu-de-1 moves eu-de-1's dead letters back to their eu-de-1
    source; the default Region's namesakes are untouched, and its endpoint does not find
    eu-de-1's queue."""
    account = world.account
    for region in (HOME, OTHER):
        await world.url(region, "dlq")
    dlq_arn = f"arn:aws:sqs:{OTHER}:{account}:dlq"
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = await world.url(OTHER, "src", {"RedrivePolicy": policy, "VisibilityTimeout": "0"})
    await world.ok(OTHER, "SendMessage", {"QueueUrl": source, "MessageBody": "lost"})
    receive = {"QueueUrl": source, "MaxNumberOfMessages": 10}
    assert len((await world.ok(OTHER, "ReceiveMessage", receive))["Messages"]) == 1
    assert "Messages" not in await world.ok(OTHER, "ReceiveMessage", receive)  # dead-lettered
    refused = await world.call(HOME, "StartMessageMoveTask", {"SourceArn": dlq_arn})
    assert refused.json()["__type"].endswith("ResourceNotFoundException")
    await world.ok(OTHER, "StartMessageMoveTask", {"SourceArn": dlq_arn})
    for _ in range(200):  # a pass moves what its rate allows since the task's start
        await world.mover.run_pass()
        if await world.bodies(OTHER, source) == ["lost"]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the dead letter never moved back")
    assert await world.bodies(HOME, f"http://127.0.0.1:9000/{account}/dlq") == []


async def test_regions_not_served_are_refused(world: World) -> None:
    """A Region declared but not served by this gateway, or not declared, is no endpoint."""
    for region in (UNSERVED, "us-east-1"):
        reply = await world.call(region, "ListQueues", {})
        assert reply.status in (400, 403), reply.body


async def test_policies_billing_and_metrics_see_the_calls_region(world: World) -> None:
    """``aws:RequestedRegion`` is the call's Region; its requests are billed there; its
    queue's metrics are that Region's series (decision 0360's owner ``<account>~<region>``)."""
    keys = await region_bound_keys(world.identity, world.account, "sqs:ListQueues", HOME)
    dev = replace(world, credentials=keys)
    await dev.ok(HOME, "ListQueues", {})
    assert await dev.refused(OTHER, "ListQueues", {}) == "AccessDenied"
    url = await world.url(OTHER, "metered")
    await world.ok(OTHER, "SendMessage", {"QueueUrl": url, "MessageBody": "x"})
    await world.ok(OTHER, "ListQueues", {})
    await world.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await world.billing.usage_report(world.account, month)
    requests = {line.region: line.quantity for line in report.lines if line.meter == "sqs.requests"}
    # eu-de-1: CreateQueue, SendMessage, ListQueues; eu-fr-1: dev's ListQueues.
    assert requests == {OTHER: 3, HOME: 1}
    sent = [
        (owner, dims)
        for owner, space, name, dims, _, _ in world.metrics.points
        if space == "AWS/SQS" and name == "NumberOfMessagesSent"
    ]
    assert sent == [(f"{world.account}~{OTHER}", (("QueueName", "metered"),))]


def _via_policy(account: str, via: str) -> str:
    root = {"AWS": f"arn:aws:iam::{account}:root"}
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": root, "Action": "kms:DescribeKey", "Resource": "*"},
            {"Effect": "Allow", "Principal": root,
             "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": via}}},
        ],
    })  # fmt: skip


async def test_sse_kms_uses_the_regions_keys_through_its_sqs(world: World) -> None:
    """A queue of eu-de-1 under a key id of eu-de-1 seals with it, as its key policy allows
    through ``sqs.eu-de-1.amazonaws.com``; a key allowing only the default Region's SQS
    refuses the send (KmsAccessDenied); ``alias/aws/sqs`` is eu-de-1's managed key."""
    account = world.account
    root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
    caller = Caller(account, root.arn, root)
    there = world.customer_keys.in_region(OTHER)
    ours = await there.create_key(
        caller, policy=_via_policy(account, f"sqs.{OTHER}.amazonaws.com"), bypass_lockout_check=True
    )
    theirs = await there.create_key(
        caller, policy=_via_policy(account, f"sqs.{HOME}.amazonaws.com"), bypass_lockout_check=True
    )
    sealed = await world.url(OTHER, "sealed", {"KmsMasterKeyId": ours.key_id})
    await world.ok(OTHER, "SendMessage", {"QueueUrl": sealed, "MessageBody": "secret"})
    assert await world.bodies(OTHER, sealed) == ["secret"]
    refused = await world.url(OTHER, "refused", {"KmsMasterKeyId": theirs.key_id})
    assert (
        await world.refused(OTHER, "SendMessage", {"QueueUrl": refused, "MessageBody": "x"})
        == "KmsAccessDenied"
    )
    await world.url(HOME, "managed", {"KmsMasterKeyId": "alias/aws/sqs"})
    home_managed = refused.replace("/refused", "/managed")
    await world.ok(HOME, "SendMessage", {"QueueUrl": home_managed, "MessageBody": "made"})
    await world.ok(OTHER, "DeleteQueue", {"QueueUrl": refused})  # the quota's room
    managed = await world.url(OTHER, "managed", {"KmsMasterKeyId": "alias/aws/sqs"})
    await world.ok(OTHER, "SendMessage", {"QueueUrl": managed, "MessageBody": "m"})
    assert await world.bodies(OTHER, managed) == ["m"]
    made, _ = await there.aws_managed_key(account, "sqs")
    assert made.arn.startswith(f"arn:aws:kms:{OTHER}:")
    home_made, _ = await world.customer_keys.aws_managed_key(account, "sqs")
    assert home_made.key_id != made.key_id
