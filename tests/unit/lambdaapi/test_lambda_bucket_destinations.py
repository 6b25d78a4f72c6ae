"""Decision 0311's S3 buckets as Lambda's OnFailure destinations, with the real identity
engine, S3's authoriser and the object service in memory: the role's check in AWS's words
(``s3:ListBucket`` and ``s3:PutObject``, a bucket gone, another account's bucket let in by
its policy only), an asynchronous invocation's record written under AWS's key, sealed,
counted and audited, a refusal audited and nothing written; a stream mapping's batch given up
written under ``aws/lambda/<uuid>/<shard>/…`` with its payload; the configurations' checks
(``OnFailure`` only for an invocation, a bucket accepted by a stream mapping)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from andromede.function_buckets import BucketRecords
from andromede.function_deliveries import RecordSender, service_channels
from andromede.function_destinations import (
    FunctionDestinations,
    async_record_key,
    destination_access,
)
from andromede.function_sources import FunctionRoles
from andromede.function_streams import (
    FailureDestinations,
    StreamAccess,
    StreamPoller,
    stream_record_key,
)
from andromede.functions.errors import InvalidParameterValue
from andromede.functions.invoke_configs import EventInvokeConfig, checked_config
from andromede.functions.invoker import Invocation
from andromede.functions.mapping_streams import STREAM_DEFAULTS, check_stream_parameters
from andromede.functions.mappings import EventSourceMapping, MemoryMappingStore
from andromede.functions.model import FunctionVersion
from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import Entry
from andromede.s3.authorise import S3Authoriser
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.stream_reading import StreamReader
from support.batch_world import LIMITS
from support.keys import cipher_in
from support.kinesisapp import World, kinesis_world
from support.lambdaapp import REGION, TRUST
from support.pipesapp import allow

OTHER = "999999999999"
RECORD: dict[str, Any] = {
    "version": "1.0",
    "requestContext": {"requestId": "r-1", "condition": "RetriesExhausted"},
    "requestPayload": {"n": 1},
}
WRITE = ("s3:PutObject", "s3:ListBucket")


@dataclass
class Counted:
    """The requests counted to each account, as billing's ``count`` takes them."""

    calls: list[tuple[str, int, str]] = field(default_factory=list)

    def __call__(self, tenant_id: str, quantity: int, meter: str) -> None:
        self.calls.append((tenant_id, quantity, meter))


@dataclass
class Rig:
    world: World
    objects: ObjectService
    buckets: BucketRecords
    counted: Counted

    @property
    def tenant(self) -> str:
        return self.world.tenant_id

    async def role(self, name: str, *actions: str) -> str:
        made = await self.world.identity.create_role(self.tenant, name, TRUST)
        if actions:
            await self.world.identity.put_role_policy(self.tenant, name, "p", allow(*actions))
        return made.arn

    async def bucket(self, name: str, tenant: str | None = None) -> str:
        owner = tenant or self.tenant
        await self.objects.create_bucket(name, tenant_id=owner, owner_id=owner, region=REGION)
        return f"arn:aws:s3:::{name}"

    async def objects_in(self, name: str) -> dict[str, Any]:
        listing = await self.objects.list_objects(name)
        found = {}
        for summary in listing.objects:
            record = await self.objects.head_object(name, summary.key)
            body = b"".join([c async for c in self.objects.read_object(record, 0, record.size - 1)])
            found[summary.key] = json.loads(body)
        return found

    def version(self, name: str, role: str) -> FunctionVersion:
        return FunctionVersion(
            tenant_id=self.tenant, name=name, version="$LATEST", runtime="python3.11",
            role=role, handler="app.handler", code_sha256="", code_size=0, revision_id="r",
            last_modified=0,
        )  # fmt: skip


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for world in kinesis_world(tmp_path):
        objects = ObjectService(
            MemoryMetadataStore(), MemoryBlobStore(), LIMITS, cipher_in(tmp_path / "s3-keys")
        )
        counted = Counted()
        buckets = BucketRecords(
            objects, S3Authoriser(world.identity.policies_for, REGION), REGION, world.audit, counted
        )
        yield Rig(world, objects, buckets, counted)


async def test_the_roles_rights_on_the_bucket_in_aws_words(rig: Rig) -> None:
    check = destination_access(FunctionRoles(rig.world.identity, REGION), rig.buckets)
    mine = await rig.bucket("records")
    await check(rig.tenant, await rig.role("writer", *WRITE), mine)
    for name, actions, words in (
        ("putter", ("s3:PutObject",), "call ListBucket on S3"),
        ("lister", ("s3:ListBucket",), "call PutObject on S3"),
    ):
        with pytest.raises(InvalidParameterValue) as refused:
            await check(rig.tenant, await rig.role(name, *actions), mine)
        assert str(refused.value) == (
            f"The provided execution role does not have permissions to {words}"
        )
    writer = f"arn:aws:iam::{rig.tenant}:role/writer"
    with pytest.raises(InvalidParameterValue, match="S3 bucket gone does not exist"):
        await check(rig.tenant, writer, "arn:aws:s3:::gone")
    theirs = await rig.bucket("theirs", OTHER)  # another account's: its policy decides
    with pytest.raises(InvalidParameterValue, match=r"call (PutObject|ListBucket) on S3"):
        await check(rig.tenant, writer, theirs)
    await rig.objects.set_bucket_policy("theirs", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": writer}, "Action": list(WRITE),
            "Resource": [theirs, f"{theirs}/*"]}],
    }))  # fmt: skip
    await check(rig.tenant, writer, theirs)
    # Without S3 served, a bucket is refused by name.
    with pytest.raises(InvalidParameterValue, match="S3 bucket destinations are not served"):
        await destination_access(FunctionRoles(rig.world.identity, REGION))(
            rig.tenant, writer, mine
        )


async def test_an_invocation_record_written_sealed_counted_and_audited(rig: Rig) -> None:
    mine = await rig.bucket("records")
    sender = FunctionDestinations(
        FunctionRoles(rig.world.identity, REGION), {}, rig.world.audit, REGION, rig.buckets
    )
    writer = rig.version("worker", await rig.role("writer", *WRITE))
    await sender.deliver(writer, mine, RECORD)
    ((key, body),) = (await rig.objects_in("records")).items()
    assert body == RECORD
    day = dt.datetime.now(dt.UTC)
    assert re.fullmatch(
        rf"aws/lambda/async/worker/{day:%Y/%m/%d}/{day:%Y-%m-%d}T\d\d\.\d\d\.\d\d-"
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        key,
    ), key
    record = await rig.objects.head_object("records", key)
    assert all(segment.key is not None for segment in record.segments)  # sealed
    assert rig.counted.calls == [(rig.tenant, 1, "s3.requests.class-a")]
    refused = rig.version("mute", await rig.role("mute", "s3:ListBucket"))
    await sender.deliver(refused, mine, RECORD)  # no raise, nothing written
    assert len(await rig.objects_in("records")) == 1
    await rig.world.audit.flush()
    listed = await rig.world.audit_store.list_events(None, after_id=0, limit=500)
    puts = [(e.principal, e.outcome.value) for _, e in listed if e.action == "s3:PutObject"]
    assert (f"arn:aws:sts::{rig.tenant}:assumed-role/writer/worker", "success") in puts
    assert (refused.role, "failure") in puts


def test_the_record_keys_as_aws_lays_them_out() -> None:
    moment = dt.datetime(2026, 12, 7, 3, 4, 5, tzinfo=dt.UTC)
    assert async_record_key("fn", moment, "u") == (
        "aws/lambda/async/fn/2026/12/07/2026-12-07T03.04.05-u"
    )
    assert stream_record_key("esm", "shardId-000000000000", moment, "u") == (
        "aws/lambda/esm/shardId-000000000000/2026/12/07/2026-12-07T03.04.05-u"
    )


def test_a_bucket_is_an_on_failure_destination_only() -> None:
    current = EventInvokeConfig(tenant_id="123456789012", name="fn", qualifier="$LATEST")
    bucket = "arn:aws:s3:::records"
    taken = checked_config(
        {"DestinationConfig": {"OnFailure": {"Destination": bucket}}}, current, REGION,
        merge=False,
    )  # fmt: skip
    assert taken.on_failure == bucket
    with pytest.raises(InvalidParameterValue, match="can only be an OnFailure destination"):
        checked_config({"DestinationConfig": {"OnSuccess": {"Destination": bucket}}}, current,
            REGION, merge=False)  # fmt: skip
    with pytest.raises(InvalidParameterValue, match="is invalid"):
        checked_config({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::B_"}}},
            current, REGION, merge=False)  # fmt: skip
    kept = check_stream_parameters(
        {"StartingPosition": "LATEST", "DestinationConfig": {"OnFailure": {"Destination": bucket}}},
        "kinesis", {}, creating=True, region=REGION, tenant_id="123456789012",
    )  # fmt: skip
    assert kept["DestinationConfig"] == {"OnFailure": {"Destination": bucket}}


@dataclass
class Failing:
    role_arn: str

    async def role(self, mapping: EventSourceMapping) -> str:
        return self.role_arn

    async def run(self, mapping: EventSourceMapping, payload: bytes) -> Invocation:
        return Invocation("$LATEST", False, b'{"errorMessage": "no"}', "")


async def test_a_stream_batch_given_up_written_with_its_payload(rig: Rig) -> None:
    world = rig.world
    mine = await rig.bucket("records")
    role = await rig.role("consumer", "kinesis:*", *WRITE)
    roles = FunctionRoles(world.identity, REGION)
    kinesis = functools.partial(lambda k: k, world.kinesis)
    access = StreamAccess(roles, kinesis, lambda: None, rig.buckets)
    sender = RecordSender(roles, service_channels(roles, None, None) | {"s3": rig.buckets}, None)
    store = MemoryMappingStore()
    poller = StreamPoller(
        store,
        access,
        StreamReader(kinesis, lambda: None, REGION),
        Failing(role),
        FailureDestinations(roles, access, None, None, sender),
    )
    stream = await world.kinesis.create(rig.tenant, "clicks", 1, StreamMode.PROVISIONED)
    await world.kinesis.put(rig.tenant, "clicks", [Entry("k", b"hello")])
    await store.add(EventSourceMapping(
        uuid="00000000-0000-0000-0000-000000000007", tenant_id=rig.tenant,
        function_name="consumer", qualifier=None,
        function_arn=f"arn:aws:lambda:{REGION}:{rig.tenant}:function:consumer",
        source_arn=stream.arn, source_kind="kinesis", state="Enabled", last_modified=0,
        parameters={"BatchSize": 100, "StartingPosition": "TRIM_HORIZON"} | STREAM_DEFAULTS
        | {"MaximumRetryAttempts": 0, "DestinationConfig": {"OnFailure": {"Destination": mine}}},
        created=0,
    ))  # fmt: skip
    (mapping,) = await store.claim("gw-a", 0, 2**62, 10)
    assert await poller.poll(mapping, "gw-a") == (1, "PROBLEM: Function call failed")
    ((key, body),) = (await rig.objects_in("records")).items()
    assert key.startswith(f"aws/lambda/{mapping.uuid}/shardId-000000000000/")
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["KinesisBatchInfo"]["streamArn"] == stream.arn
    (event,) = json.loads(body["payload"])["Records"]
    assert event["kinesis"]["partitionKey"] == "k"
