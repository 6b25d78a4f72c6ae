"""DynamoDB's table calls (decision 0237): CreateTable (a table ACTIVE at once, so the
``table_exists`` waiter returns on its first look), DescribeTable, ListTables page by page,
UpdateTable (billing mode, provisioned throughput and ``OnDemandThroughput`` within the
settings' maximums and AWS's decrease rule: ``dynamodbapi.throughput``, decision 0267;
deletion protection: decision 0253),
DeleteTable, the tags
(Tag/UntagResource, ListTagsOfResource), time to live (Describe/UpdateTimeToLive) and
DescribeLimits; secondary indexes (decision 0243, read by ``dynamodbapi.indexes``); streams
(decision 0246, ``dynamodbapi.streams``); the table's KMS key (decision 0254,
``dynamodbapi.encryption``). What a table could have and this platform does not
serve (table classes) is refused ``ValidationException`` saying so, never
ignored."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.global_tables import (
    check_not_in_progress,
    global_description,
    replica_table_status,
)
from andromede.dynamodb.model import BillingMode, KeyElement, SecondaryIndex, Table
from andromede.dynamodbapi.encryption import apply_key, key_choice
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.global_tables import (
    apply_replica_updates,
    check_stream_kept,
    table_deleted,
)
from andromede.dynamodbapi.indexes import check_indexes, read_index, updated_indexes
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid
from andromede.dynamodbapi.resource_policies import attach_created_policy, check_create_policy
from andromede.dynamodbapi.streams import apply_stream_change, stream_change
from andromede.dynamodbapi.throughput import (
    UNBOUNDED,
    check_account,
    check_capacity,
    on_demand,
    provisioned,
    throughput_changes,
    with_decreases,
)
from andromede.dynamodbapi.throughput import describe_limits as describe_limits_of

__all__ = ["TABLE_ACTIONS", "described"]

_MAX_TAGS: Final = 50
_MODES: Final = ("PROVISIONED", "PAY_PER_REQUEST")


def _refused(what: str) -> ValidationError:
    return ValidationError(f"{what} is not served by this platform (decision 0237)")


async def described(call: DynamoCall, table: Table, status: str = "ACTIVE") -> dict[str, Any]:
    count, size = await call.dynamodb.usage(table)
    description = table.describe(count, size, await call.dynamodb.index_usage(table))
    with_decreases(table, description)  # decision 0267
    if status == "ACTIVE":  # a replica being made (decision 0291)
        status = replica_table_status(table) or status
    if status == "ACTIVE" and call.table_keys and not await call.table_keys.accessible(table):
        status = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"  # its KMS key unusable (decision 0254)
    description["TableStatus"] = status
    description.update(global_description(table))  # decision 0265
    return description


def _throughput(call: DynamoCall, mode: BillingMode) -> tuple[int, int]:
    given = call.mapping("ProvisionedThroughput")
    if mode is BillingMode.PAY_PER_REQUEST:
        if given is not None and (
            given.get("ReadCapacityUnits") or given.get("WriteCapacityUnits")
        ):
            raise ValidationError(
                "One or more parameter values were invalid: Neither "
                "ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                "BillingMode is PAY_PER_REQUEST"
            )
        return 0, 0
    if given is None:
        raise ValidationError(
            "One or more parameter values were invalid: ReadCapacityUnits and "
            "WriteCapacityUnits must both be specified when BillingMode is "
            "PROVISIONED"
        )
    read = call.integer("ReadCapacityUnits", minimum=1, maximum=UNBOUNDED, source=given)
    write = call.integer("WriteCapacityUnits", minimum=1, maximum=UNBOUNDED, source=given)
    if read is None or write is None:
        raise invalid("ProvisionedThroughput", "Member must not be null")
    check_capacity(call, read, write)  # decision 0267
    return read, write


def _tags(call: DynamoCall, listed: list[Any] | None) -> list[tuple[str, str]]:
    tags = []
    for tag in listed or []:
        if not isinstance(tag, dict):
            raise invalid("Tags", "Member must be a structure")
        key = call.string("Key", required=True, min_length=1, max_length=128, source=tag)
        value = call.string("Value", required=True, max_length=256, source=tag)
        assert key is not None and value is not None  # noqa: S101 (required)
        tags.append((key, value))
    return tags


def _merged(
    held: tuple[tuple[str, str], ...], added: list[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    merged = dict(held)
    merged.update(added)
    if len(merged) > _MAX_TAGS:
        raise DynamoWireError(
            "LimitExceededException",
            f"The number of tags for a resource may not exceed {_MAX_TAGS}",
        )
    return tuple(merged.items())


async def create_table(call: DynamoCall) -> dict[str, Any]:
    name, arn = call.table_name()
    call.resources.append(arn)
    await call.authorise("dynamodb:CreateTable", arn)
    if call.params.get("WarmThroughput"):
        raise _refused("WarmThroughput")
    policy = await check_create_policy(call, arn)  # decision 0266
    protected = bool(call.boolean("DeletionProtectionEnabled"))  # decision 0253
    streamed = stream_change(call)
    if (
        call.choice("TableClass", ("STANDARD", "STANDARD_INFREQUENT_ACCESS"), "STANDARD")
        != "STANDARD"
    ):
        raise _refused("The STANDARD_INFREQUENT_ACCESS table class")
    definitions: dict[str, str] = {}
    for definition in call.listing("AttributeDefinitions") or []:
        attribute = call.string(
            "AttributeName", required=True, min_length=1, max_length=255, source=definition
        )
        kind = call.string("AttributeType", required=True, source=definition)
        if kind not in ("S", "N", "B"):
            raise invalid(
                "AttributeDefinitions.member.attributeType",
                "Member must satisfy enum value set: [B, N, S]",
                kind,
            )
        assert attribute is not None  # noqa: S101 (required)
        definitions[attribute] = kind
    schema = call.listing("KeySchema")
    if not schema or len(schema) > 2:
        raise invalid("KeySchema", "Member must have length less than or equal to 2")
    keys: list[KeyElement] = []
    for position, element in enumerate(schema):
        attribute = call.string(
            "AttributeName", required=True, min_length=1, max_length=255, source=element
        )
        key_type = call.string("KeyType", required=True, source=element)
        wanted = "HASH" if position == 0 else "RANGE"
        if key_type != wanted:
            raise ValidationError(
                "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
                if position == 0
                else "Too many hash keys specified.  "
                "All Dynamo DB tables must have exactly one hash key"
            )
        assert attribute is not None  # noqa: S101 (required)
        if attribute not in definitions:
            raise ValidationError(
                "One or more parameter values were invalid: Some index key "
                "attributes are not defined in AttributeDefinitions. Keys: "
                f"[{attribute}], AttributeDefinitions: "
                f"[{', '.join(definitions)}]"
            )
        keys.append(KeyElement(attribute, definitions[attribute]))
    mode = BillingMode(call.choice("BillingMode", _MODES) or "PROVISIONED")
    indexes = [
        read_index(call, spec, definitions, mode, local=local)
        for local, field in ((False, "GlobalSecondaryIndexes"), (True, "LocalSecondaryIndexes"))
        for spec in call.listing(field) or []
    ]
    check_indexes(call.dynamodb.limits, keys[0], keys[1] if len(keys) > 1 else None, indexes)
    used = {k.name for k in keys} | {k.name for i in indexes for k in (i.hash_key, i.sort_key) if k}
    if set(definitions) != used:
        raise ValidationError(
            "One or more parameter values were invalid: Number of attributes "
            "in KeySchema does not exactly match number of attributes defined "
            "in AttributeDefinitions"
            if not indexes
            else "One or more parameter values were invalid: Some AttributeDefinitions are "
            f"not used. AttributeDefinitions: [{', '.join(definitions)}], keys used: "
            f"[{', '.join(sorted(used))}]"
        )
    read, write = _throughput(call, mode)
    maxima = on_demand(call, mode)  # decision 0267
    if mode is BillingMode.PROVISIONED:
        globals_ = [i for i in indexes if not i.local]
        await check_account(call, name, read + sum(i.read_capacity for i in globals_),
                            write + sum(i.write_capacity for i in globals_))  # fmt: skip
    key = await key_choice(call, name)  # decision 0254: checked before the table is made
    table = await call.dynamodb.create_table(
        call.tenant_id,
        name,
        keys[0],
        keys[1] if len(keys) > 1 else None,
        [KeyElement(n, t) for n, t in definitions.items()],
        mode,
        read,
        write,
        _merged((), _tags(call, call.listing("Tags"))),
        False,
        indexes,
    )
    if protected:
        table = await call.dynamodb.change_table(table, deletion_protection=True)
    if maxima != (-1, -1):
        table = await call.dynamodb.change_table(
            table, max_read_requests=maxima[0], max_write_requests=maxima[1]
        )
    table = await apply_key(call, table, key)
    table = await apply_stream_change(call, table, streamed)  # decision 0246
    await attach_created_policy(call, table, policy)
    return {"TableDescription": await described(call, table)}


async def describe_table(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DescribeTable")
    return {"Table": await described(call, table)}


async def list_tables(call: DynamoCall) -> dict[str, Any]:
    await call.authorise("dynamodb:ListTables", "*")
    limit = call.integer("Limit", minimum=1, maximum=100) or 100
    after = call.string("ExclusiveStartTableName", min_length=3, max_length=1024)
    names = await call.dynamodb.table_names(call.tenant_id, after, limit + 1)
    answer: dict[str, Any] = {"TableNames": names[:limit]}
    if len(names) > limit:
        answer["LastEvaluatedTableName"] = names[limit - 1]
    return answer


async def delete_table(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DeleteTable")
    check_not_in_progress(table)  # AWS refuses a table CREATING or UPDATING (decision 0291)
    if table.deletion_protection:  # decision 0253, AWS's words
        raise ValidationError(
            "Resource cannot be deleted as it is currently protected against deletion. "
            "Disable deletion protection first."
        )
    description = await described(call, table, "DELETING")
    await call.dynamodb.delete_table(table.tenant_id, table.name)
    if call.resource_policies is not None:  # decision 0266: its policies and its streams'
        await call.resource_policies.drop_table(table.tenant_id, table.arn)
    await table_deleted(call, table)  # decision 0265: the other replicas carry on
    return {"TableDescription": description}


async def update_table(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("UpdateTable")
    check_not_in_progress(table)  # decision 0291
    for unserved in (
        "WarmThroughput",
        "MultiRegionConsistency",
    ):
        if call.params.get(unserved):
            raise _refused(unserved)
    check_stream_kept(call, table)  # decision 0265
    streamed = stream_change(call, table)
    changes: dict[str, object] = {}
    protected = call.boolean("DeletionProtectionEnabled")  # decision 0253
    if protected is not None and protected is not table.deletion_protection:
        changes["deletion_protection"] = protected
    given_mode = call.choice("BillingMode", _MODES)
    mode = table.billing_mode if given_mode is None else BillingMode(given_mode)
    if mode is not table.billing_mode:
        changes["billing_mode"] = mode
        changes["billing_changed"] = _now_ms()
    if call.mapping("ProvisionedThroughput") is not None or mode is not table.billing_mode:
        read, write = _throughput(call, mode)
        changes.update(throughput_changes(table, mode, read, write))  # decision 0267
        if mode is BillingMode.PROVISIONED and (
            mode is not table.billing_mode
            or read > table.read_capacity
            or write > table.write_capacity
        ):
            held_read, held_write = provisioned(table)
            await check_account(call, table.name, held_read - table.read_capacity + read,
                                held_write - table.write_capacity + write)  # fmt: skip
    maxima = on_demand(call, mode, (table.max_read_requests, table.max_write_requests))
    if maxima != (table.max_read_requests, table.max_write_requests):
        changes.update(max_read_requests=maxima[0], max_write_requests=maxima[1])
    key = await key_choice(call, table.name, table)  # decision 0254
    if changes:
        table = await call.dynamodb.change_table(table, **changes)
    table = await apply_key(call, table, key)
    if call.params.get("GlobalSecondaryIndexUpdates"):
        table = await _update_indexes(call, table)
    table = await apply_stream_change(call, table, streamed)  # decision 0246
    table = await apply_replica_updates(call, table)  # decision 0265
    return {"TableDescription": await described(call, table)}


async def _update_indexes(call: DynamoCall, table: Table) -> Table:
    """UpdateTable's index updates (decision 0243): a new index is answered CREATING and
    filled afterwards (decision 0254, ``dynamodb.backfill``); a deleted one is gone at once."""
    definitions = {a.name: a.type for a in table.attributes}
    for definition in call.listing("AttributeDefinitions") or []:
        name = call.string("AttributeName", required=True, min_length=1, source=definition)
        kind = call.string("AttributeType", required=True, source=definition)
        if name in definitions and definitions[name] != kind:
            raise ValidationError(
                "One or more parameter values were invalid: Cannot change the type of "
                f"attribute {name}"
            )
        if kind not in ("S", "N", "B"):
            raise invalid(
                "AttributeDefinitions.member.attributeType",
                "Member must satisfy enum value set: [B, N, S]",
                kind,
            )
        assert name is not None  # noqa: S101 (required)
        definitions[name] = kind
    for action, target in updated_indexes(call, table, definitions):
        if action == "Delete":
            assert isinstance(target, str)  # noqa: S101 (a name)
            table = await call.dynamodb.remove_index(table, target)
            continue
        assert isinstance(target, SecondaryIndex)  # noqa: S101 (an index)
        if action == "Update":
            kept = tuple(target if i.name == target.name else i for i in table.indexes)
            (read, write), (held_read, held_write) = (
                provisioned(replace(table, indexes=kept)),
                provisioned(table),
            )
            if read > held_read or write > held_write:  # decision 0267
                await check_account(call, table.name, read, write)
            table = await call.dynamodb.change_table(table, indexes=kept)
            continue
        if any(i.backfilling for i in table.indexes):
            raise DynamoWireError(
                "LimitExceededException",
                "Subscriber limit exceeded: Only 1 online index can be created or deleted "
                "simultaneously per table",
            )
        if table.index(target.name) is not None:
            raise DynamoWireError(
                "ValidationException",
                f"One or more parameter values were invalid: Index {target.name} already exists",
            )
        check_indexes(
            call.dynamodb.limits, table.hash_key, table.sort_key, [*table.indexes, target]
        )
        used = {k.name for k in (target.hash_key, target.sort_key) if k}
        attributes = {a.name: a for a in table.attributes}
        attributes.update({n: KeyElement(n, definitions[n]) for n in used})
        table = await call.dynamodb.change_table(table, attributes=tuple(attributes.values()))
        table = await call.dynamodb.add_index(table, target)
    return table


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _tagged_table(call: DynamoCall, action: str) -> Table:
    arn = call.string("ResourceArn", required=True, min_length=1, max_length=1283)
    assert arn is not None  # noqa: S101 (required)
    if not arn.startswith("arn:"):
        raise invalid("ResourceArn", "Member must be an ARN", arn)
    try:
        return await call.table(action, arn)
    except ValidationError:
        raise DynamoWireError("ValidationException", f"Invalid TableArn: {arn[:256]}") from None


async def tag_resource(call: DynamoCall) -> dict[str, Any]:
    table = await _tagged_table(call, "TagResource")
    tags = _tags(call, call.listing("Tags"))
    await call.dynamodb.change_table(table, tags=_merged(table.tags, tags))
    return {}


async def untag_resource(call: DynamoCall) -> dict[str, Any]:
    table = await _tagged_table(call, "UntagResource")
    keys = {str(k) for k in call.listing("TagKeys") or []}
    await call.dynamodb.change_table(table, tags=tuple(t for t in table.tags if t[0] not in keys))
    return {}


async def list_tags(call: DynamoCall) -> dict[str, Any]:
    table = await _tagged_table(call, "ListTagsOfResource")
    return {"Tags": [{"Key": k, "Value": v} for k, v in table.tags]}


def _ttl_description(table: Table) -> dict[str, Any]:
    if table.ttl_attribute is None:
        return {"TimeToLiveStatus": "DISABLED"}
    return {"TimeToLiveStatus": "ENABLED", "AttributeName": table.ttl_attribute}


async def describe_ttl(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DescribeTimeToLive")
    return {"TimeToLiveDescription": _ttl_description(table)}


async def update_ttl(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("UpdateTimeToLive")
    spec = call.mapping("TimeToLiveSpecification")
    if spec is None:
        raise invalid("TimeToLiveSpecification", "Member must not be null")
    enabled = call.boolean("Enabled", source=spec)
    attribute = call.string(
        "AttributeName", required=True, min_length=1, max_length=255, source=spec
    )
    if enabled is None:
        raise invalid("TimeToLiveSpecification.enabled", "Member must not be null")
    if enabled and table.ttl_attribute is not None:
        raise ValidationError("TimeToLive is already enabled")
    if not enabled and table.ttl_attribute is None:
        raise ValidationError("TimeToLive is already disabled")
    if not enabled and attribute != table.ttl_attribute:
        raise ValidationError("The attribute name does not match the one of the enabled TimeToLive")
    await call.dynamodb.enable_ttl(table, attribute if enabled else None)
    return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}


async def describe_limits(call: DynamoCall) -> dict[str, Any]:
    await call.authorise("dynamodb:DescribeLimits", "*")
    return describe_limits_of(call)  # the settings' (decision 0267)


TABLE_ACTIONS: Final[dict[str, Handler]] = {
    "CreateTable": create_table,
    "DeleteTable": delete_table,
    "DescribeLimits": describe_limits,
    "DescribeTable": describe_table,
    "DescribeTimeToLive": describe_ttl,
    "ListTables": list_tables,
    "ListTagsOfResource": list_tags,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "UpdateTable": update_table,
    "UpdateTimeToLive": update_ttl,
}
