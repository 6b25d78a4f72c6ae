"""A secret's rotation in the console (decision 0306 over decision 0303): shown, configured
with a Lambda function of the account (offered as Lambda lists it) and days or a schedule
expression, refused in Secrets Manager's words with the form as typed (the function's policy
not letting ``secretsmanager.amazonaws.com`` in, a bad schedule), started now, cancelled —
each checked against what DescribeSecret answers apart from the console. The function's
policy is the real check; its invocations are recorded instead of run in a sandbox (the
``RotationFunctions`` port's other implementation), the sandbox having its own tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.secrets.model import Secret
from andromede.secrets.rotation import RotationFunctions
from support.console import ConsoleHarness, console_harness, csrf_of, sign_in_root
from support.lambdaapp import handler_zip
from unit.console.test_console_dynamodb_edits import alert, form_of

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
_TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


class Recorded:
    """The real policy check; the steps' events recorded, createSecret and finishSecret
    done as AWS's templates do them (through the API as ``caller``)."""

    def __init__(self, real: RotationFunctions, wire: Any, caller: Any) -> None:
        self.real, self.wire, self.caller = real, wire, caller
        self.steps: list[str] = []

    async def check(self, function_arn: str, secret: Secret) -> None:
        await self.real.check(function_arn, secret)

    async def invoke(self, function_arn: str, secret: Secret, event: bytes) -> str | None:
        asked = json.loads(event)
        self.steps.append(asked["Step"])
        token, arn = asked["ClientRequestToken"], asked["SecretId"]
        if asked["Step"] == "createSecret":
            put = {"SecretId": arn, "ClientRequestToken": token, "SecretString": "v2",
                   "VersionStages": ["AWSPENDING"]}  # fmt: skip
            await self.wire._json(_SCOPE, self.caller, "PutSecretValue", put)
        elif asked["Step"] == "finishSecret":
            current = next(
                v.version_id
                for v in (await self.wire.describe(_SCOPE, self.caller, arn)).versions
                if "AWSCURRENT" in v.stages
            )
            move = {"SecretId": arn, "VersionStage": "AWSCURRENT", "MoveToVersionId": token,
                    "RemoveFromVersionId": current}  # fmt: skip
            await self.wire._json(_SCOPE, self.caller, "UpdateSecretVersionStage", move)
        return None


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path) as harness:
        yield harness


async def test_a_secrets_rotation_configured_refused_run_and_cancelled(
    console: ConsoleHarness,
) -> None:
    running = console.application._running
    assert running is not None
    service: Any = running.apis["secretsmanager"]
    wires = running.console.console
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        principal = await console.identity.resolve_console_session(
            client.cookies["andromede_console"]
        )
        recorded = Recorded(service.service.rotation.functions, wires.secrets, principal)
        service.service.rotation.functions = recorded
        role = (await console.identity.create_role(tenant, "rotator-role", _TRUST_LAMBDA)).arn
        settings = {"FunctionName": "rotator", "Runtime": "python3.11",
                    "Handler": "app.handler", "Role": role}  # fmt: skip
        code = handler_zip("def handler(event, context):\n    return None\n")
        await wires.functions.create(_SCOPE, principal, settings, code)
        function = (await wires.functions.function(_SCOPE, principal, "rotator")).arn
        await wires.secrets.create(_SCOPE, principal, "db", value="v1", description="",
                                   kms_key_id="", tags=[])  # fmt: skip

        page = await client.get("/secrets/db")
        assert page.status_code == 200
        token = csrf_of(page)
        assert '<td id="rotation-status">Disabled</td>' in page.text
        assert 'id="rotate-form"' not in page.text and 'id="cancel-rotation-form"' not in page.text
        assert f'<option value="{function}">rotator</option>' in form_of(page, "rotation-form")

        form = {"csrf": token, "function": function, "days": "", "schedule": "rate(2 days)",
                "duration": "3h"}  # fmt: skip
        forged = await client.post("/secrets/db/rotation", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
        denied = await client.post("/secrets/db/rotation", data=form)
        assert denied.status_code == 400 and "(AccessDeniedException)" in alert(denied)
        assert "secretsmanager.amazonaws.com" in alert(denied)
        typed = form_of(denied, "rotation-form")
        assert 'value="rate(2 days)"' in typed and 'value="3h"' in typed
        assert f'<option value="{function}" selected>' in typed
        assert 'name="immediately" value="yes">' in typed  # unticked, as sent

        permission = {"StatementId": "sm", "Action": "lambda:InvokeFunction",
                      "Principal": "secretsmanager.amazonaws.com"}  # fmt: skip
        await wires.functions.add_permission(_SCOPE, principal, "rotator", permission)
        both = await client.post("/secrets/db/rotation", data={**form, "days": "5"})
        assert both.status_code == 400 and "(InvalidParameterException)" in alert(both)
        assert 'name="days" size="6" value="5"' in form_of(both, "rotation-form")

        saved = await client.post("/secrets/db/rotation", data=form)  # not immediately
        assert saved.status_code == 303, alert(saved)
        described = await wires.secrets.describe(_SCOPE, principal, "db")
        rotation = described.rotation
        assert (rotation.enabled, rotation.function_arn) == (True, function)
        assert (rotation.schedule, rotation.duration) == ("rate(2 days)", "3h")
        assert rotation.days is None
        assert "createSecret" not in recorded.steps
        page = await client.get("/secrets/db")
        assert '<td id="rotation-status">Enabled</td>' in page.text
        assert f'<td id="rotation-function"><code>{function}</code>' in page.text
        assert "<code>rate(2 days)</code> (window 3h)" in page.text
        assert f'<td id="rotation-next">{rotation.next_rotation}</td>' in page.text
        assert rotation.next_rotation and '<td id="rotation-last">Never</td>' in page.text

        now = await client.post("/secrets/db/rotate", data={"csrf": token})
        assert now.status_code == 303, alert(now)
        await service.service.rotation.idle()  # the rotation runs beside the answer, as AWS's
        last = (await wires.secrets.describe(_SCOPE, principal, "db")).rotation.last_rotated
        assert (
            last and f'<td id="rotation-last">{last}</td>' in (await client.get("/secrets/db")).text
        )
        assert recorded.steps[-4:] == ["createSecret", "setSecret", "testSecret", "finishSecret"]

        days = {**form, "schedule": "", "duration": "", "days": "30", "immediately": "yes"}
        by_days = await client.post("/secrets/db/rotation", data=days)
        assert by_days.status_code == 303, alert(by_days)
        assert (await wires.secrets.describe(_SCOPE, principal, "db")).rotation.days == 30
        assert "Every 30 days" in (await client.get("/secrets/db")).text

        cancelled = await client.post("/secrets/db/cancel-rotation", data={"csrf": token})
        assert cancelled.status_code == 303
        after = (await wires.secrets.describe(_SCOPE, principal, "db")).rotation
        assert (after.enabled, after.function_arn) == (False, function)
        page = await client.get("/secrets/db")
        assert '<td id="rotation-status">Disabled</td>' in page.text
        assert 'id="cancel-rotation-form"' not in page.text and 'id="rotate-form"' in page.text
