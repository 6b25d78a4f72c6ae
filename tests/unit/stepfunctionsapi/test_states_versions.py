"""Decision 0283's versions and aliases through botocore's own JSON model: versions published
from the current revision (numbered from 1, idempotent, ``revisionId`` checked, bounded, with
CreateStateMachine's and UpdateStateMachine's ``publish``), described as snapshots, listed
newest first in pages, deleted (not while an alias routes to one); aliases validated as AWS's,
routing executions by their weights; executions started by a version or an alias, described
and listed by them; a machine's deletion taking its versions and aliases; IAM on the
qualified ARNs; accounts isolated."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.stepfunctions.version_service import VersionLimits
from andromede.stepfunctions.versions import MachineAlias, pick_version
from support.statesapp import World, states_world

ONE = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}})
TWO = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 2, "End": True}}})


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[World]:
    async for made in states_world(tmp_path, version_limits=VersionLimits(2, 2)):
        yield made


async def machine(world: World, name: str = "orders", **extra: object) -> dict[str, object]:
    role = await world.role(f"{name}-role-{uuid.uuid4().hex[:8]}")
    return await world.client(
        "CreateStateMachine", name=name, definition=ONE, roleArn=role, **extra
    )


async def test_versions_are_published_described_listed_and_deleted(world: World) -> None:
    made = await machine(world, publish=True, versionDescription="first")
    arn = str(made["stateMachineArn"])
    assert made["stateMachineVersionArn"] == f"{arn}:1"
    again = await world.client("PublishStateMachineVersion", stateMachineArn=arn)
    assert again["stateMachineVersionArn"] == f"{arn}:1"  # the same revision: idempotent
    before = await world.client("DescribeStateMachine", stateMachineArn=arn)
    updated = await world.client("UpdateStateMachine", stateMachineArn=arn, definition=TWO,
                                 publish=True, versionDescription="second")  # fmt: skip
    assert updated["stateMachineVersionArn"] == f"{arn}:2"
    stale = await world.fails("PublishStateMachineVersion", "ConflictException",
                              stateMachineArn=arn, revisionId=before["revisionId"])  # fmt: skip
    assert updated["revisionId"] in stale.message
    first = await world.client("DescribeStateMachine", stateMachineArn=f"{arn}:1")
    assert (first["stateMachineArn"], first["definition"], first["description"]) == (
        f"{arn}:1",
        ONE,
        "first",
    )
    assert first["revisionId"] == before["revisionId"] and first["name"] == "orders"
    await world.client("UpdateStateMachine", stateMachineArn=arn, definition=ONE)
    third = await world.client("PublishStateMachineVersion", stateMachineArn=arn,
                               revisionId=(await world.client("DescribeStateMachine",
                                           stateMachineArn=arn))["revisionId"],
                               description="third")  # fmt: skip
    assert third["stateMachineVersionArn"] == f"{arn}:3"
    page = await world.client("ListStateMachineVersions", stateMachineArn=arn, maxResults=2)
    assert [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]] == [
        f"{arn}:3", f"{arn}:2"]  # fmt: skip
    rest = await world.client("ListStateMachineVersions", stateMachineArn=arn,
                              nextToken=page["nextToken"])  # fmt: skip
    assert [v["stateMachineVersionArn"] for v in rest["stateMachineVersions"]] == [f"{arn}:1"]
    assert "nextToken" not in rest
    await world.client("DeleteStateMachineVersion", stateMachineVersionArn=f"{arn}:3")
    await world.client("DeleteStateMachineVersion", stateMachineVersionArn=f"{arn}:3")  # no error
    await world.fails("DescribeStateMachine", "StateMachineDoesNotExist",
                      stateMachineArn=f"{arn}:3")  # fmt: skip
    # A deleted version's number is not given again.
    await world.client("UpdateStateMachine", stateMachineArn=arn, definition=TWO)
    fourth = await world.client("PublishStateMachineVersion", stateMachineArn=arn)
    assert fourth["stateMachineVersionArn"] == f"{arn}:4"
    await world.fails("DeleteStateMachineVersion", "InvalidArn", stateMachineVersionArn=arn)
    await world.fails("ListStateMachineVersions", "InvalidToken", stateMachineArn=arn,
                      nextToken="garbage")  # fmt: skip
    other = await world.other_tenant("other")
    await other.fails("DescribeStateMachine", "StateMachineDoesNotExist",
                      stateMachineArn=f"{arn}:1")  # fmt: skip


async def test_a_machine_has_at_most_its_bound_of_versions(small: World) -> None:
    arn = str((await machine(small, publish=True))["stateMachineArn"])
    await small.client("UpdateStateMachine", stateMachineArn=arn, definition=TWO, publish=True)
    await small.client("UpdateStateMachine", stateMachineArn=arn, definition=ONE)
    failed = await small.fails("PublishStateMachineVersion", "ServiceQuotaExceededException",
                               stateMachineArn=arn)  # fmt: skip
    assert "at most 2 versions" in failed.message
    await small.client("DeleteStateMachineVersion", stateMachineVersionArn=f"{arn}:1")
    made = await small.client("PublishStateMachineVersion", stateMachineArn=arn)
    assert made["stateMachineVersionArn"].endswith(":3")


async def test_aliases_are_validated_described_updated_listed_and_deleted(world: World) -> None:
    arn = str((await machine(world, publish=True))["stateMachineArn"])
    await world.client("UpdateStateMachine", stateMachineArn=arn, definition=TWO, publish=True)
    v1, v2 = f"{arn}:1", f"{arn}:2"
    made = await world.client("CreateStateMachineAlias", name="live", description="prod",
                              routingConfiguration=[{"stateMachineVersionArn": v1,
                                                     "weight": 100}])  # fmt: skip
    alias = made["stateMachineAliasArn"]
    assert alias == f"{arn}:live"
    same = await world.client("CreateStateMachineAlias", name="live", description="prod",
                              routingConfiguration=[{"stateMachineVersionArn": v1,
                                                     "weight": 100}])  # fmt: skip
    assert same["stateMachineAliasArn"] == alias  # idempotent
    await world.fails("CreateStateMachineAlias", "ConflictException", name="live",
                      routingConfiguration=[{"stateMachineVersionArn": v2,
                                             "weight": 100}])  # fmt: skip
    bad = await world.fails("CreateStateMachineAlias", "ValidationException", name="x",
                            routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 60},
                                                  {"stateMachineVersionArn": v2,
                                                   "weight": 30}])  # fmt: skip
    assert "sum of the weights must be equal to 100" in bad.message
    await world.fails("CreateStateMachineAlias", "ValidationException", name="x",
                      routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 50},
                                            {"stateMachineVersionArn": v1,
                                             "weight": 50}])  # fmt: skip
    await world.fails("CreateStateMachineAlias", "ValidationException", name="x",
                      routingConfiguration=[{"stateMachineVersionArn": arn,
                                             "weight": 100}])  # fmt: skip
    await world.fails("CreateStateMachineAlias", "ResourceNotFound", name="x",
                      routingConfiguration=[{"stateMachineVersionArn": f"{arn}:9",
                                             "weight": 100}])  # fmt: skip
    await world.fails("CreateStateMachineAlias", "InvalidName", name="123",
                      routingConfiguration=[{"stateMachineVersionArn": v1,
                                             "weight": 100}])  # fmt: skip
    other_arn = str((await machine(world, "other", publish=True))["stateMachineArn"])
    await world.fails("CreateStateMachineAlias", "ValidationException", name="x",
                      routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 50},
                                            {"stateMachineVersionArn": f"{other_arn}:1",
                                             "weight": 50}])  # fmt: skip
    described = await world.client("DescribeStateMachineAlias", stateMachineAliasArn=alias)
    assert (described["name"], described["description"]) == ("live", "prod")
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": v1, "weight": 100}]
    await world.client("UpdateStateMachineAlias", stateMachineAliasArn=alias,
                       routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 10},
                                             {"stateMachineVersionArn": v2,
                                              "weight": 90}])  # fmt: skip
    changed = await world.client("DescribeStateMachineAlias", stateMachineAliasArn=alias)
    assert [r["weight"] for r in changed["routingConfiguration"]] == [10, 90]
    assert changed["description"] == "prod"
    await world.fails("UpdateStateMachineAlias", "ValidationException",
                      stateMachineAliasArn=alias)  # fmt: skip
    routed = await world.fails("DeleteStateMachineVersion", "ConflictException",
                               stateMachineVersionArn=v2)  # fmt: skip
    assert alias in routed.message
    await world.client("CreateStateMachineAlias", name="beta",
                       routingConfiguration=[{"stateMachineVersionArn": v2,
                                              "weight": 100}])  # fmt: skip
    page = await world.client("ListStateMachineAliases", stateMachineArn=arn, maxResults=1)
    assert [a["stateMachineAliasArn"] for a in page["stateMachineAliases"]] == [f"{arn}:beta"]
    rest = await world.client("ListStateMachineAliases", stateMachineArn=arn,
                              nextToken=page["nextToken"])  # fmt: skip
    assert [a["stateMachineAliasArn"] for a in rest["stateMachineAliases"]] == [alias]
    await world.client("DeleteStateMachineAlias", stateMachineAliasArn=alias)
    await world.client("DeleteStateMachineAlias", stateMachineAliasArn=f"{arn}:beta")
    await world.fails("DescribeStateMachineAlias", "ResourceNotFound", stateMachineAliasArn=alias)
    await world.client("DeleteStateMachineVersion", stateMachineVersionArn=v2)
    other = await world.other_tenant("other")
    await other.fails("ListStateMachineAliases", "ResourceNotFound", stateMachineArn=arn)


async def test_a_machine_has_at_most_its_bound_of_aliases(small: World) -> None:
    arn = str((await machine(small, publish=True))["stateMachineArn"])
    routing = [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    for name in ("a", "b"):
        await small.client("CreateStateMachineAlias", name=name, routingConfiguration=routing)
    await small.fails("CreateStateMachineAlias", "ServiceQuotaExceededException", name="c",
                      routingConfiguration=routing)  # fmt: skip


async def test_executions_run_the_version_an_arn_or_alias_names(world: World) -> None:
    arn = str((await machine(world, publish=True))["stateMachineArn"])
    await world.client("UpdateStateMachine", stateMachineArn=arn, definition=TWO, publish=True)
    alias = (await world.client(
        "CreateStateMachineAlias", name="live",
        routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 0},
                              {"stateMachineVersionArn": f"{arn}:2", "weight": 100}],
    ))["stateMachineAliasArn"]  # fmt: skip
    await world.client("UpdateStateMachine", stateMachineArn=arn,
                       definition=json.dumps({"StartAt": "A", "States": {
                           "A": {"Type": "Pass", "Result": 3, "End": True}}}))  # fmt: skip
    by_version = await world.client("StartExecution", stateMachineArn=f"{arn}:1", name="v")
    by_alias = await world.client("StartExecution", stateMachineArn=alias, name="a")
    latest = await world.client("StartExecution", stateMachineArn=arn, name="l")
    await world.run()
    outputs = {}
    for started in (by_version, by_alias, latest):
        done = await world.client("DescribeExecution", executionArn=started["executionArn"])
        assert done["status"] == "SUCCEEDED"
        outputs[done["name"]] = (json.loads(done["output"]), done.get("stateMachineVersionArn"),
                                 done.get("stateMachineAliasArn"))  # fmt: skip
        assert done["stateMachineArn"] == arn
    assert outputs == {"v": (1, f"{arn}:1", None), "a": (2, f"{arn}:2", alias),
                       "l": (3, None, None)}  # fmt: skip
    history = await world.client("GetExecutionHistory", executionArn=by_alias["executionArn"])
    started = history["events"][0]["executionStartedEventDetails"]
    assert (started["stateMachineVersionArn"], started["stateMachineAliasArn"]) == (
        f"{arn}:2",
        alias,
    )
    listed = await world.client("ListExecutions", stateMachineArn=f"{arn}:2")
    assert [e["name"] for e in listed["executions"]] == ["a"]
    listed = await world.client("ListExecutions", stateMachineArn=alias)
    assert [e["stateMachineAliasArn"] for e in listed["executions"]] == [alias]
    assert len((await world.client("ListExecutions", stateMachineArn=arn))["executions"]) == 3
    await world.fails("StartExecution", "StateMachineDoesNotExist", stateMachineArn=f"{arn}:7")
    await world.fails("StartExecution", "StateMachineDoesNotExist", stateMachineArn=f"{arn}:nope")


async def test_an_express_version_runs_synchronously(world: World) -> None:
    arn = str((await machine(world, type="EXPRESS", publish=True))["stateMachineArn"])
    await world.client("UpdateStateMachine", stateMachineArn=arn, definition=TWO)
    ran = await world.client("StartSyncExecution", stateMachineArn=f"{arn}:1")
    assert (ran["status"], json.loads(ran["output"])) == ("SUCCEEDED", 1)


async def test_deleting_a_machine_deletes_its_versions_and_aliases(world: World) -> None:
    arn = str((await machine(world, publish=True))["stateMachineArn"])
    await world.client("CreateStateMachineAlias", name="live",
                       routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1",
                                              "weight": 100}])  # fmt: skip
    await world.client("DeleteStateMachine", stateMachineArn=arn)
    await world.fails("DescribeStateMachine", "StateMachineDoesNotExist",
                      stateMachineArn=f"{arn}:1")  # fmt: skip
    again = await machine(world)
    assert again["stateMachineArn"] == arn
    listed = await world.client("ListStateMachineVersions", stateMachineArn=arn)
    assert listed["stateMachineVersions"] == []
    aliases = await world.client("ListStateMachineAliases", stateMachineArn=arn)
    assert aliases["stateMachineAliases"] == []
    made = await world.client("PublishStateMachineVersion", stateMachineArn=arn)
    assert made["stateMachineVersionArn"] == f"{arn}:1"


async def test_iam_decides_on_the_qualified_arns(world: World) -> None:
    arn = str((await machine(world, publish=True))["stateMachineArn"])
    routing = [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    made = await world.client("CreateStateMachineAlias", name="live", routingConfiguration=routing)
    alias = made["stateMachineAliasArn"]
    user = await world.iam_user("dev")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["states:StartExecution", "states:CreateStateMachine",
                                       "states:UpdateStateMachine"], "Resource": arn}]}  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "dev", "sfn", json.dumps(policy))
    denied = await user.fails("StartExecution", "AccessDeniedException", stateMachineArn=alias)
    assert "states:StartExecution" in denied.message
    await user.fails("DescribeStateMachineAlias", "AccessDeniedException",
                     stateMachineAliasArn=alias)  # fmt: skip
    refused = await user.fails("UpdateStateMachine", "AccessDeniedException",
                               stateMachineArn=arn, definition=TWO, publish=True)  # fmt: skip
    assert "states:PublishStateMachineVersion" in refused.message
    policy["Statement"][0]["Resource"] = f"{arn}:*"
    await world.identity.put_user_policy(world.tenant_id, "dev", "sfn", json.dumps(policy))
    started = await user.client("StartExecution", stateMachineArn=alias, name="through")
    assert started["executionArn"].endswith(":execution:orders:through")
    events = [(a, r.split(",")[0], o) for a, r, o in await world.audited()]
    assert ("states:StartExecution", alias, "success") in events
    assert ("states:StartExecution", alias, "failure") in events
    assert ("states:CreateStateMachineAlias", alias, "success") in events


def test_an_alias_draws_its_version_by_the_weights() -> None:
    alias = MachineAlias("000000000001", "eu-fr-1", "m", "live", ((1, 30), (2, 70)))
    assert [pick_version(alias, draw) for draw in (0.0, 0.29, 0.3, 0.99)] == [1, 1, 2, 2]
    only = MachineAlias("000000000001", "eu-fr-1", "m", "live", ((1, 0), (2, 100)))
    assert {pick_version(only) for _ in range(50)} == {2}
