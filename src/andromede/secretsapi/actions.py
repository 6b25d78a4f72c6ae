"""The Secrets Manager actions served (decision 0190): each parses its parameters, calls the
secrets service and writes AWS's answer. Rotation through a Lambda function (decision 0303)
is ``secretsapi.rotation_actions``'s. Replication to
the deployment's other regions (decision 0207): CreateSecret's ``AddReplicaRegions``,
ReplicateSecretToRegions, RemoveRegionsFromReplication, StopReplicationToReplica, and
DescribeSecret's ``PrimaryRegion`` and ``ReplicationStatus``."""

from __future__ import annotations

import base64
import secrets as random
import string
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

from andromede.errors import AndromedeError
from andromede.secrets.model import Replica, Secret, SecretVersion, owning_service
from andromede.secretsapi.authorise import check_policy, validation_errors
from andromede.secretsapi.call import SecretsCall, epoch, invalid, next_token
from andromede.secretsapi.errors import SecretsWireError, to_secrets_error
from andromede.secretsapi.rotation_actions import (
    cancel_rotate_secret,
    rotate_secret,
    rotation_fields,
)

__all__ = ["ACTIONS", "NOT_SERVED", "REFUSED"]

Action = Callable[[SecretsCall], Awaitable[dict[str, Any]]]

# AWS's punctuation set for GetRandomPassword.
PUNCTUATION: Final = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _named(secret: Secret) -> dict[str, Any]:
    return {"ARN": secret.arn, "Name": secret.name}


def _stages(versions: list[SecretVersion]) -> dict[str, list[str]]:
    return {v.version_id: list(v.stages) for v in versions if v.stages}


def _described(secret: Secret, versions: list[SecretVersion]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        **_named(secret),
        "LastChangedDate": epoch(secret.last_changed),
        "CreatedDate": epoch(secret.created),
    }
    optional = {
        "Description": secret.description,
        "KmsKeyId": secret.kms_key_id,
        "LastAccessedDate": epoch(secret.last_accessed),
        "DeletedDate": epoch(secret.deleted_date),
        "OwningService": owning_service(secret),
    }
    answer.update({k: v for k, v in optional.items() if v is not None})
    if secret.tags:
        answer["Tags"] = [{"Key": k, "Value": v} for k, v in secret.tags]
    stages = _stages(versions)
    if stages:
        answer["VersionIdsToStages"] = stages
    return answer


def _replication(statuses: list[tuple[Replica, datetime | None]]) -> list[dict[str, Any]]:
    """``ReplicationStatus``: each replica's region, key, status and last access."""
    answer = []
    for replica, accessed in statuses:
        entry: dict[str, Any] = {"Region": replica.region, "Status": replica.status}
        optional = {
            "KmsKeyId": replica.kms_key_id or "alias/aws/secretsmanager",
            "StatusMessage": replica.message,
            "LastAccessedDate": epoch(accessed),
        }
        entry.update({k: v for k, v in optional.items() if v is not None})
        answer.append(entry)
    return answer


async def _with_replication(call: SecretsCall, secret: Secret, answer: dict[str, Any]) -> None:
    if secret.primary_region is not None:
        answer["PrimaryRegion"] = secret.primary_region
    statuses = await call.secrets.replication_statuses(secret)
    if statuses:
        answer["ReplicationStatus"] = _replication(statuses)


def _value(secret: Secret, version: SecretVersion, plaintext: bytes) -> dict[str, Any]:
    answer = {
        **_named(secret),
        "VersionId": version.version_id,
        "VersionStages": list(version.stages),
        "CreatedDate": epoch(version.created),
    }
    if version.binary:
        answer["SecretBinary"] = base64.b64encode(plaintext).decode()
    else:
        answer["SecretString"] = plaintext.decode("utf-8", "replace")
    return answer


async def create_secret(call: SecretsCall) -> dict[str, Any]:
    name = call.string("Name", required=True, min_length=1, max_length=512)
    assert name is not None  # noqa: S101 (required)
    replicas = call.replica_regions(required=False)
    secret, version_id = await call.secrets.create(
        call.actor,
        name,
        call.value(required=False),
        kms_key_id=call.string("KmsKeyId", min_length=1),
        description=call.string("Description", max_length=2048),
        tags=call.tags(),
        token=call.token(),
        replicas=replicas,
        overwrite=bool(call.boolean("ForceOverwriteReplicaSecret")),
    )
    call.resources.append(secret.arn)
    answer = _named(secret)
    if version_id is not None:
        answer["VersionId"] = version_id
    statuses = await call.secrets.replication_statuses(secret)
    if statuses:
        answer["ReplicationStatus"] = _replication(statuses)
    return answer


async def get_secret_value(call: SecretsCall) -> dict[str, Any]:
    secret, version, plaintext = await call.secrets.get_value(
        call.actor,
        call.secret_id(),
        call.string("VersionId", min_length=32, max_length=64),
        call.string("VersionStage", min_length=1, max_length=256),
    )
    call.resources.append(secret.arn)
    return _value(secret, version, plaintext)


async def batch_get_secret_value(call: SecretsCall) -> dict[str, Any]:
    ids = call.strings("SecretIdList", max_items=20, max_length=2048)
    filters = call.filters()
    if (ids is None) == (not filters):
        raise SecretsWireError(
            "InvalidParameterException", "Specify either SecretIdList or Filters, not both."
        )
    await call.actor.authorise("secretsmanager:BatchGetSecretValue", None)
    offset, size = 0, 20
    if ids is None:
        offset, size = call.page(default=20, maximum=20)
        listed = await call.secrets.list_secrets(call.actor, filters)
        ids = [s.arn for s, _ in listed[offset : offset + size]]
        more = next_token(offset, size, len(listed))
    else:
        more = {}
    values, errors = [], []
    for secret_id in ids:
        try:
            secret, version, plaintext = await call.secrets.get_value(call.actor, secret_id)
        except AndromedeError as exc:
            wire = to_secrets_error(exc)
            if wire is None:
                raise
            errors.append(
                {"SecretId": secret_id, "ErrorCode": wire.error_type, "Message": wire.message}
            )
            continue
        call.resources.append(secret.arn)
        values.append(_value(secret, version, plaintext))
    return {"SecretValues": values, "Errors": errors, **more}


async def put_secret_value(call: SecretsCall) -> dict[str, Any]:
    value = call.value(required=True)
    assert value is not None  # noqa: S101 (required)
    secret, version_id, stages = await call.secrets.put_value(
        call.actor,
        call.secret_id(),
        value,
        token=call.token(),
        stages=call.strings("VersionStages", max_items=20),
    )
    call.resources.append(secret.arn)
    return {**_named(secret), "VersionId": version_id, "VersionStages": list(stages)}


async def update_secret(call: SecretsCall) -> dict[str, Any]:
    secret, version_id = await call.secrets.update(
        call.actor,
        call.secret_id(),
        description=call.string("Description", max_length=2048),
        kms_key_id=call.string("KmsKeyId", min_length=1),
        value=call.value(required=False),
        token=call.token(),
    )
    call.resources.append(secret.arn)
    answer = _named(secret)
    if version_id is not None:
        answer["VersionId"] = version_id
    return answer


async def describe_secret(call: SecretsCall) -> dict[str, Any]:
    secret, versions = await call.secrets.describe(call.actor, call.secret_id())
    call.resources.append(secret.arn)
    answer = _described(secret, versions)
    answer.update(rotation_fields(await call.secrets.rotation.state(secret)))
    await _with_replication(call, secret, answer)
    return answer


async def list_secrets(call: SecretsCall) -> dict[str, Any]:
    offset, size = call.page()
    order = call.string("SortOrder", max_length=4) or "asc"
    if order not in ("asc", "desc"):
        raise invalid("SortOrder", "Member must satisfy enum value set: [asc, desc]")
    listed = await call.secrets.list_secrets(
        call.actor,
        call.filters(),
        include_deleted=bool(call.boolean("IncludePlannedDeletion")),
    )
    listed.sort(key=lambda pair: (pair[0].created, pair[0].name), reverse=order == "desc")
    page = listed[offset : offset + size]
    entries = []
    for secret, versions in page:
        entry = _described(secret, versions)
        entry.update(rotation_fields(await call.secrets.rotation.state(secret)))
        entry["SecretVersionsToStages"] = entry.pop("VersionIdsToStages", {})
        if secret.primary_region is not None:
            entry["PrimaryRegion"] = secret.primary_region
        entries.append(entry)
    return {"SecretList": entries, **next_token(offset, size, len(listed))}


async def list_secret_version_ids(call: SecretsCall) -> dict[str, Any]:
    secret, versions = await call.secrets.list_versions(call.actor, call.secret_id())
    call.resources.append(secret.arn)
    if not call.boolean("IncludeDeprecated"):
        versions = [v for v in versions if v.stages]
    offset, size = call.page()
    entries = []
    for version in versions[offset : offset + size]:
        entry: dict[str, Any] = {
            "VersionId": version.version_id,
            "VersionStages": list(version.stages),
            "CreatedDate": epoch(version.created),
        }
        if version.last_accessed is not None:
            entry["LastAccessedDate"] = epoch(version.last_accessed)
        entries.append(entry)
    return {"Versions": entries, **_named(secret), **next_token(offset, size, len(versions))}


async def update_secret_version_stage(call: SecretsCall) -> dict[str, Any]:
    stage = call.string("VersionStage", required=True, min_length=1, max_length=256)
    assert stage is not None  # noqa: S101 (required)
    secret = await call.secrets.update_stage(
        call.actor,
        call.secret_id(),
        stage,
        remove_from=call.string("RemoveFromVersionId", min_length=32, max_length=64),
        move_to=call.string("MoveToVersionId", min_length=32, max_length=64),
    )
    call.resources.append(secret.arn)
    return _named(secret)


async def delete_secret(call: SecretsCall) -> dict[str, Any]:
    secret, when = await call.secrets.delete(
        call.actor,
        call.secret_id(),
        window_days=call.integer("RecoveryWindowInDays", minimum=-(2**31), maximum=2**31),
        force=bool(call.boolean("ForceDeleteWithoutRecovery")),
    )
    call.resources.append(secret.arn)
    return {**_named(secret), "DeletionDate": epoch(when)}


async def restore_secret(call: SecretsCall) -> dict[str, Any]:
    secret = await call.secrets.restore(call.actor, call.secret_id())
    call.resources.append(secret.arn)
    return _named(secret)


async def tag_resource(call: SecretsCall) -> dict[str, Any]:
    secret = await call.secrets.tag(call.actor, call.secret_id(), call.tags(required=True))
    call.resources.append(secret.arn)
    return {}


async def untag_resource(call: SecretsCall) -> dict[str, Any]:
    keys = call.strings("TagKeys", max_items=50, max_length=128)
    if keys is None:
        raise invalid("TagKeys", "Member must not be null")
    secret = await call.secrets.untag(call.actor, call.secret_id(), keys)
    call.resources.append(secret.arn)
    return {}


def _policy_text(call: SecretsCall) -> str:
    text = call.string(
        "ResourcePolicy", required=True, min_length=1, max_length=call.max_policy_size
    )
    assert text is not None  # noqa: S101 (required)
    return text


async def put_resource_policy(call: SecretsCall) -> dict[str, Any]:
    text = _policy_text(call)
    block = call.boolean("BlockPublicPolicy")
    check_policy(text, max_size=call.max_policy_size, block_public=block is not False)
    secret = await call.secrets.put_policy(call.actor, call.secret_id(), text)
    call.resources.append(secret.arn)
    return _named(secret)


async def get_resource_policy(call: SecretsCall) -> dict[str, Any]:
    secret = await call.secrets.get_policy(call.actor, call.secret_id())
    call.resources.append(secret.arn)
    answer = _named(secret)
    if secret.policy:
        answer["ResourcePolicy"] = secret.policy
    return answer


async def delete_resource_policy(call: SecretsCall) -> dict[str, Any]:
    secret = await call.secrets.delete_policy(call.actor, call.secret_id())
    call.resources.append(secret.arn)
    return _named(secret)


async def validate_resource_policy(call: SecretsCall) -> dict[str, Any]:
    text = _policy_text(call)
    if call.params.get("SecretId") is not None:
        secret = await call.secrets.resolve(call.actor, call.secret_id())
        await call.actor.authorise("secretsmanager:ValidateResourcePolicy", secret)
        call.resources.append(secret.arn)
    else:
        await call.actor.authorise("secretsmanager:ValidateResourcePolicy", None)
    errors = validation_errors(text, max_size=call.max_policy_size)
    return {"PolicyValidationPassed": not errors, "ValidationErrors": errors}


async def get_random_password(call: SecretsCall) -> dict[str, Any]:
    await call.actor.authorise("secretsmanager:GetRandomPassword", None)
    length = call.integer("PasswordLength", minimum=1, maximum=4096) or 32
    excluded = set(call.string("ExcludeCharacters", max_length=4096) or "")
    groups = []
    for flag, chars in (
        ("ExcludeLowercase", string.ascii_lowercase),
        ("ExcludeUppercase", string.ascii_uppercase),
        ("ExcludeNumbers", string.digits),
        ("ExcludePunctuation", PUNCTUATION),
    ):
        if not call.boolean(flag):
            kept = "".join(c for c in chars if c not in excluded)
            if kept:
                groups.append(kept)
    if call.boolean("IncludeSpace") and " " not in excluded:
        groups.append(" ")
    if not groups:
        raise SecretsWireError(
            "InvalidParameterException", "The password cannot be made of no characters."
        )
    require = call.boolean("RequireEachIncludedType") is not False
    if require and length < len(groups):
        raise SecretsWireError(
            "InvalidParameterException",
            "The password length is too short to include one character of each type.",
        )
    alphabet = "".join(groups)
    while True:
        password = "".join(random.choice(alphabet) for _ in range(length))
        if not require or all(any(c in group for c in password) for group in groups):
            return {"RandomPassword": password}


async def replicate_secret_to_regions(call: SecretsCall) -> dict[str, Any]:
    secret, statuses = await call.secrets.replicate(
        call.actor,
        call.secret_id(),
        call.replica_regions(required=True),
        overwrite=bool(call.boolean("ForceOverwriteReplicaSecret")),
    )
    call.resources.append(secret.arn)
    return {"ARN": secret.arn, "ReplicationStatus": _replication(statuses)}


async def remove_regions_from_replication(call: SecretsCall) -> dict[str, Any]:
    regions = call.strings("RemoveReplicaRegions", max_items=100, max_length=128)
    if not regions:
        raise invalid("RemoveReplicaRegions", "Member must have length greater than or equal to 1")
    secret, statuses = await call.secrets.remove_regions(call.actor, call.secret_id(), regions)
    call.resources.append(secret.arn)
    return {"ARN": secret.arn, "ReplicationStatus": _replication(statuses)}


async def stop_replication_to_replica(call: SecretsCall) -> dict[str, Any]:
    secret = await call.secrets.stop_replication(call.actor, call.secret_id())
    call.resources.append(secret.arn)
    return {"ARN": secret.arn}


ACTIONS: Final[dict[str, Action]] = {
    "BatchGetSecretValue": batch_get_secret_value,
    "CancelRotateSecret": cancel_rotate_secret,
    "CreateSecret": create_secret,
    "DeleteResourcePolicy": delete_resource_policy,
    "DeleteSecret": delete_secret,
    "DescribeSecret": describe_secret,
    "GetRandomPassword": get_random_password,
    "GetResourcePolicy": get_resource_policy,
    "GetSecretValue": get_secret_value,
    "ListSecretVersionIds": list_secret_version_ids,
    "ListSecrets": list_secrets,
    "PutResourcePolicy": put_resource_policy,
    "PutSecretValue": put_secret_value,
    "RemoveRegionsFromReplication": remove_regions_from_replication,
    "ReplicateSecretToRegions": replicate_secret_to_regions,
    "RestoreSecret": restore_secret,
    "RotateSecret": rotate_secret,
    "StopReplicationToReplica": stop_replication_to_replica,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "UpdateSecret": update_secret,
    "UpdateSecretVersionStage": update_secret_version_stage,
    "ValidateResourcePolicy": validate_resource_policy,
}
# Refused with AWS's error: none since rotation is served (decision 0303).
REFUSED: Final[dict[str, Action]] = {}
# Served elsewhere than here: nothing (the 501 stays for an operation to come).
NOT_SERVED: Final[frozenset[str]] = frozenset()
