"""One DynamoDB call's parameters and their checks, in AWS's wording
(``ValidationException`` "1 validation error detected: …" for a value that breaks the API
model's constraints), the table a call names by ``TableName`` (a name or an ARN; another
account's ARN for the calls a resource policy may share, decision 0266) once the caller may
act on it, and the call's expressions parsed against its placeholders."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.dynamodb.backups import DynamoBackups
from andromede.dynamodb.capacity import Tally
from andromede.dynamodb.contributor_insights import ContributorInsights
from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.exports import DynamoExports
from andromede.dynamodb.expressions import (
    Condition,
    Path,
    Placeholders,
    Update,
    parse_condition,
    parse_projection,
    parse_update,
)
from andromede.dynamodb.global_tables import replica_table_status
from andromede.dynamodb.global_tables_service import GlobalTables
from andromede.dynamodb.kinesis_destination_service import KinesisDestinations
from andromede.dynamodb.model import Table, table_arn
from andromede.dynamodb.resource_policies import DynamoResourcePolicies
from andromede.dynamodb.service import DynamoService
from andromede.dynamodb.table_keys import TableKeys
from andromede.dynamodb.values import Item, check_item
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.legacy import LegacyParts, read_legacy
from andromede.dynamodbapi.sharing import SHARED_TABLE_ACTIONS, Authorise, Judge

__all__ = ["DynamoCall", "Expressions", "Handler", "invalid"]

_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
_ITEM_ACTIONS: Final = SHARED_TABLE_ACTIONS - {"DescribeTable", "DescribeTimeToLive"}
_ARN: Final = re.compile(
    r"arn:aws[\w-]*:dynamodb:([a-z0-9-]+):(\d{12}):table/([a-zA-Z0-9_.-]{3,255})"
)


def invalid(name: str, constraint: str, value: object = None) -> DynamoWireError:
    field_name = name[:1].lower() + name[1:]
    shown = "" if value is None else f" '{str(value)[:256]}'"
    return DynamoWireError(
        "ValidationException",
        f"1 validation error detected: Value{shown} at '{field_name}' failed to satisfy "
        f"constraint: {constraint}",
    )


def _serialization(name: str, kind: str) -> DynamoWireError:
    return DynamoWireError("SerializationException", f"{name} must be {kind}")


@dataclass(frozen=True, slots=True)
class Expressions:
    condition: Condition | None = None
    projection: tuple[Path, ...] | None = None
    update: Update | None = None
    filter: Condition | None = None
    key_condition: Condition | None = None


@dataclass(slots=True)
class DynamoCall:
    """One action call: its parameters, the caller's account, its authorisation and the
    service; ``resources`` collects the tables' ARNs for the audit record."""

    params: Mapping[str, Any]
    tenant_id: str
    region: str
    dynamodb: DynamoService
    authorise: Authorise
    resources: list[str] = field(default_factory=list)
    backups: DynamoBackups | None = None  # decision 0253
    exports: DynamoExports | None = None  # decision 0261
    # A table's KMS key (decision 0254): the key wiring, and the caller as KMS judges it.
    table_keys: TableKeys | None = None
    kms_caller: object = None
    kinesis_destinations: KinesisDestinations | None = None  # decision 0262
    global_tables: GlobalTables | None = None  # decision 0265
    # What an item call consumed and, for a query or scan, how many items it returned: its
    # AWS/DynamoDB metrics (decision 0254).
    tally: Tally | None = None
    returned: int | None = None
    # Decision 0266: the tables' and streams' policies, and the account whose resource the
    # call reached when not the caller's (its trail gets the call too).
    resource_policies: DynamoResourcePolicies | None = None
    shared: str | None = None
    judge: Judge | None = None
    root: bool = False  # the caller is its account's root user
    contributor_insights: ContributorInsights | None = None  # decision 0278

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        min_length: int = 0,
        max_length: int = 1024 * 1024,
        source: Mapping[str, Any] | None = None,
    ) -> str | None:
        value = (self.params if source is None else source).get(name)
        if value is None:
            if required:
                raise invalid(name, "Member must not be null")
            return None
        if not isinstance(value, str):
            raise _serialization(name, "a string")
        if not min_length <= len(value) <= max_length:
            raise invalid(
                name, f"Member must have length between {min_length} and {max_length}", value
            )
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.string(name)
        if value is None:
            return default
        if value not in choices:
            raise invalid(
                name, f"Member must satisfy enum value set: [{', '.join(choices)}]", value
            )
        return value

    def integer(
        self, name: str, *, minimum: int, maximum: int, source: Mapping[str, Any] | None = None
    ) -> int | None:
        value = (self.params if source is None else source).get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _serialization(name, "an integer")
        if value < minimum:
            raise invalid(name, f"Member must have value greater than or equal to {minimum}", value)
        if value > maximum:
            raise invalid(name, f"Member must have value less than or equal to {maximum}", value)
        return value

    def boolean(self, name: str, source: Mapping[str, Any] | None = None) -> bool | None:
        value = (self.params if source is None else source).get(name)
        if value is not None and not isinstance(value, bool):
            raise _serialization(name, "a boolean")
        return value

    def mapping(self, name: str, source: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        value = (self.params if source is None else source).get(name)
        if value is not None and not isinstance(value, dict):
            raise _serialization(name, "a structure")
        return value

    def listing(self, name: str, source: Mapping[str, Any] | None = None) -> list[Any] | None:
        value = (self.params if source is None else source).get(name)
        if value is not None and not isinstance(value, list):
            raise _serialization(name, "a list")
        return value

    def item(self, name: str, source: Mapping[str, Any] | None = None) -> Item:
        value = self.mapping(name, source)
        if value is None:
            raise invalid(name, "Member must not be null")
        return check_item(value)

    def table_name(self, value: str | None = None, name: str = "TableName") -> tuple[str, str]:
        """(name, ARN) of the table ``TableName`` (or ``value``) names, of the caller's account
        and Region."""
        given = value if value is not None else self.string(name, required=True, max_length=1024)
        assert given is not None  # noqa: S101 (required)
        matched = _ARN.fullmatch(given)
        if matched is not None:
            region, account, table = matched.groups()
            if account != self.tenant_id or region != self.region:
                raise DynamoWireError(
                    "AccessDeniedException",
                    f"The table {given} is not of this account and Region",
                )
            return table, given
        if not _NAME.fullmatch(given):
            raise invalid(
                name,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and "
                "have length between 3 and 255",
                given,
            )
        return given, table_arn(self.region, self.tenant_id, given)

    def table_ref(self, value: str | None, action: str) -> tuple[str, str, str]:
        """(owner's account, name, ARN) of the table ``TableName`` (or ``value``) names:
        another account's only by its ARN and for a call its policy may share."""
        given = value if value is not None else self.string("TableName", required=True,
                                                            max_length=1024)  # fmt: skip
        assert given is not None  # noqa: S101 (required)
        matched = _ARN.fullmatch(given)
        if matched is not None and matched.group(2) != self.tenant_id:
            region, account, name = matched.groups()
            if (
                region != self.region
                or self.resource_policies is None
                or action not in SHARED_TABLE_ACTIONS
            ):
                raise DynamoWireError(
                    "AccessDeniedException",
                    f"The table {given} is not of this account and Region",
                )
            return account, name, table_arn(self.region, account, name)
        name, arn = self.table_name(given)
        return self.tenant_id, name, arn

    async def table(self, action: str, value: str | None = None, index: str | None = None) -> Table:
        """The table named, once the caller may ``dynamodb:<action>`` on it (on its
        ``index``'s ARN, ``<table ARN>/index/<name>``, for a Query or Scan of an index, as
        AWS authorises them: decision 0291): by its identity policies and the table's
        resource policy (decision 0266). Another account's missing table is judged without a
        policy, hence refused: names are not probed across accounts."""
        owner, name, arn = self.table_ref(value, action)
        self.resources.append(arn)
        held, policy = await self.held_policy(owner, name, arn)
        if owner != self.tenant_id and held is not None:
            self.shared = owner  # reached, refused or not: the owner's trail gets the call
        resource = arn if index is None else f"{arn}/index/{index}"
        await self.authorise(f"dynamodb:{action}", resource, policy, owner)
        table = held if held is not None else await self.dynamodb.table(owner, name)
        if action in _ITEM_ACTIONS and replica_table_status(table) == "CREATING":
            # A replica whose initial copy runs is not written yet (decision 0291).
            raise DynamoWireError(
                "ResourceNotFoundException",
                f"Requested resource not found: Table: {name} is being created",
            )
        return table

    async def held_policy(self, owner: str, name: str, arn: str) -> tuple[Table | None, str | None]:
        """The table (if policies are wired and it exists) and its resource policy's text."""
        if self.resource_policies is None:
            return None, None
        held = await self.dynamodb.store.get_table(owner, name)
        if held is None:
            return None, None
        found = await self.resource_policies.policy(owner, arn, held.created)
        return held, None if found is None else found.text

    def expressions(
        self, source: Mapping[str, Any] | None = None, legacy_served: bool = True
    ) -> Expressions:
        """The call's expressions parsed, every placeholder they were given used; its legacy
        parameters read in their stead (decision 0259) unless the call's shape has none
        (``legacy_served`` False: a transaction's actions), where AWS ignores them."""
        given = self.params if source is None else source
        names = self.mapping("ExpressionAttributeNames", given) or {}
        values = self.mapping("ExpressionAttributeValues", given) or {}
        legacy = (read_legacy(given) if legacy_served else None) or LegacyParts()
        placeholders = Placeholders(names, values)

        def text(name: str) -> str | None:
            return self.string(name, source=given, min_length=1, max_length=4096)

        condition = text("ConditionExpression")
        projection = text("ProjectionExpression")
        update = text("UpdateExpression")
        filter_ = text("FilterExpression")
        key_condition = text("KeyConditionExpression")
        if (names or values) and not any((condition, projection, update, filter_, key_condition)):
            which = "ExpressionAttributeNames" if names else "ExpressionAttributeValues"
            raise ValidationError(f"{which} can only be specified when using expressions")
        parsed = Expressions(
            condition=legacy.condition
            if condition is None
            else parse_condition(condition, "ConditionExpression", placeholders),
            projection=legacy.projection
            if projection is None
            else parse_projection(projection, placeholders),
            update=legacy.update if update is None else parse_update(update, placeholders),
            filter=legacy.filter
            if filter_ is None
            else parse_condition(filter_, "FilterExpression", placeholders),
            key_condition=legacy.key_condition
            if key_condition is None
            else parse_condition(key_condition, "KeyConditionExpression", placeholders),
        )
        placeholders.check_all_used()
        return parsed


Handler = Callable[[DynamoCall], Awaitable[dict[str, Any]]]
