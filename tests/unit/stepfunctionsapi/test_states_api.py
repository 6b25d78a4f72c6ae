"""Decision 0271's Step Functions API through botocore's own JSON model: state machines
created (idempotently, as AWS), described, listed in pages, updated, deleted, tagged; bad
definitions refused with AWS's InvalidDefinition words; ValidateStateMachineDefinition's
diagnostics; the role judged (the account's, trusting states.amazonaws.com); IAM (states:*
and iam:PassRole) deciding; accounts isolated; errors in the JSON 1.0 shape; audit."""

from __future__ import annotations

import json
from typing import Any

from support.statesapp import World

HELLO = json.dumps(
    {
        "Comment": "A Hello World example",
        "StartAt": "Hello",
        "States": {
            "Hello": {"Type": "Pass", "Result": "Hello", "Next": "World"},
            "World": {"Type": "Pass", "Result": "World", "End": True},
        },
    }
)


async def make(world: World, name: str = "hello", **params: Any) -> dict[str, Any]:
    params.setdefault("definition", HELLO)
    if "roleArn" not in params:
        params["roleArn"] = await world.role(f"{name}-role")
    return await world.client("CreateStateMachine", name=name, **params)


async def test_a_state_machine_is_made_described_and_made_again_idempotently(
    world: World,
) -> None:
    made = await make(world, tags=[{"key": "team", "value": "ops"}])
    arn = f"arn:aws:states:eu-fr-1:{world.tenant_id}:stateMachine:hello"
    assert made["stateMachineArn"] == arn
    described = await world.client("DescribeStateMachine", stateMachineArn=arn)
    assert described["name"] == "hello"
    assert described["status"] == "ACTIVE"
    assert described["type"] == "STANDARD"
    assert json.loads(described["definition"]) == json.loads(HELLO)
    assert described["roleArn"].endswith(":role/hello-role")
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["creationDate"] == made["creationDate"]
    metadata = await world.client(
        "DescribeStateMachine", stateMachineArn=arn, includedData="METADATA_ONLY"
    )
    assert "definition" not in metadata
    again = await world.client(
        "CreateStateMachine", name="hello", definition=HELLO, roleArn=described["roleArn"]
    )
    assert again == made
    other = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    failed = await world.fails(
        "CreateStateMachine",
        "StateMachineAlreadyExists",
        name="hello",
        definition=other,
        roleArn=described["roleArn"],
    )
    assert failed.message == f"State Machine Already Exists: '{arn}'"
    assert failed.status == 400 and set(failed.body) == {"__type", "message"}
    tags = await world.client("ListTagsForResource", resourceArn=arn)
    assert tags["tags"] == [{"key": "team", "value": "ops"}]


async def test_invalid_definitions_are_refused_in_aws_words(world: World) -> None:
    role = await world.role()
    dangling = json.dumps(
        {
            "StartAt": "pass1",
            "States": {
                "pass1": {"Type": "Pass", "Next": "pass3"},
                "pass2": {"Type": "Pass", "End": True},
            },
        }
    )
    failed = await world.fails(
        "CreateStateMachine", "InvalidDefinition", name="bad", definition=dangling, roleArn=role
    )
    assert failed.message == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
        'pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not '
        "reachable. at /States/pass2'"
    )
    ecs_task = json.dumps(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::ecs:runTask.sync",
                    "End": True,
                }
            },
        }
    )
    failed = await world.fails(
        "CreateStateMachine", "InvalidDefinition", name="bad", definition=ecs_task,
        roleArn=role,
    )  # fmt: skip
    assert "INVALID_RESOURCE" in failed.message and "at /States/T/Resource" in failed.message
    failed = await world.fails(
        "CreateStateMachine", "InvalidDefinition", name="bad", definition="{nope", roleArn=role
    )
    assert "INVALID_JSON_DESCRIPTION" in failed.message
    await world.fails("CreateStateMachine", "InvalidName", name="a b", definition=HELLO,
                      roleArn=role)  # fmt: skip
    listed = await world.client("ListStateMachines")
    assert listed["stateMachines"] == []


async def test_validate_state_machine_definition_lists_diagnostics(world: World) -> None:
    ok = await world.client("ValidateStateMachineDefinition", definition=HELLO)
    assert (ok["result"], ok["diagnostics"], ok["truncated"]) == ("OK", [], False)
    loop = json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                     "B": {"Type": "Pass", "Next": "A"}}}
    )  # fmt: skip
    failed = await world.client("ValidateStateMachineDefinition", definition=loop)
    assert failed["result"] == "FAIL"
    assert failed["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "MISSING_END_STATE",
            "message": "Workflow has no terminal state",
        }
    ]
    many = json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Timeout": 1, "Retry": [],
                                          "End": True}}}
    )  # fmt: skip
    capped = await world.client("ValidateStateMachineDefinition", definition=many, maxResults=1)
    assert capped["result"] == "FAIL" and capped["truncated"] is True
    assert capped["diagnostics"][0]["code"] == "SCHEMA_VALIDATION_FAILED"
    assert capped["diagnostics"][0]["location"] == "/States/A"


async def test_the_role_must_be_the_accounts_and_trust_step_functions(world: World) -> None:
    untrusting = await world.identity.create_role(
        world.tenant_id, "ec2", json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }),
    )  # fmt: skip
    failed = await world.fails(
        "CreateStateMachine", "AccessDeniedException", name="m", definition=HELLO,
        roleArn=untrusting.arn,
    )  # fmt: skip
    assert "states.amazonaws.com" in failed.message
    await world.fails(
        "CreateStateMachine", "AccessDeniedException", name="m", definition=HELLO,
        roleArn="arn:aws:iam::999999999999:role/elsewhere",
    )  # fmt: skip
    await world.fails(
        "CreateStateMachine", "InvalidArn", name="m", definition=HELLO, roleArn="not-a-role"
    )


async def test_machines_are_listed_in_pages_and_bounded(world: World) -> None:
    role = await world.role()
    for name in ("c", "a", "b", "e", "d"):
        await make(world, name, roleArn=role, type="EXPRESS" if name == "e" else "STANDARD")
    await world.fails("CreateStateMachine", "StateMachineLimitExceeded", name="f",
                      definition=HELLO, roleArn=role)  # fmt: skip
    first = await world.client("ListStateMachines", maxResults=2)
    assert [m["name"] for m in first["stateMachines"]] == ["a", "b"]
    second = await world.client("ListStateMachines", maxResults=2, nextToken=first["nextToken"])
    assert [m["name"] for m in second["stateMachines"]] == ["c", "d"]
    last = await world.client("ListStateMachines", maxResults=2, nextToken=second["nextToken"])
    assert [(m["name"], m["type"]) for m in last["stateMachines"]] == [("e", "EXPRESS")]
    assert "nextToken" not in last
    await world.fails("ListStateMachines", "InvalidToken", nextToken="garbage")
    other = await world.other_tenant("other")
    assert (await other.client("ListStateMachines"))["stateMachines"] == []
    arn = first["stateMachines"][0]["stateMachineArn"]
    await other.fails("DescribeStateMachine", "StateMachineDoesNotExist", stateMachineArn=arn)


async def test_update_delete_and_tags(world: World) -> None:
    made = await make(world, loggingConfiguration={"level": "OFF"})
    arn = made["stateMachineArn"]
    before = await world.client("DescribeStateMachine", stateMachineArn=arn)
    succeed = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    group = f"arn:aws:logs:eu-fr-1:{world.tenant_id}:log-group:/sfn/hello:*"
    updated = await world.client(
        "UpdateStateMachine",
        stateMachineArn=arn,
        definition=succeed,
        loggingConfiguration={
            "level": "ERROR",
            "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group}}],
        },
    )
    assert updated["revisionId"] != before["revisionId"]
    after = await world.client("DescribeStateMachine", stateMachineArn=arn)
    assert after["definition"] == succeed
    assert after["loggingConfiguration"]["level"] == "ERROR"
    assert after["creationDate"] == before["creationDate"]
    await world.fails(
        "UpdateStateMachine", "InvalidLoggingConfiguration", stateMachineArn=arn,
        loggingConfiguration={"level": "ALL"},
    )  # fmt: skip
    await world.fails("UpdateStateMachine", "InvalidDefinition", stateMachineArn=arn,
                      definition="{}")  # fmt: skip
    pairs = [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    await world.client("TagResource", resourceArn=arn, tags=pairs)
    await world.client("UntagResource", resourceArn=arn, tagKeys=["a"])
    tags = await world.client("ListTagsForResource", resourceArn=arn)
    assert tags["tags"] == [{"key": "b", "value": "2"}]
    too_many = [{"key": f"k{i}", "value": ""} for i in range(50)]
    failed = await world.fails("TagResource", "TooManyTags", resourceArn=arn, tags=too_many)
    assert failed.body["resourceName"] == arn
    await world.client("DeleteStateMachine", stateMachineArn=arn)
    await world.client("DeleteStateMachine", stateMachineArn=arn)  # gone: no error, as AWS
    await world.fails("DescribeStateMachine", "StateMachineDoesNotExist", stateMachineArn=arn)
    missing = await world.fails("ListTagsForResource", "ResourceNotFound", resourceArn=arn)
    assert missing.body["resourceName"] == arn
    await world.fails("DescribeStateMachine", "InvalidArn", stateMachineArn="arn:aws:sqs:x")


async def test_iam_decides_and_calls_are_audited(world: World) -> None:
    await make(world)
    user = await world.iam_user("dev")
    arn = f"arn:aws:states:eu-fr-1:{world.tenant_id}:stateMachine:hello"
    denied = await user.fails("DescribeStateMachine", "AccessDeniedException",
                              stateMachineArn=arn)  # fmt: skip
    assert "states:DescribeStateMachine" in denied.message
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["states:DescribeStateMachine",
                                           "states:CreateStateMachine"], "Resource": "*"},
        ],
    }  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "dev", "sfn", json.dumps(policy))
    assert (await user.client("DescribeStateMachine", stateMachineArn=arn))["name"] == "hello"
    role = await world.role("other-role")
    failed = await user.fails(
        "CreateStateMachine", "AccessDeniedException", name="x", definition=HELLO, roleArn=role
    )
    assert "iam:PassRole" in failed.message
    unknown = await world.raw("TestState", {"definition": HELLO, "roleArn": arn})
    assert unknown.status == 400 and unknown.json()["__type"] == "UnknownOperationException"
    nobody = await world.anonymous().raw("ListStateMachines", {})
    assert nobody.json()["__type"] == "MissingAuthenticationTokenException"
    events = await world.audited()
    assert ("states:CreateStateMachine", arn, "success") in events
    assert ("states:DescribeStateMachine", arn, "failure") in events
    assert not any(HELLO in resource for _, resource, _ in events)


async def test_a_machines_versions_are_listed_and_there_are_none(world: World) -> None:
    # Terraform's aws_sfn_state_machine lists them on every read (decision 0283 publishes).
    arn = (await make(world))["stateMachineArn"]
    listed = await world.client("ListStateMachineVersions", stateMachineArn=arn)
    assert listed["stateMachineVersions"] == []
    await world.fails("CreateStateMachine", "ValidationException", name="v", definition=HELLO,
                      roleArn=await world.role("v-role"), versionDescription="first")  # fmt: skip
    await world.client("DeleteStateMachine", stateMachineArn=arn)
    await world.fails("ListStateMachineVersions", "StateMachineDoesNotExist", stateMachineArn=arn)
