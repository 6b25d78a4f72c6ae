"""RotateSecret and CancelRotateSecret over the wire (decision 0303), signed as botocore signs,
over the real KMS service and sealer; the rotation function a double behind the
``RotationFunctions`` port (the e2e test runs a real one): the parameters' checks in AWS's
words, the caller's ``lambda:InvokeFunction`` on the function, the function's policy,
DescribeSecret's and ListSecrets' rotation fields, a pending version the rotation leaves, and
the audit records (the calls', and the rotation's run as Secrets Manager). Decision 0308:
``RotateImmediately`` false runs the function's testSecret on a pending copy of the current
value, then removes it, and refuses the call when the step fails; a rotated primary's
replicas get the new ``AWSCURRENT``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.secrets.model import Secret
from andromede.secrets.rotation import RotationDenied
from andromede.wiring.secrets import rotation_audit
from support.secretsapp import Harness, harness

BERLIN = "eu-de-1"

FUNCTION = "arn:aws:lambda:eu-fr-1:{account}:function:rotator"


class Refusing:
    """A function whose steps all fail after createSecret; ``allowed`` its policy."""

    def __init__(self) -> None:
        self.allowed = True
        self.events: list[dict[str, Any]] = []

    async def check(self, function_arn: str, secret: Secret) -> None:
        if not self.allowed:
            raise RotationDenied(
                "Secrets Manager cannot invoke the specified Lambda function. Ensure that the "
                "function policy grants access to the principal secretsmanager.amazonaws.com."
            )

    async def invoke(self, function_arn: str, secret: Secret, event: bytes) -> str | None:
        self.events.append(json.loads(event))
        return "Runtime.ExitError: gone" if self.events[-1]["Step"] == "setSecret" else None


async def test_rotate_secret_checks_and_answers(sm: Harness) -> None:
    function = FUNCTION.format(account=sm.tenant_id)
    double = Refusing()
    sm.secrets.rotation.functions = double
    sm.secrets.rotation.audit = rotation_audit(sm.audit)
    arn = (await sm.ok("CreateSecret", {"Name": "db", "SecretString": "v1"}))["ARN"]
    for rules, error in [
        ({"AutomaticallyAfterDays": 0}, "InvalidParameterException"),
        ({"AutomaticallyAfterDays": 3, "ScheduleExpression": "rate(3 days)"},
            "InvalidParameterException"),
        ({"ScheduleExpression": "rate(2 hours)"}, "InvalidParameterException"),
        ({"ScheduleExpression": "cron(0 8 * * * *)"}, "InvalidParameterException"),
        ({"ScheduleExpression": "rate(2 days)", "Duration": "30h"}, "InvalidParameterException"),
        ({"ScheduleExpression": ""}, "ValidationException"),
        ({"AutomaticallyAfterDays": "x"}, "SerializationException"),
    ]:  # fmt: skip
        payload = {"SecretId": "db", "RotationLambdaARN": function, "RotationRules": rules}
        await sm.fails("RotateSecret", payload, error)
    message = await sm.fails("RotateSecret", {"SecretId": "db"}, "InvalidRequestException")
    assert "No Lambda rotation function" in message
    double.allowed = False
    message = await sm.fails(
        "RotateSecret", {"SecretId": "db", "RotationLambdaARN": function}, "AccessDeniedException"
    )
    assert "secretsmanager.amazonaws.com" in message
    double.allowed = True
    answer = await sm.ok(
        "RotateSecret",
        {
            "SecretId": "db",
            "RotationLambdaARN": function,
            "RotationRules": {"ScheduleExpression": "rate(10 days)", "Duration": "4h"},
            "RotateImmediately": False,
        },
    )
    assert answer == {"ARN": arn, "Name": "db"}  # no rotation; the configuration tested (0308)
    assert [e["Step"] for e in double.events] == ["testSecret"]
    assert (
        double.events[0]["ClientRequestToken"]
        not in (await sm.ok("DescribeSecret", {"SecretId": "db"}))["VersionIdsToStages"]
    )
    double.events.clear()
    described = await sm.ok("DescribeSecret", {"SecretId": "db"})
    assert described["RotationEnabled"] is True and described["RotationLambdaARN"] == function
    assert described["RotationRules"] == {"ScheduleExpression": "rate(10 days)", "Duration": "4h"}
    assert described["NextRotationDate"] > described["CreatedDate"]
    assert "LastRotatedDate" not in described
    listed = (await sm.ok("ListSecrets"))["SecretList"][0]
    assert listed["RotationEnabled"] is True and listed["RotationLambdaARN"] == function

    token = "t" * 36
    answer = await sm.ok("RotateSecret", {"SecretId": "db", "ClientRequestToken": token})
    assert answer["VersionId"] == token
    await sm.secrets.rotation.idle()
    assert [e["Step"] for e in double.events] == ["createSecret", "setSecret"]
    assert double.events[0] == {
        "SecretId": arn,
        "ClientRequestToken": token,
        "Step": "createSecret",
    }
    described = await sm.ok("DescribeSecret", {"SecretId": "db"})
    assert described["VersionIdsToStages"][token] == ["AWSPENDING"]
    await sm.fails("GetSecretValue", {"SecretId": "db", "VersionStage": "AWSPENDING"},
        "ResourceNotFoundException")  # fmt: skip
    assert (await sm.ok("GetSecretValue", {"SecretId": "db"}))["SecretString"] == "v1"
    message = await sm.fails("RotateSecret", {"SecretId": "db"}, "InvalidRequestException")
    assert message == "A previous rotation isn't complete. That rotation will be reattempted."
    assert (await sm.ok("CancelRotateSecret", {"SecretId": "db"}))["VersionId"] == token
    described = await sm.ok("DescribeSecret", {"SecretId": "db"})
    assert described["RotationEnabled"] is False and "NextRotationDate" not in described

    await sm.audit.flush()
    records = [e for _, e in await sm.audit_store.list_events(None, after_id=0, limit=500)]
    rotations = [e for e in records if e.action == "secretsmanager:RotateSecret"]
    assert [e.outcome.value for e in rotations][-3:] == ["success", "success", "failure"]
    assert rotations[-2].resource == arn
    assert any(e.action == "secretsmanager:CancelRotateSecret" for e in records)
    ran = [e for e in records if e.principal == "secretsmanager.amazonaws.com"]
    assert [(e.action, e.outcome.value, e.resource) for e in ran] == [
        ("secretsmanager:RotationStarted", "success", arn),
        ("secretsmanager:RotationFailed", "failure", arn),
    ]
    assert ran[1].details["error"] == "setSecret: Runtime.ExitError: gone"


async def test_the_caller_needs_lambda_invoke_function(sm: Harness) -> None:
    function = FUNCTION.format(account=sm.tenant_id)
    sm.secrets.rotation.functions = Refusing()
    await sm.ok("CreateSecret", {"Name": "db", "SecretString": "v1"})
    user = await sm.iam_user("rotator")
    policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}],
    }
    await sm.identity.put_user_policy(sm.tenant_id, "rotator", "p", json.dumps(policy))
    payload = {"SecretId": "db", "RotationLambdaARN": function, "RotateImmediately": False}
    message = await user.fails("RotateSecret", payload, "AccessDeniedException")
    assert f"lambda:InvokeFunction on resource: {function}" in message
    policy["Statement"].append(
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function}
    )
    await sm.identity.put_user_policy(sm.tenant_id, "rotator", "p", json.dumps(policy))
    await user.ok("RotateSecret", payload)
    # Without a function named, the kept one is used: RotateSecret alone suffices.
    policy["Statement"].pop()
    await sm.identity.put_user_policy(sm.tenant_id, "rotator", "p", json.dumps(policy))
    await user.ok("RotateSecret", {"SecretId": "db", "RotateImmediately": False})
    intruder = await sm.other_tenant("intruder")
    await intruder.fails("CancelRotateSecret", {"SecretId": "db"}, "ResourceNotFoundException")


class Template:
    """A rotation function as AWS's templates are, calling the API back as the account:
    its token checked in ``VersionIdsToStages``, the rotation enabled, a new value put at
    createSecret, the pending value read at testSecret (failing with ``fail``), AWSCURRENT
    moved at finishSecret; ``stop_at`` a step it fails at at once."""

    def __init__(self, sm: Harness) -> None:
        self.sm = sm
        self.fail: str | None = None
        self.stop_at: str | None = None
        self.seen: list[tuple[str, list[str], bool, str | None]] = []

    async def check(self, function_arn: str, secret: Secret) -> None:
        return None

    async def invoke(self, function_arn: str, secret: Secret, event: bytes) -> str | None:
        body = json.loads(event)
        arn, token, step = body["SecretId"], body["ClientRequestToken"], body["Step"]
        described = await self.sm.ok("DescribeSecret", {"SecretId": arn})
        stages = described["VersionIdsToStages"].get(token, [])
        if step == self.stop_at:
            return f"ValueError: stopped at {step}"
        if step == "createSecret":
            await self.sm.ok("PutSecretValue", {"SecretId": arn, "ClientRequestToken": token,
                "SecretString": f"new-{token[:4]}", "VersionStages": ["AWSPENDING"]})  # fmt: skip
        if step == "testSecret":
            pending = {"SecretId": arn, "VersionId": token, "VersionStage": "AWSPENDING"}
            value = (await self.sm.ok("GetSecretValue", pending))["SecretString"]
            self.seen.append((token, stages, described["RotationEnabled"], value))
            return self.fail
        if step == "finishSecret":
            current = next(
                v for v, s in described["VersionIdsToStages"].items() if "AWSCURRENT" in s
            )
            await self.sm.ok("UpdateSecretVersionStage", {"SecretId": arn,
                "VersionStage": "AWSCURRENT", "MoveToVersionId": token,
                "RemoveFromVersionId": current})  # fmt: skip
        return None


async def test_rotate_immediately_false_runs_test_secret_first(sm: Harness) -> None:
    function = FUNCTION.format(account=sm.tenant_id)
    template = Template(sm)
    sm.secrets.rotation.functions = template
    sm.secrets.rotation.audit = rotation_audit(sm.audit)
    made = await sm.ok("CreateSecret", {"Name": "db", "SecretString": "v1"})
    token = "c" * 36
    configure = {"SecretId": "db", "RotationLambdaARN": function, "ClientRequestToken": token,
        "RotationRules": {"AutomaticallyAfterDays": 30}, "RotateImmediately": False}  # fmt: skip
    assert "VersionId" not in await sm.ok("RotateSecret", configure)
    # testSecret ran once, on the token's AWSPENDING version holding the current value (sealed
    # anew under the real KMS), the rotation already enabled as the templates check.
    assert template.seen == [(token, ["AWSPENDING"], True, "v1")]
    described = await sm.ok("DescribeSecret", {"SecretId": "db"})
    assert described["VersionIdsToStages"] == {made["VersionId"]: ["AWSCURRENT"]}
    assert described["RotationEnabled"] is True
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 30}
    assert (await sm.ok("GetSecretValue", {"SecretId": "db"}))["SecretString"] == "v1"

    # A failing test refuses the call and leaves the configuration as it was.
    template.fail = "ValueError: Unable to log into database with pending secret"
    changed = {**configure, "ClientRequestToken": "d" * 36,
        "RotationRules": {"ScheduleExpression": "rate(7 days)"}}  # fmt: skip
    message = await sm.fails("RotateSecret", changed, "InvalidRequestException")
    assert "testSecret" in message and "Unable to log into database" in message
    described = await sm.ok("DescribeSecret", {"SecretId": "db"})
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 30}
    assert described["VersionIdsToStages"] == {made["VersionId"]: ["AWSCURRENT"]}
    state = await sm.secrets.rotation.store.get(made["ARN"])
    assert state is not None and state.lease_until == 0  # the lease released
    # A secret never configured stays so; a token of an existing version is refused.
    await sm.ok("CreateSecret", {"Name": "other", "SecretString": "o"})
    await sm.fails("RotateSecret", {**changed, "SecretId": "other"}, "InvalidRequestException")
    assert (await sm.ok("DescribeSecret", {"SecretId": "other"}))["RotationEnabled"] is False
    template.fail = None
    taken = {**configure, "ClientRequestToken": made["VersionId"]}
    assert "already in use" in await sm.fails("RotateSecret", taken, "InvalidRequestException")
    # No rotation ran: nothing audited as Secrets Manager's rotation.
    await sm.audit.flush()
    records = [e for _, e in await sm.audit_store.list_events(None, after_id=0, limit=500)]
    assert not [e for e in records if e.principal == "secretsmanager.amazonaws.com"]


@pytest.fixture
async def replicated(tmp_path: Path) -> AsyncIterator[Harness]:
    async for made in harness(tmp_path, regions=(BERLIN,)):
        yield made


async def test_a_rotated_primary_s_replica_gets_the_new_value(replicated: Harness) -> None:
    sm, de = replicated, replicated.in_region(BERLIN)
    template = Template(sm)
    sm.secrets.rotation.functions = template
    function = FUNCTION.format(account=sm.tenant_id)
    await sm.ok(
        "CreateSecret",
        {"Name": "db", "SecretString": "v1", "AddReplicaRegions": [{"Region": BERLIN}]},
    )
    # A rotation stopped before its value was put: the empty pending version stays out of
    # the replica, whose sync still succeeds on the next change.
    template.stop_at = "createSecret"
    stopped = "e" * 36
    await sm.ok("RotateSecret", {"SecretId": "db", "RotationLambdaARN": function,
        "ClientRequestToken": stopped})  # fmt: skip
    await sm.secrets.rotation.idle()
    await sm.ok("TagResource", {"SecretId": "db", "Tags": [{"Key": "team", "Value": "a"}]})
    (status,) = (await sm.ok("DescribeSecret", {"SecretId": "db"}))["ReplicationStatus"]
    assert status["Status"] == "InSync"
    there = await de.ok("DescribeSecret", {"SecretId": "db"})
    assert stopped not in there["VersionIdsToStages"] and there["Tags"]
    await sm.ok("UpdateSecretVersionStage", {"SecretId": "db", "VersionStage": "AWSPENDING",
        "RemoveFromVersionId": stopped})  # fmt: skip

    template.stop_at = None
    token = "f" * 36
    await sm.ok("RotateSecret", {"SecretId": "db", "ClientRequestToken": token})
    await sm.secrets.rotation.idle()
    got = await de.ok("GetSecretValue", {"SecretId": "db"})
    assert (got["VersionId"], got["SecretString"]) == (token, "new-ffff")
    primary = (await sm.ok("DescribeSecret", {"SecretId": "db"}))["VersionIdsToStages"]
    assert primary[token] == ["AWSCURRENT"]  # AWSPENDING taken off by Secrets Manager
    replica = (await de.ok("DescribeSecret", {"SecretId": "db"}))["VersionIdsToStages"]
    assert replica == {v: s for v, s in primary.items() if v != stopped}
    previous = await de.ok("GetSecretValue", {"SecretId": "db", "VersionStage": "AWSPREVIOUS"})
    assert previous["SecretString"] == "v1"
