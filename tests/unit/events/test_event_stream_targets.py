"""Decision 0238: Kinesis data streams and Firehose delivery streams as EventBridge's targets,
in process: PutTargets' checks in AWS's words, then events routed by the EventBridge service
over the memory store and written as the target's role (trusting ``events.amazonaws.com``,
allowed ``kinesis:PutRecord`` / ``firehose:PutRecord``) into a real Kinesis service and a
real Firehose service whose deliverer lands them in an in-memory bucket. A refused role, a
role without the right, a missing stream and an event without its partition key go to the
dead-letter queue at once with AWS's ``ERROR_CODE``; a full shard is retried, then
dead-lettered as ``THROTTLING``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from andromede.event_stream_targets import EVENTS_PRINCIPAL, EventsRoles, RoleStreamTargets
from andromede.events.dispatcher import Deliveries
from andromede.events.errors import ValidationError
from andromede.events.memory import MemoryEventsStore
from andromede.events.service import EventsLimits, EventsService
from andromede.iam.model import Principal, PrincipalKind
from andromede.kinesis.memory import MemoryKinesisStore
from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import KinesisService
from andromede.kinesis.throughput import ShardThrottle
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keys_interface import Caller
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.wiring.kinesis_keys import KinesisRecordSealer
from support.batch_world import read
from support.firehoseapp import REGION, World, firehose_world
from support.keys import key_service_in

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": EVENTS_PRINCIPAL},
                   "Action": "sts:AssumeRole"}],
})  # fmt: skip


class DeadLetters:
    """The deliveries' queue-and-topic sink: here only the dead-letter queue is written."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    async def send(
        self,
        tenant_id: str,
        arn: str,
        message: str,
        *,
        rule_arn: str,
        group_id: str | None,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
        role_arn: str | None = None,
        trace: str | None = None,
    ) -> None:
        self.sent.append((arn, json.loads(message), attributes or {}))


@dataclass
class Targets:
    fire: World
    kinesis: KinesisService
    service: EventsService
    deliveries: Deliveries
    dead: DeadLetters
    firehose_arn: str
    second: list[float]  # the shards' throttle's clock
    kinesis_keys: CustomerKeyService

    def next_second(self) -> None:
        self.second[0] += 1

    @property
    def account(self) -> str:
        return self.fire.tenant_id

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{self.account}:{resource}"

    async def role(self, name: str, *actions: str, trust: str = TRUST) -> str:
        role = await self.fire.identity.create_role(self.account, name, trust)
        if actions:
            allow = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
            policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
            await self.fire.identity.put_role_policy(self.account, name, "put", policy)
        return role.arn

    async def route(self, *targets: dict[str, Any], detail: Any = None) -> str:
        """A rule with ``targets`` (a dead-letter queue each), one event; its id."""
        await self.service.put_rule(self.account, "r", "default", event_pattern="{}")
        dlq = {"DeadLetterConfig": {"Arn": self.arn("sqs", "dlq")}}
        await self.service.put_targets(
            self.account, "r", "default", [dlq | target for target in targets]
        )
        entry = {"Source": "my.app", "DetailType": "reading", "Detail": json.dumps(detail or {})}
        (result,) = await self.service.put_events(self.account, [entry])
        await self.deliveries.drain()
        assert result.event_id is not None
        return result.event_id

    async def records(self, name: str) -> list[tuple[str, bytes]]:
        """(partition key, data) of each record of the one-shard stream ``name``."""
        token = await self.kinesis.iterator(self.account, name, "shardId-000000000000",
                                            "TRIM_HORIZON")  # fmt: skip
        read = await self.kinesis.records(self.account, token, 100)
        return [(r.partition_key, r.data) for r in read.records]

    async def landed(self) -> bytes:
        """Everything the Firehose stream's bucket holds, in key order."""
        await self.fire.deliverer.run_pass()
        listing = await self.fire.objects.list_objects("landing", prefix="", max_keys=100)
        found = sorted(listing.objects, key=lambda o: o.key)
        return b"".join([await read(self.fire.objects, "landing", o.key) for o in found])

    def codes(self) -> list[tuple[str, str, str]]:
        return [
            (a["ERROR_CODE"], a["RETRY_ATTEMPTS"], a.get("EXHAUSTED_RETRY_CONDITION", ""))
            for _, _, a in self.dead.sent
        ]


@pytest.fixture
async def targets(tmp_path: Path) -> AsyncIterator[Targets]:
    async for fire in firehose_world(tmp_path):
        made = await fire.client(
            "CreateDeliveryStream",
            DeliveryStreamName="events",
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": await fire.role(),
                "BucketARN": await fire.bucket(),
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            },
        )
        await fire.deliverer.run_pass()  # CREATING → ACTIVE
        second = [0.0]
        keys = key_service_in(tmp_path / "kinesis-keys")
        customer_keys = CustomerKeyService(
            MemoryCustomerKeyStore(), keys, KmsAuthoriser(fire.identity.policies_for, REGION),
            region=REGION,
        )  # fmt: skip
        kinesis = KinesisService(
            MemoryKinesisStore(),
            KinesisRecordSealer(keys, customer_keys, fire.audit, fire.billing, cache_size=8),
            REGION,
            # One record a second per shard, on a clock that stands still unless told.
            throttle=ShardThrottle(1, 1 << 20, clock=lambda s=second: s[0]),
        )
        await kinesis.create(fire.tenant_id, "events", 1, StreamMode.PROVISIONED)
        await kinesis.create(fire.tenant_id, "other", 1, StreamMode.PROVISIONED)
        dead = DeadLetters()
        deliveries = Deliveries(dead, max_attempts=5, retry_base=0.001)
        roles, firehose = EventsRoles(fire.identity, REGION), fire.firehose
        deliveries.streams = RoleStreamTargets(
            roles, lambda k=kinesis: k, lambda f=firehose: f, REGION
        )
        limits = EventsLimits(max_targets=10)
        service = EventsService(MemoryEventsStore(), deliveries, region=REGION, limits=limits)
        yield Targets(fire, kinesis, service, deliveries, dead, made["DeliveryStreamARN"], second,
                      customer_keys)  # fmt: skip


async def test_put_targets_checks_stream_targets_in_awss_words(targets: Targets) -> None:
    service, account = targets.service, targets.account
    await service.put_rule(account, "r", "default", event_pattern="{}")
    stream = targets.arn("kinesis", "stream/events")
    role = targets.arn("iam", "role/events").replace(f":{REGION}:", "::")

    async def refused(spec: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError) as caught:
            await service.put_targets(account, "r", "default", [{"Id": "t"} | spec])
        assert message in str(caught.value), str(caught.value)

    await refused({"Arn": stream}, f"RoleArn is required for target {stream}.")
    await refused({"Arn": targets.firehose_arn},
                  f"RoleArn is required for target {targets.firehose_arn}.")  # fmt: skip
    await refused({"Arn": stream, "RoleArn": "events"}, "Provided Arn is not in correct format")
    await refused({"Arn": stream, "RoleArn": stream}, "Provided Arn is not in correct format")
    for bad in (
        # Decision 0273: another account's Kinesis stream is a target, its Firehose not.
        targets.firehose_arn.replace(account, "999999999999"),
        stream.replace(REGION, "eu-fr-2"),
        targets.arn("kinesis", "stream/"),
        targets.arn("kinesis", "events"),
        targets.arn("firehose", "stream/events"),
    ):
        await refused({"Arn": bad, "RoleArn": role}, "Target t:")
    queue = targets.arn("sqs", "q")
    path = {"KinesisParameters": {"PartitionKeyPath": "$.id"}}
    await refused({"Arn": queue} | path, "KinesisParameters is only for Kinesis stream targets")
    await refused({"Arn": targets.firehose_arn, "RoleArn": role} | path,
                  "KinesisParameters is only for Kinesis stream targets")  # fmt: skip
    for params in ({}, {"PartitionKeyPath": "$.id", "Other": "x"}, "$.id"):
        await refused({"Arn": stream, "RoleArn": role, "KinesisParameters": params},
                      "KinesisParameters must hold exactly a PartitionKeyPath")  # fmt: skip
    for key_path in ("detail.id", "$" + ".a" * 200, 7):
        await refused(
            {"Arn": stream, "RoleArn": role, "KinesisParameters": {"PartitionKeyPath": key_path}},
            "ath",  # "Invalid InputPath…", "A JSON path…", "PartitionKeyPath must be…"
        )
    await refused({"Arn": stream, "RoleArn": role, "EcsParameters": {}},
                  "Parameter EcsParameters is not supported")  # fmt: skip
    given = [
        {"Id": "k", "Arn": stream, "RoleArn": role} | path,
        {"Id": "f", "Arn": targets.firehose_arn, "RoleArn": role, "InputPath": "$.detail"},
    ]
    await service.put_targets(account, "r", "default", given)
    listed = await service.list_targets(account, "r", "default")
    assert sorted((t.spec for t in listed), key=lambda s: s["Id"]) == [given[1], given[0]]


async def test_events_into_a_kinesis_stream_as_the_role(targets: Targets) -> None:
    role = await targets.role("to-kinesis", "kinesis:PutRecord")
    keyed = targets.arn("kinesis", "stream/events")
    event_id = await targets.route(
        {"Id": "keyed", "Arn": keyed, "RoleArn": role,
         "KinesisParameters": {"PartitionKeyPath": "$.detail.device"}},
        {"Id": "plain", "Arn": targets.arn("kinesis", "stream/other"), "RoleArn": role,
         "InputTransformer": {"InputPathsMap": {"d": "$.detail.device"},
                              "InputTemplate": "device <d>"}},
        detail={"device": "dev-1", "celsius": 21.5},
    )  # fmt: skip
    assert targets.dead.sent == []
    ((key, data),) = await targets.records("events")
    event = json.loads(data)
    assert key == "dev-1"
    assert (event["id"], event["source"], event["detail-type"]) == (event_id, "my.app", "reading")
    assert event["detail"] == {"device": "dev-1", "celsius": 21.5}
    assert await targets.records("other") == [(event_id, b"device dev-1")]  # the event's id


async def test_events_into_a_firehose_stream_without_a_newline(targets: Targets) -> None:
    role = await targets.role("to-firehose", "firehose:PutRecord")

    def target(template: str) -> dict[str, Any]:
        paths = {"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": template}
        return {"Id": "f", "Arn": targets.firehose_arn, "RoleArn": role, "InputTransformer": paths}

    await targets.route(target('{"n": <n>}'), detail={"n": 1})
    await targets.service.put_targets(targets.account, "r", "default", [target('{"n": <n>}\n')])
    entry = {"Source": "my.app", "DetailType": "reading", "Detail": '{"n": 2}'}
    await targets.service.put_events(targets.account, [entry, entry | {"Detail": '{"n": 3}'}])
    await targets.deliveries.drain()
    assert targets.dead.sent == []
    # AWS appends nothing: a record is its input, a template's own newline makes JSON lines.
    assert await targets.landed() == b'{"n": 1}{"n": 2}\n{"n": 3}\n'


async def test_refusals_go_to_the_dead_letter_queue_at_once(targets: Targets) -> None:
    stream = targets.arn("kinesis", "stream/events")
    untrusting = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    })  # fmt: skip
    others = await targets.role("sns-only", "kinesis:PutRecord", trust=untrusting)
    reader = await targets.role("reader", "kinesis:GetRecords", "firehose:DescribeDeliveryStream")
    writer = await targets.role("writer", "kinesis:PutRecord", "firehose:PutRecord")
    gone = targets.arn("iam", "role/gone").replace(f":{REGION}:", "::")
    await targets.route(
        {"Id": "a", "Arn": stream, "RoleArn": others},
        {"Id": "b", "Arn": stream, "RoleArn": gone},
        {"Id": "c", "Arn": stream, "RoleArn": reader},
        {"Id": "d", "Arn": targets.firehose_arn, "RoleArn": reader},
        {"Id": "e", "Arn": targets.arn("kinesis", "stream/missing"), "RoleArn": writer},
        {"Id": "f", "Arn": targets.arn("firehose", "deliverystream/missing"), "RoleArn": writer},
        {"Id": "g", "Arn": stream, "RoleArn": writer,
         "KinesisParameters": {"PartitionKeyPath": "$.detail.absent"}},
    )  # fmt: skip
    by_target = {a["TARGET_ARN"] + " " + a["ERROR_CODE"] for _, _, a in targets.dead.sent}
    assert by_target == {
        f"{stream} FAILED_TO_ASSUME_ROLE",
        f"{stream} NO_PERMISSIONS",
        f"{targets.firehose_arn} NO_PERMISSIONS",
        f"{targets.arn('kinesis', 'stream/missing')} NO_RESOURCE",
        f"{targets.arn('firehose', 'deliverystream/missing')} NO_RESOURCE",
        f"{stream} INVALID_PARAMETER",
    }
    assert len(targets.dead.sent) == 7
    assert {(a["RETRY_ATTEMPTS"], a.get("EXHAUSTED_RETRY_CONDITION")) for *_, a in
            targets.dead.sent} == {("0", None)}  # fmt: skip
    dlq, event, attributes = targets.dead.sent[0]
    assert dlq == targets.arn("sqs", "dlq") and event["source"] == "my.app"
    assert attributes["RULE_ARN"] == targets.arn("events", "rule/r")
    assert await targets.records("events") == [] and await targets.landed() == b""


async def test_a_full_shard_is_retried_then_dead_lettered(targets: Targets) -> None:
    role = await targets.role("to-kinesis", "kinesis:PutRecord")
    retry = {"RetryPolicy": {"MaximumRetryAttempts": 2}}
    stream = targets.arn("kinesis", "stream/events")
    await targets.route({"Id": "k", "Arn": stream, "RoleArn": role} | retry)
    assert len(await targets.records("events")) == 1 and targets.dead.sent == []
    # The shard's second is full (its clock stands still): two retries, then the DLQ.
    await targets.route({"Id": "k", "Arn": stream, "RoleArn": role} | retry)
    assert targets.codes() == [("THROTTLING", "2", "MaximumRetryAttempts")]
    assert "Rate exceeded for shard" in targets.dead.sent[0][2]["ERROR_MESSAGE"]
    assert len(await targets.records("events")) == 1


async def test_a_stream_under_a_customer_key_asks_the_roles_kms_right(targets: Targets) -> None:
    account = targets.account
    root_arn = f"arn:aws:iam::{account}:root"
    root = Caller(account, root_arn, Principal(account, None, None, PrincipalKind.ROOT, root_arn))
    key = await targets.kinesis_keys.create_key(root)
    await targets.kinesis.set_encryption(account, "other", key.arn, root)
    stream = targets.arn("kinesis", "stream/other")
    kinesis_only = await targets.role("kinesis-only", "kinesis:PutRecord")
    await targets.route({"Id": "k", "Arn": stream, "RoleArn": kinesis_only})
    assert targets.codes() == [("NO_PERMISSIONS", "0", "")]
    assert "KMSAccessDeniedException" in targets.dead.sent[0][2]["ERROR_MESSAGE"]
    with_key = await targets.role("with-key", "kinesis:PutRecord", "kms:GenerateDataKey")
    targets.next_second()  # the refused put took the shard's second
    event_id = await targets.route({"Id": "k", "Arn": stream, "RoleArn": with_key})
    assert len(targets.dead.sent) == 1, targets.codes()
    [(partition, data)] = await targets.records("other")
    assert (partition, json.loads(data)["id"]) == (event_id, event_id)


async def test_a_kinesis_stream_of_another_account_by_its_policy(targets: Targets) -> None:
    """Decision 0273: another account's stream is written as the rule's account's role when
    the role's policies and the stream's resource policy (decision 0248) both allow it."""
    other = (await targets.fire.identity.create_tenant("stream-owner")).tenant.id
    await targets.kinesis.create(other, "shared", 1, StreamMode.PROVISIONED)
    theirs = f"arn:aws:kinesis:{REGION}:{other}:stream/shared"
    role = await targets.role("to-theirs", "kinesis:PutRecord")
    with pytest.raises(ValidationError, match=f"RoleArn is required for target {theirs}"):
        await targets.service.put_rule(targets.account, "r", "default", event_pattern="{}")
        await targets.service.put_targets(
            targets.account, "r", "default", [{"Id": "k", "Arn": theirs}]
        )
    await targets.route({"Id": "k", "Arn": theirs, "RoleArn": role})
    assert [code for code, _, _ in targets.codes()] == ["NO_PERMISSIONS"]  # no policy yet

    statement = {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "kinesis:PutRecord",
                 "Resource": theirs}  # fmt: skip
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    await targets.kinesis.set_policy(other, "shared", None, policy)
    targets.dead.sent.clear()
    event_id = await targets.route({"Id": "k", "Arn": theirs, "RoleArn": role})
    assert targets.dead.sent == []
    token = await targets.kinesis.iterator(other, "shared", "shardId-000000000000",
                                           "TRIM_HORIZON")  # fmt: skip
    read = await targets.kinesis.records(other, token, 100)
    assert [json.loads(r.data)["id"] for r in read.records] == [event_id]


async def test_a_trust_policy_fenced_to_the_rule_is_assumed_for_it_alone(targets: Targets) -> None:
    # Decision 0321: EventBridge assumes a target's role with the rule as aws:SourceArn and
    # its account as aws:SourceAccount, as AWS's confused-deputy trust policies expect.
    def fenced_to(rule: str) -> str:
        condition = {
            "StringEquals": {"aws:SourceAccount": targets.account},
            "ArnEquals": {"aws:SourceArn": targets.arn("events", rule)},
        }
        return json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": EVENTS_PRINCIPAL},
                           "Action": "sts:AssumeRole", "Condition": condition}],
        })  # fmt: skip

    right = await targets.role("right", "kinesis:PutRecord", trust=fenced_to("rule/r"))
    wrong = await targets.role("wrong", "kinesis:PutRecord", trust=fenced_to("rule/other"))
    stream = targets.arn("kinesis", "stream/events")
    event_id = await targets.route(
        {"Id": "right", "Arn": stream, "RoleArn": right},
        {"Id": "wrong", "Arn": stream, "RoleArn": wrong},
    )
    assert [(a["TARGET_ARN"], a["ERROR_CODE"]) for *_, a in targets.dead.sent] == [
        (stream, "FAILED_TO_ASSUME_ROLE")
    ]
    assert [json.loads(data)["id"] for _, data in await targets.records("events")] == [event_id]
