"""Decision 0207: Secrets Manager replication across the deployment's regions, through the
in-process app signed as botocore signs for each region's endpoint, over the real KMS service
(one per region, ``in_region``) and the real envelope sealer: a replica sealed under a key of
its own region (its ``aws/secretsmanager`` made there, or the key given), every change of the
primary carried to it in the same call, read-only, removed, promoted; a region served by
another gateway through the durable task, retried with backoff; ``ReplicationStatus``
``Failed`` with its reason; regions not declared or not allowed to the account refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.model import Secret
from andromede.secrets.service import Actor, SecretService
from andromede.settings import Settings
from andromede.wiring.kms_envelopes import envelope_key, envelopes
from andromede.wiring.secrets import KmsSecretSealer, as_secrets_manager, secrets_upkeep
from support.secretsapp import REGION, Harness, harness

BERLIN = "eu-de-1"
ROME = "eu-it-1"


_DENY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
    '"Action":"secretsmanager:DeleteSecret","Resource":"*"}]}'
)


async def _anyone(action: str, secret: Secret | None) -> None:
    return None


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[Harness]:
    async for made in harness(tmp_path, regions=(BERLIN, ROME), retry_interval=0.01):
        yield made


async def _key_of(sm: Harness, region: str, name: str) -> set[str]:
    """The keys the secret's versions in ``region`` are sealed under (their envelopes')."""
    _, versions = await sm.secrets.describe(Actor(sm.tenant_id, region, _anyone), name)
    return {envelope_key(envelopes(v.sealed)[0]) for v in versions}


async def test_a_replica_follows_its_primary_in_the_call(two: Harness) -> None:
    de = two.in_region(BERLIN)
    made = await two.ok(
        "CreateSecret",
        {"Name": "db", "SecretString": "v1", "AddReplicaRegions": [{"Region": BERLIN}]},
    )
    assert made["ReplicationStatus"] == [
        {"Region": BERLIN, "Status": "InSync", "KmsKeyId": "alias/aws/secretsmanager"}
    ]
    # The replica: the same name and suffix in its region, the primary's value and version.
    got = await de.ok("GetSecretValue", {"SecretId": "db"})
    assert got["SecretString"] == "v1" and got["VersionId"] == made["VersionId"]
    assert got["ARN"] == made["ARN"].replace(f":{REGION}:", f":{BERLIN}:")
    described = await de.ok("DescribeSecret", {"SecretId": got["ARN"]})
    assert described["PrimaryRegion"] == REGION and "ReplicationStatus" not in described
    primary = await two.ok("DescribeSecret", {"SecretId": "db"})
    assert primary["PrimaryRegion"] == REGION
    (status,) = primary["ReplicationStatus"]
    assert status["Status"] == "InSync" and status["LastAccessedDate"] > 0
    # Sealed under Berlin's own aws/secretsmanager, made there; the primary under Paris's.
    (de_key,) = await _key_of(two, BERLIN, "db")
    (fr_key,) = await _key_of(two, REGION, "db")
    assert f":{BERLIN}:" in de_key and f":{REGION}:" in fr_key
    # Every change of the primary reaches the replica in the same call.
    put = await two.ok("PutSecretValue", {"SecretId": "db", "SecretString": "v2"})
    await two.ok("TagResource", {"SecretId": "db", "Tags": [{"Key": "team", "Value": "a"}]})
    await two.ok("UpdateSecret", {"SecretId": "db", "Description": "the database"})
    await two.ok(
        "UpdateSecretVersionStage",
        {"SecretId": "db", "VersionStage": "AWSPENDING", "MoveToVersionId": put["VersionId"]},
    )
    assert (await de.ok("GetSecretValue", {"SecretId": "db"}))["SecretString"] == "v2"
    previous = await de.ok("GetSecretValue", {"SecretId": "db", "VersionStage": "AWSPREVIOUS"})
    assert previous["SecretString"] == "v1"
    described = await de.ok("DescribeSecret", {"SecretId": "db"})
    assert described["Tags"] == [{"Key": "team", "Value": "a"}]
    assert described["Description"] == "the database"
    assert described["VersionIdsToStages"][put["VersionId"]] == ["AWSCURRENT", "AWSPENDING"]
    listed = await de.ok(
        "ListSecrets", {"Filters": [{"Key": "primary-region", "Values": [REGION]}]}
    )
    assert [s["Name"] for s in listed["SecretList"]] == ["db"]
    # The replica's key uses are the caller's, in Berlin, audited and metered.
    await two.audit.flush()
    records = [e for _, e in await two.audit_store.list_events(None, after_id=0, limit=500)]
    sealed_there = [
        e for e in records if e.action == "kms:GenerateDataKey" and e.resource == de_key
    ]
    assert len(sealed_there) == 2
    assert {e.details["invoked_by"] for e in sealed_there} == {"secretsmanager.amazonaws.com"}
    assert {e.principal for e in sealed_there} == {f"arn:aws:iam::{two.tenant_id}:root"}
    # Paris's 2 seals; the syncs' 2 opens in Paris and 2 seals in Berlin; 3 reads in Berlin.
    assert await two.usage("kms.requests") == 2 + 2 + 2 + 3


async def test_a_replica_is_read_only_and_the_primary_keeps_it(two: Harness) -> None:
    de = two.in_region(BERLIN)
    await two.ok(
        "CreateSecret",
        {"Name": "db", "SecretString": "v1", "AddReplicaRegions": [{"Region": BERLIN}]},
    )
    for action, extra in (
        ("PutSecretValue", {"SecretString": "x"}),
        ("UpdateSecret", {"Description": "x"}),
        ("TagResource", {"Tags": [{"Key": "k", "Value": "v"}]}),
        ("PutResourcePolicy", {"ResourcePolicy": _DENY}),
        ("DeleteSecret", {"ForceDeleteWithoutRecovery": True}),
        ("ReplicateSecretToRegions", {"AddReplicaRegions": [{"Region": ROME}]}),
    ):
        message = await de.fails(action, {"SecretId": "db", **extra}, "InvalidRequestException")
        assert "replica" in message, action
    assert (await de.ok("GetSecretValue", {"SecretId": "db"}))["SecretString"] == "v1"
    # The primary is not deleted while it has replicas; removed, they go at once.
    message = await two.fails("DeleteSecret", {"SecretId": "db"}, "InvalidRequestException")
    assert BERLIN in message
    await two.fails(
        "RemoveRegionsFromReplication",
        {"SecretId": "db", "RemoveReplicaRegions": [ROME]},
        "InvalidParameterException",
    )
    removed = await two.ok(
        "RemoveRegionsFromReplication", {"SecretId": "db", "RemoveReplicaRegions": [BERLIN]}
    )
    assert removed["ReplicationStatus"] == []
    await de.fails("DescribeSecret", {"SecretId": "db"}, "ResourceNotFoundException")
    assert "PrimaryRegion" not in await two.ok("DescribeSecret", {"SecretId": "db"})
    await two.ok("DeleteSecret", {"SecretId": "db", "ForceDeleteWithoutRecovery": True})


async def test_the_replica_s_key_is_of_its_region_and_a_failure_is_told(two: Harness) -> None:
    de = two.in_region(BERLIN)
    paris_key = await two.keys.create_key(two.key_caller())
    berlin_key = await two.keys.in_region(BERLIN).create_key(two.key_caller())
    await two.ok("CreateSecret", {"Name": "db", "SecretString": "v1"})
    message = await two.fails(
        "ReplicateSecretToRegions",
        {"SecretId": "db", "AddReplicaRegions": [{"Region": BERLIN, "KmsKeyId": paris_key.arn}]},
        "InvalidParameterException",
    )
    assert BERLIN in message
    await de.fails("DescribeSecret", {"SecretId": "db"}, "ResourceNotFoundException")
    done = await two.ok(
        "ReplicateSecretToRegions",
        {"SecretId": "db", "AddReplicaRegions": [{"Region": BERLIN, "KmsKeyId": berlin_key.arn}]},
    )
    assert done["ReplicationStatus"][0]["Status"] == "InSync"
    assert await _key_of(two, BERLIN, "db") == {berlin_key.arn}
    # The replica's key disabled: the primary's write stands, the replica says why it lags.
    await two.keys.in_region(BERLIN).disable_key(two.key_caller(), berlin_key.key_id)
    await two.ok("PutSecretValue", {"SecretId": "db", "SecretString": "v2"})
    (status,) = (await two.ok("DescribeSecret", {"SecretId": "db"}))["ReplicationStatus"]
    assert status["Status"] == "Failed"
    assert status["StatusMessage"].startswith("Replication failed: Secrets Manager can't encrypt")
    # Re-enabled, the durable task's retry (its backoff over) brings it in sync.
    await two.keys.in_region(BERLIN).enable_key(two.key_caller(), berlin_key.key_id)
    await asyncio.sleep(0.05)
    assert await two.secrets.replication.run_due() == 1
    (status,) = (await two.ok("DescribeSecret", {"SecretId": "db"}))["ReplicationStatus"]
    assert status["Status"] == "InSync" and "StatusMessage" not in status
    assert (await de.ok("GetSecretValue", {"SecretId": "db"}))["SecretString"] == "v2"
    # Asked again with Berlin's aws/secretsmanager: every replicated version sealed anew.
    await two.ok(
        "ReplicateSecretToRegions", {"SecretId": "db", "AddReplicaRegions": [{"Region": BERLIN}]}
    )
    (managed,) = await _key_of(two, BERLIN, "db")
    assert managed != berlin_key.arn and f":{BERLIN}:" in managed
    await two.keys.in_region(BERLIN).disable_key(two.key_caller(), berlin_key.key_id)
    previous = await de.ok("GetSecretValue", {"SecretId": "db", "VersionStage": "AWSPREVIOUS"})
    assert previous["SecretString"] == "v1"


async def test_regions_not_declared_or_not_allowed_are_refused(two: Harness) -> None:
    await two.ok("CreateSecret", {"Name": "db", "SecretString": "v1"})
    for region in ("us-east-1", REGION):
        await two.fails(
            "ReplicateSecretToRegions",
            {"SecretId": "db", "AddReplicaRegions": [{"Region": region}]},
            "InvalidParameterException",
        )
    # The operator's allow-list for the account (data residency): Rome is not in it.
    await two.identity.set_tenant_regions(two.tenant_id, [REGION, BERLIN])
    message = await two.fails(
        "CreateSecret",
        {"Name": "it", "SecretString": "v", "AddReplicaRegions": [{"Region": ROME}]},
        "AccessDeniedException",
    )
    assert ROME in message
    await two.fails("DescribeSecret", {"SecretId": "it"}, "ResourceNotFoundException")
    # Nor is a secret made there directly, through Rome's endpoint.
    message = await two.in_region(ROME).fails(
        "CreateSecret", {"Name": "it", "SecretString": "v"}, "AccessDeniedException"
    )
    assert ROME in message
    await two.ok(
        "ReplicateSecretToRegions", {"SecretId": "db", "AddReplicaRegions": [{"Region": BERLIN}]}
    )
    # Berlin later taken out of the allow-list: the next sync refuses, and says so.
    await two.identity.set_tenant_regions(two.tenant_id, [REGION])
    await two.ok("PutSecretValue", {"SecretId": "db", "SecretString": "v2"})
    (status,) = (await two.ok("DescribeSecret", {"SecretId": "db"}))["ReplicationStatus"]
    assert status["Status"] == "Failed" and BERLIN in status["StatusMessage"]
    got = await two.in_region(BERLIN).ok("GetSecretValue", {"SecretId": "db"})
    assert got["SecretString"] == "v1"  # what was replicated stays, as AWS


async def test_stop_replication_promotes_the_replica(two: Harness) -> None:
    de = two.in_region(BERLIN)
    await two.ok(
        "CreateSecret",
        {"Name": "db", "SecretString": "v1", "AddReplicaRegions": [{"Region": BERLIN}]},
    )
    await two.fails("StopReplicationToReplica", {"SecretId": "db"}, "InvalidRequestException")
    await de.ok("StopReplicationToReplica", {"SecretId": "db"})
    assert "PrimaryRegion" not in await de.ok("DescribeSecret", {"SecretId": "db"})
    assert "ReplicationStatus" not in await two.ok("DescribeSecret", {"SecretId": "db"})
    await de.ok("PutSecretValue", {"SecretId": "db", "SecretString": "berlin"})
    await two.ok("PutSecretValue", {"SecretId": "db", "SecretString": "paris"})
    assert (await de.ok("GetSecretValue", {"SecretId": "db"}))["SecretString"] == "berlin"
    await two.ok("DeleteSecret", {"SecretId": "db", "ForceDeleteWithoutRecovery": True})


async def test_a_name_taken_in_the_region_needs_the_overwrite(two: Harness) -> None:
    de = two.in_region(BERLIN)
    await de.ok("CreateSecret", {"Name": "db", "SecretString": "mine"})
    await two.ok("CreateSecret", {"Name": "db", "SecretString": "primary"})
    done = await two.ok(
        "ReplicateSecretToRegions", {"SecretId": "db", "AddReplicaRegions": [{"Region": BERLIN}]}
    )
    (status,) = done["ReplicationStatus"]
    assert status["Status"] == "Failed" and "already exists" in status["StatusMessage"]
    assert (await de.ok("GetSecretValue", {"SecretId": "db"}))["SecretString"] == "mine"
    done = await two.ok(
        "ReplicateSecretToRegions",
        {
            "SecretId": "db",
            "AddReplicaRegions": [{"Region": BERLIN}],
            "ForceOverwriteReplicaSecret": True,
        },
    )
    assert done["ReplicationStatus"][0]["Status"] == "InSync"
    assert (await de.ok("GetSecretValue", {"SecretId": "db"}))["SecretString"] == "primary"


async def test_a_region_served_elsewhere_goes_through_the_durable_task(tmp_path: Path) -> None:
    store = MemorySecretStore()
    async for paris in harness(tmp_path, store, regions=(BERLIN,), served=(REGION,)):
        made = await paris.ok(
            "CreateSecret",
            {"Name": "db", "SecretString": "v1", "AddReplicaRegions": [{"Region": BERLIN}]},
        )
        assert made["ReplicationStatus"][0]["Status"] == "InProgress"
        # This gateway does not serve Berlin: its task waits for one that does.
        assert await paris.secrets.replication.run_due() == 0
        reply = await paris.in_region(BERLIN).call("DescribeSecret", {"SecretId": "db"})
        assert reply.status == 400
        berlin = SecretService(
            store,
            KmsSecretSealer(paris.keys, REGION, paris.audit, paris.billing),
            replication=replace(paris.secrets.replication.policy, served=frozenset({BERLIN})),
        )
        # Berlin's gateway upkeep (what serve runs) makes the pass.
        upkeep = asyncio.create_task(
            secrets_upkeep(
                Settings(data_dir=tmp_path, secrets_replication_retry_interval=0.01), berlin
            )
        )
        try:
            for _ in range(200):
                described = await paris.ok("DescribeSecret", {"SecretId": "db"})
                if described["ReplicationStatus"][0]["Status"] == "InSync":
                    break
                await asyncio.sleep(0.01)
        finally:
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
        (status,) = described["ReplicationStatus"]
        assert status["Status"] == "InSync"
        assert await berlin.replication.run_due() == 0  # nothing left due
        as_service = as_secrets_manager(paris.tenant_id)
        _, version, value = await berlin.get_value(
            Actor(paris.tenant_id, BERLIN, _anyone, as_service), "db"
        )
        assert value == b"v1" and version.version_id == made["VersionId"]
        # The background sync used the keys as Secrets Manager for the account, audited so.
        await paris.audit.flush()
        records = [e for _, e in await paris.audit_store.list_events(None, after_id=0, limit=500)]
        background = [e for e in records if e.request_id.startswith("secretsmanager-replication")]
        assert {e.action for e in background} >= {"kms:Decrypt", "kms:GenerateDataKey"}


async def test_a_sync_of_an_older_change_settles_nothing(tmp_path: Path) -> None:
    store = MemorySecretStore()
    async for two in harness(tmp_path, store, regions=(BERLIN,)):
        await two.ok(
            "CreateSecret",
            {"Name": "db", "SecretString": "v1", "AddReplicaRegions": [{"Region": BERLIN}]},
        )
        primary = await two.secrets.resolve(Actor(two.tenant_id, REGION, _anyone), "db")
        await store.mark_due(primary.arn, primary.created)
        (read,) = await store.replicas(primary.arn)
        await store.mark_due(primary.arn, primary.created)  # another change meanwhile
        settled = await two.secrets.replication.sync(read, as_secrets_manager(two.tenant_id))
        assert settled is not None and settled.status == "InSync"
        (held,) = await store.replicas(primary.arn)
        assert held.status == "InProgress" and held.due is not None  # still due: synced again
        assert await two.secrets.replication.run_due() == 1
        (held,) = await store.replicas(primary.arn)
        assert held.status == "InSync" and held.due is None


async def test_the_backoff_grows_to_its_setting(tmp_path: Path) -> None:
    store = MemorySecretStore()
    async for two in harness(tmp_path, store, regions=(BERLIN,), retry_interval=1.0):
        key = await two.keys.in_region(BERLIN).create_key(two.key_caller())
        await two.keys.in_region(BERLIN).disable_key(two.key_caller(), key.key_id)
        await two.ok("CreateSecret", {"Name": "db", "SecretString": "v1"})
        await two.ok(
            "ReplicateSecretToRegions",
            {"SecretId": "db", "AddReplicaRegions": [{"Region": BERLIN, "KmsKeyId": key.arn}]},
        )
        primary = await two.secrets.resolve(Actor(two.tenant_id, REGION, _anyone), "db")
        (held,) = await store.replicas(primary.arn)
        assert held.status == "Failed" and held.attempts == 1
        waits = []
        for _ in range(12):
            (held,) = await store.replicas(primary.arn)
            await two.secrets.replication.sync(held, as_secrets_manager(two.tenant_id))
            (after,) = await store.replicas(primary.arn)
            assert after.status == "Failed" and after.due is not None
            waits.append(round((after.due - datetime.now(UTC)).total_seconds()))
        # The first retry 1 s after the failure, doubled at each one, up to
        # secrets_replication_max_backoff (900 s).
        assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]


_MODEL = botocore.session.get_session().get_service_model("secretsmanager")


async def _boto(sm: Harness, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``operation`` serialised and its answer parsed by botocore's own JSON protocol code."""
    model = _MODEL.operation_model(operation)
    body = create_serializer("json").serialize_to_request(params, model)["body"]
    reply = await sm.call(operation, json.loads(body))
    assert reply.status == 200, reply.body
    parsed: dict[str, Any] = create_parser("json").parse(
        {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
        model.output_shape,
    )
    return parsed


async def test_botocore_reads_the_replication_answers(two: Harness) -> None:
    made = await _boto(
        two,
        "CreateSecret",
        {
            "Name": "db",
            "SecretString": "v1",
            "AddReplicaRegions": [{"Region": BERLIN}],
            "ForceOverwriteReplicaSecret": False,
        },
    )
    assert made["ReplicationStatus"][0]["Status"] == "InSync"
    added = await _boto(
        two, "ReplicateSecretToRegions", {"SecretId": "db", "AddReplicaRegions": [{"Region": ROME}]}
    )
    assert [s["Region"] for s in added["ReplicationStatus"]] == [BERLIN, ROME]
    await _boto(two.in_region(ROME), "GetSecretValue", {"SecretId": "db"})
    described = await _boto(two, "DescribeSecret", {"SecretId": "db"})
    assert described["PrimaryRegion"] == REGION
    rome = next(s for s in described["ReplicationStatus"] if s["Region"] == ROME)
    assert isinstance(rome["LastAccessedDate"], datetime)
    removed = await _boto(
        two, "RemoveRegionsFromReplication", {"SecretId": "db", "RemoveReplicaRegions": [ROME]}
    )
    assert [s["Region"] for s in removed["ReplicationStatus"]] == [BERLIN]
    stopped = await _boto(two.in_region(BERLIN), "StopReplicationToReplica", {"SecretId": "db"})
    assert f":{BERLIN}:" in stopped["ARN"]


async def test_a_primary_changed_meanwhile_is_read_again(two: Harness) -> None:
    await two.ok("CreateSecret", {"Name": "db", "SecretString": "v1"})
    stale = await two.secrets.resolve(Actor(two.tenant_id, REGION, _anyone), "db")
    await two.ok("PutSecretValue", {"SecretId": "db", "SecretString": "v2"})
    primary = await two.secrets.replication.add(
        stale, [(BERLIN, None)], overwrite=False, caller=as_secrets_manager(two.tenant_id)
    )
    assert primary.primary_region == REGION and primary.revision == stale.revision + 2
    got = await two.in_region(BERLIN).ok("GetSecretValue", {"SecretId": "db"})
    assert got["SecretString"] == "v2"


async def test_iam_conditions_guard_replication(two: Harness) -> None:
    await two.ok("CreateSecret", {"Name": "db", "SecretString": "v1"})
    user = await two.iam_user("ops")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "secretsmanager:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": REGION}},
            },
            {  # AWS's example: no call may add replica regions but towards Berlin
                "Effect": "Deny",
                "Action": "secretsmanager:*",
                "Resource": "*",
                "Condition": {
                    "ForAnyValue:StringNotEquals": {"secretsmanager:AddReplicaRegions": BERLIN}
                },
            },
        ],
    }
    await two.identity.put_user_policy(two.tenant_id, "ops", "p", json.dumps(policy))
    await user.fails(
        "ReplicateSecretToRegions",
        {"SecretId": "db", "AddReplicaRegions": [{"Region": ROME}]},
        "AccessDeniedException",
    )
    await user.ok(
        "ReplicateSecretToRegions", {"SecretId": "db", "AddReplicaRegions": [{"Region": BERLIN}]}
    )
    # Berlin's endpoint is another region for aws:RequestedRegion: the user may not read there.
    await user.in_region(BERLIN).fails(
        "GetSecretValue", {"SecretId": "db"}, "AccessDeniedException"
    )
    got = await two.in_region(BERLIN).ok("GetSecretValue", {"SecretId": "db"})
    assert got["SecretString"] == "v1"
