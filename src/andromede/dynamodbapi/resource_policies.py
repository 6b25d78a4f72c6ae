"""DynamoDB resource policies (decision 0266): PutResourcePolicy, GetResourcePolicy and
DeleteResourcePolicy on a table's ARN or one of its streams', CreateTable's
``ResourcePolicy``, and the check a policy passes before it is kept.

Each call is authorised as ``dynamodb:<Action>`` on the resource's ARN by the caller's
identity policies and the resource's current policy, and only within the resource's own
account (another account's ARN is AccessDeniedException before any lookup); the account's
root user may always delete a policy, as AWS lets it ("even if your resource-based policy
explicitly denies the root principal's access").

A policy is at most ``dynamodb_max_resource_policy_size`` bytes (whitespace counted, as AWS
counts it), the IAM engine's resource-policy grammar (a ``Principal`` in each statement, the
actions in the catalogue), its actions of the ``dynamodb:`` namespace only, its resources the
table and its indexes (a table's policy) or the stream itself (a stream's): any other is
``ValidationException``. A policy that would refuse its writer PutResourcePolicy afterwards
(the same evaluation the next call would get) is refused unless
``ConfirmRemoveSelfResourceAccess`` is true. ``ExpectedRevisionId`` (a revision, or
``NO_POLICY``) that does not hold is ``PolicyNotFoundException``, as AWS says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.model import Table, table_arn
from andromede.dynamodb.resource_policies import DynamoResourcePolicies, PolicyNotFound
from andromede.dynamodb.streams import parse_stream_arn
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler
from andromede.dynamodbapi.sharing import SHARED_STREAM_ACTIONS
from andromede.iam.policy import MalformedPolicy, PolicyKind, parse_policy

__all__ = [
    "RESOURCE_POLICY_ACTIONS",
    "attach_created_policy",
    "authorise_stream",
    "check_create_policy",
    "check_policy",
]

_TABLE_ARN: Final = re.compile(
    r"arn:aws[\w-]*:dynamodb:([a-z0-9-]+):(\d{12}):table/([a-zA-Z0-9_.-]{3,255})"
)
_INDEX_PART: Final = re.compile(r"/index/([a-zA-Z0-9_.-]{3,255}|\*)")


@dataclass(frozen=True, slots=True)
class _Resource:
    owner: str
    table_name: str
    arn: str
    created: int  # the table's (a table's policy) or the stream's (a stream's)
    stream: bool


def check_policy(text: str, resource_arn: str, *, stream: bool, max_size: int) -> None:
    """ValidationException unless ``text`` is a policy the resource may carry."""
    size = len(text.encode())
    if size > max_size:
        raise ValidationError(
            f"Resource-based policy document size {size} bytes exceeds the maximum allowed "
            f"size of {max_size} bytes"
        )
    try:
        document = parse_policy(text, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise ValidationError(f"Invalid policy document: {exc}") from exc
    for statement in document.statements:
        where = f"statement {statement.index + 1}" + (
            f" ({statement.sid})" if statement.sid else ""
        )
        for pattern in statement.actions:
            if not pattern.lower().startswith("dynamodb:"):
                raise ValidationError(
                    f"Invalid policy document: the action {pattern[:128]} of {where} is not a "
                    "DynamoDB action: a resource-based policy may only name dynamodb: actions"
                )
        if statement.not_resource or not statement.resources:
            raise ValidationError(
                f"Invalid policy document: {where} must name its Resource (the "
                f"{'stream' if stream else 'table'} the policy is attached to)"
            )
        for resource in statement.resources:
            if not _covers(resource, resource_arn, stream):
                raise ValidationError(
                    f"Invalid policy document: the resource {resource[:256]} of {where} is "
                    f"not {'the stream' if stream else 'the table or one of its indexes'} the "
                    f"policy is attached to: {resource_arn}"
                )


def _covers(resource: str, arn: str, stream: bool) -> bool:
    if resource == arn:
        return True
    if stream or not resource.startswith(arn):
        return False
    return _INDEX_PART.fullmatch(resource[len(arn) :]) is not None


def _policies(call: DynamoCall) -> DynamoResourcePolicies:
    if call.resource_policies is None:
        raise DynamoWireError(
            "UnknownOperationException", "Resource policies are not served by this gateway"
        )
    return call.resource_policies


async def _resource(call: DynamoCall, action: str) -> tuple[_Resource, str | None]:
    """The resource ``ResourceArn`` names and its current policy, once the caller may
    ``dynamodb:<action>`` on it (within its account only)."""
    policies = _policies(call)
    given = call.string("ResourceArn", required=True, min_length=1, max_length=1283)
    assert given is not None  # noqa: S101 (required)
    parsed = parse_stream_arn(given)
    matched = _TABLE_ARN.fullmatch(given if parsed is None else given.rpartition("/stream/")[0])
    if matched is None:
        raise ValidationError(
            f"Invalid ResourceArn provided as input {given[:1283]}: a resource-based policy "
            "is attached to a table's or a stream's ARN"
        )
    region, account, name = matched.groups()
    if account != call.tenant_id or region != call.region:
        raise DynamoWireError(
            "AccessDeniedException",
            f"The resource {given[:1283]} is not of this account and Region",
        )
    arn = table_arn(call.region, account, name)
    call.resources.append(given if parsed is not None else arn)
    created: int | None = None
    if parsed is not None:
        arn = f"{arn}/stream/{parsed[3]}"
        held_stream = await call.dynamodb.store.get_stream(account, name, parsed[3])
        created = None if held_stream is None else held_stream.created
    else:
        held_table = await call.dynamodb.store.get_table(account, name)
        created = None if held_table is None else held_table.created
    current = None if created is None else await policies.policy(account, arn, created)
    text = None if current is None else current.text
    if action == "DeleteResourcePolicy" and call.root:
        text = None  # the root user may always remove a policy that locks it out
    await call.authorise(f"dynamodb:{action}", arn, text, account)
    if created is None:
        raise DynamoWireError(
            "ResourceNotFoundException",
            f"Requested resource not found: {'Stream' if parsed else 'Table'}: "
            f"{arn if parsed else name} not found",
        )
    return _Resource(account, name, arn, created, parsed is not None), (
        None if current is None else current.revision_id
    )


async def _not_locked_out(call: DynamoCall, arn: str, text: str) -> None:
    """ValidationException when ``text`` would refuse its writer the next
    PutResourcePolicy, unless ``ConfirmRemoveSelfResourceAccess`` says that is meant."""
    if call.boolean("ConfirmRemoveSelfResourceAccess") or call.judge is None:
        return
    if await call.judge("dynamodb:PutResourcePolicy", arn, text, call.tenant_id) is not None:
        raise ValidationError(
            "The resource-based policy would deny you dynamodb:PutResourcePolicy on "
            f"{arn}: set ConfirmRemoveSelfResourceAccess to true to confirm that you want "
            "to remove your permissions to change the policy of this resource"
        )


def _expected(call: DynamoCall) -> str | None:
    return call.string("ExpectedRevisionId", min_length=1, max_length=255)


def _not_found(exc: PolicyNotFound) -> DynamoWireError:
    return DynamoWireError("PolicyNotFoundException", str(exc))


async def put_resource_policy(call: DynamoCall) -> dict[str, Any]:
    text = call.string("Policy", required=True, max_length=2**31 - 1)
    expected = _expected(call)
    assert text is not None  # noqa: S101 (required)
    resource, _ = await _resource(call, "PutResourcePolicy")
    policies = _policies(call)
    check_policy(text, resource.arn, stream=resource.stream, max_size=policies.max_size)
    await _not_locked_out(call, resource.arn, text)
    try:
        revision = await policies.put(
            resource.owner, resource.arn, resource.table_name, resource.created, text, expected
        )
    except PolicyNotFound as exc:
        raise _not_found(exc) from None
    return {"RevisionId": revision}


async def get_resource_policy(call: DynamoCall) -> dict[str, Any]:
    resource, _ = await _resource(call, "GetResourcePolicy")
    held = await _policies(call).policy(resource.owner, resource.arn, resource.created)
    if held is None:
        raise DynamoWireError(
            "PolicyNotFoundException",
            f"Resource-based policy not found for the provided ResourceArn: {resource.arn}",
        )
    return {"Policy": held.text, "RevisionId": held.revision_id}


async def delete_resource_policy(call: DynamoCall) -> dict[str, Any]:
    expected = _expected(call)
    resource, _ = await _resource(call, "DeleteResourcePolicy")
    try:
        revision = await _policies(call).delete(
            resource.owner, resource.arn, resource.created, expected
        )
    except PolicyNotFound as exc:
        raise _not_found(exc) from None
    return {} if revision is None else {"RevisionId": revision}


async def check_create_policy(call: DynamoCall, arn: str) -> str | None:
    """CreateTable's ``ResourcePolicy``, checked before the table is made: the caller needs
    ``dynamodb:PutResourcePolicy`` too, as AWS says."""
    text = call.string("ResourcePolicy", max_length=2**31 - 1)
    if text is None:
        return None
    await call.authorise("dynamodb:PutResourcePolicy", arn)
    check_policy(text, arn, stream=False, max_size=_policies(call).max_size)
    await _not_locked_out(call, arn, text)
    return text


async def attach_created_policy(call: DynamoCall, table: Table, text: str | None) -> None:
    if text is not None:
        arn = table_arn(call.region, table.tenant_id, table.name)
        await _policies(call).put(table.tenant_id, arn, table.name, table.created, text)


async def authorise_stream(call: DynamoCall, action: str, arn: str) -> str:
    """The account whose stream ``arn`` names, once the caller may ``dynamodb:<action>`` on
    it by its identity policies and the stream's policy: another account's only for the
    calls a stream's policy may share (else the caller's own, where it is not found)."""
    parsed = parse_stream_arn(arn)
    owner = call.tenant_id
    if parsed is None or call.resource_policies is None:
        await call.authorise(f"dynamodb:{action}", arn)
        return owner
    region, account, name, label = parsed
    if account != owner and region == call.region and action in SHARED_STREAM_ACTIONS:
        owner = account
    text = None
    if account == owner and region == call.region:
        held = await call.dynamodb.store.get_stream(owner, name, label)
        if held is not None:
            if owner != call.tenant_id:
                call.shared = owner  # reached, refused or not: the owner's trail gets the call
            canonical = f"{table_arn(call.region, owner, name)}/stream/{label}"
            found = await call.resource_policies.policy(owner, canonical, held.created)
            text = None if found is None else found.text
    await call.authorise(f"dynamodb:{action}", arn, text, owner)
    return owner


RESOURCE_POLICY_ACTIONS: Final[dict[str, Handler]] = {
    "DeleteResourcePolicy": delete_resource_policy,
    "GetResourcePolicy": get_resource_policy,
    "PutResourcePolicy": put_resource_policy,
}
