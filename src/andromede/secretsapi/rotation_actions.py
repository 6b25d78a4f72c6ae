"""Secrets Manager's rotation actions (decision 0303): RotateSecret, CancelRotateSecret, and
the rotation's fields of DescribeSecret and ListSecrets (``RotationEnabled``,
``RotationLambdaARN``, ``RotationRules``, ``LastRotatedDate``, ``NextRotationDate``).

RotateSecret needs ``secretsmanager:RotateSecret`` on the secret and, when it names a
function, ``lambda:InvokeFunction`` on that function, as AWS's API reference lists; the
function's own resource-based policy must let ``secretsmanager.amazonaws.com`` invoke it."""

from __future__ import annotations

from typing import Any

from andromede.secrets.model import Secret
from andromede.secrets.rotation_model import RotationRules, RotationState, parse_rules
from andromede.secretsapi.call import SecretsCall, epoch
from andromede.secretsapi.errors import SecretsWireError

__all__ = ["cancel_rotate_secret", "rotate_secret", "rotation_fields"]

INVOKE: str = "lambda:InvokeFunction"


def rotation_fields(state: RotationState | None) -> dict[str, Any]:
    """What DescribeSecret and ListSecrets say of a secret's rotation."""
    if state is None:
        return {"RotationEnabled": False}
    answer: dict[str, Any] = {"RotationEnabled": state.enabled}
    optional = {
        "RotationLambdaARN": state.function_arn,
        "RotationRules": None if state.rules is None else state.rules.wire(),
        "LastRotatedDate": epoch(state.last_rotated),
        "NextRotationDate": epoch(state.next_rotation) if state.enabled else None,
    }
    answer.update({k: v for k, v in optional.items() if v is not None})
    return answer


def _rules(call: SecretsCall) -> RotationRules | None:
    raw = call.params.get("RotationRules")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SecretsWireError("SerializationException", "RotationRules must be a structure")
    days = raw.get("AutomaticallyAfterDays")
    expression = raw.get("ScheduleExpression")
    duration = raw.get("Duration")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
        raise SecretsWireError("SerializationException", "AutomaticallyAfterDays is a long")
    if not isinstance(expression, str | None) or not isinstance(duration, str | None):
        raise SecretsWireError("SerializationException", "RotationRules holds strings")
    if expression is not None and not 1 <= len(expression) <= 256:
        raise SecretsWireError(
            "ValidationException",
            "1 validation error detected: Value at 'rotationRules.scheduleExpression' failed "
            "to satisfy constraint: Member must have length between 1 and 256",
        )
    return parse_rules(days, expression, duration)


async def rotate_secret(call: SecretsCall) -> dict[str, Any]:
    secret_id = call.secret_id()
    token = call.token()
    function_arn = call.string("RotationLambdaARN", min_length=1, max_length=2048)
    rules = _rules(call)
    immediately = call.boolean("RotateImmediately")
    authorise_other = call.authorise_other

    async def authorise_invoke(resource: str) -> None:
        if authorise_other is not None:
            await authorise_other(INVOKE, resource)

    secret, version_id = await call.secrets.rotation.rotate(
        call.actor,
        secret_id,
        token=token,
        function_arn=function_arn,
        rules=rules,
        immediately=immediately is not False,
        authorise_invoke=authorise_invoke,
    )
    call.resources.append(secret.arn)
    return _answer(secret, version_id)


async def cancel_rotate_secret(call: SecretsCall) -> dict[str, Any]:
    secret, version_id = await call.secrets.rotation.cancel(call.actor, call.secret_id())
    call.resources.append(secret.arn)
    return _answer(secret, version_id)


def _answer(secret: Secret, version_id: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
    if version_id is not None:
        answer["VersionId"] = version_id
    return answer
