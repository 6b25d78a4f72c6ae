"""RotateSecret and CancelRotateSecret over the wire (decision 0303), signed as botocore signs,
over the real KMS service and sealer; the rotation function a double behind the
``RotationFunctions`` port (the e2e test runs a real one): the parameters' checks in AWS's
words, the caller's ``lambda:InvokeFunction`` on the function, the function's policy,
DescribeSecret's and ListSecrets' rotation fields, a pending version the rotation leaves, and
the audit records (the calls', and the rotation's run as Secrets Manager)."""

from __future__ import annotations

import json
from typing import Any

from andromede.secrets.model import Secret
from andromede.secrets.rotation import RotationDenied
from andromede.wiring.secrets import rotation_audit
from support.secretsapp import Harness

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
    assert answer == {"ARN": arn, "Name": "db"} and double.events == []
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
