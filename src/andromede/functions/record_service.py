"""What a Lambda function holds beside its versions (decision 0286): its aliases, its
resource-based policies (one per qualifier, as AWS keeps them), its tags, its reserved
concurrency and its recursive loop setting (decision 0328). Each change reads the function's
record and writes it back by compare-and-set, reading again when another gateway changed it
first."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, Final

from andromede.functions.errors import (
    FunctionChanged,
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from andromede.functions.lineage import RECURSIVE_LOOPS
from andromede.functions.model import LATEST, Alias, FunctionRecord, check_alias_name
from andromede.functions.permissions import Permission, with_statement, without_statement
from andromede.functions.service import FunctionsService, after_token, page_size, page_token

__all__ = ["UNRESERVED_MINIMUM", "FunctionRecords"]

UNRESERVED_MINIMUM: Final = 100  # AWS keeps 100 executions for functions without a reserve
_RETRIES: Final = 8
_STALE: Final = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def _weights(routing: object) -> tuple[tuple[str, float], ...]:
    if routing is None:
        return ()
    weights = routing.get("AdditionalVersionWeights") if isinstance(routing, dict) else None
    if weights is None:
        return ()
    if not isinstance(weights, dict) or len(weights) > 1:
        raise InvalidParameterValue("RoutingConfig routes to at most one additional version")
    checked = []
    for version, weight in weights.items():
        if not isinstance(weight, int | float) or not 0.0 <= float(weight) <= 1.0:
            raise InvalidParameterValue("A version's weight must be between 0.0 and 1.0")
        checked.append((str(version), float(weight)))
    return tuple(checked)


class FunctionRecords:
    def __init__(self, functions: FunctionsService) -> None:
        self._functions = functions

    async def _change(
        self, tenant_id: str, name: str, change: Callable[[FunctionRecord], FunctionRecord]
    ) -> FunctionRecord:
        for _ in range(_RETRIES):
            record = await self._functions.record(tenant_id, name)
            changed = change(record)
            try:
                await self._functions.store.replace(changed)
            except FunctionChanged:
                continue
            return changed
        raise ResourceConflict(f"The function {name} is being changed: try again")

    # -- aliases ---------------------------------------------------------------------------

    async def _version_exists(self, tenant_id: str, name: str, version: object) -> str:
        if not isinstance(version, str) or not version:
            raise InvalidParameterValue("FunctionVersion must be $LATEST or a version number")
        if await self._functions.store.version(tenant_id, name, version) is None:
            arn = self._functions.arn(tenant_id, name, version)
            raise ResourceNotFound(f"Function not found: {arn}")
        return version

    async def create_alias(self, tenant_id: str, name: str, params: dict[str, Any]) -> Alias:
        alias_name = check_alias_name(params.get("Name"))
        version = await self._version_exists(tenant_id, name, params.get("FunctionVersion"))
        weights = _weights(params.get("RoutingConfig"))
        for other, _ in weights:
            await self._version_exists(tenant_id, name, other)
        description = params.get("Description") or ""
        if not isinstance(description, str) or len(description) > 256:
            raise InvalidParameterValue("Description must be at most 256 characters")
        made = Alias(alias_name, version, description, str(uuid.uuid4()), weights)

        def add(record: FunctionRecord) -> FunctionRecord:
            if record.alias(alias_name) is not None:
                arn = self._functions.arn(tenant_id, name, alias_name)
                raise ResourceConflict(f"Alias already exists: {arn}")
            return record.replaced(aliases=(*record.aliases, made))

        await self._change(tenant_id, name, add)
        return made

    async def alias(self, tenant_id: str, name: str, alias_name: str) -> Alias:
        found = (await self._functions.record(tenant_id, name)).alias(alias_name)
        if found is None:
            raise ResourceNotFound(
                f"Alias not found: {self._functions.arn(tenant_id, name, alias_name)}"
            )
        return found

    async def update_alias(
        self, tenant_id: str, name: str, alias_name: str, params: dict[str, Any]
    ) -> Alias:
        current = await self.alias(tenant_id, name, alias_name)
        revision = params.get("RevisionId")
        if revision is not None and revision != current.revision_id:
            raise PreconditionFailed(_STALE)
        version = current.version
        if params.get("FunctionVersion") is not None:
            version = await self._version_exists(tenant_id, name, params["FunctionVersion"])
        weights = current.weights
        if params.get("RoutingConfig") is not None:
            weights = _weights(params["RoutingConfig"])
            for other, _ in weights:
                await self._version_exists(tenant_id, name, other)
        description = params.get("Description", current.description)
        if not isinstance(description, str) or len(description) > 256:
            raise InvalidParameterValue("Description must be at most 256 characters")
        changed = Alias(alias_name, version, description, str(uuid.uuid4()), weights)

        def update(record: FunctionRecord) -> FunctionRecord:
            found = record.alias(alias_name)
            if found is None or found.revision_id != current.revision_id:
                raise PreconditionFailed(_STALE)
            kept = tuple(changed if a.name == alias_name else a for a in record.aliases)
            return record.replaced(aliases=kept)

        await self._change(tenant_id, name, update)
        return changed

    async def delete_alias(self, tenant_id: str, name: str, alias_name: str) -> None:
        await self.alias(tenant_id, name, alias_name)

        def remove(record: FunctionRecord) -> FunctionRecord:
            return record.replaced(
                aliases=tuple(a for a in record.aliases if a.name != alias_name),
                policies=tuple(p for p in record.policies if p[0] != alias_name),
            )

        await self._change(tenant_id, name, remove)

    async def aliases(
        self, tenant_id: str, name: str, version: object, marker: object, max_items: object
    ) -> tuple[list[Alias], str | None]:
        record = await self._functions.record(tenant_id, name)
        after = after_token(marker)
        size = page_size(max_items)
        found = sorted(
            (
                a
                for a in record.aliases
                if (version is None or a.version == version) and (after is None or a.name > after)
            ),
            key=lambda a: a.name,
        )
        page = found[:size]
        return page, page_token(page[-1].name) if len(found) > size else None

    # -- resource policies -----------------------------------------------------------------

    async def _qualifier(self, tenant_id: str, name: str, qualifier: str | None) -> str:
        if qualifier is None:
            return ""
        if qualifier == LATEST:
            raise InvalidParameterValue("We currently do not support adding policies for $LATEST.")
        await self._functions.resolve(tenant_id, name, qualifier)
        return qualifier

    async def add_permission(
        self,
        tenant_id: str,
        name: str,
        qualifier: str | None,
        params: dict[str, Any],
        checked: Callable[[str], None] = lambda policy: None,
    ) -> str:
        """The statement added, as JSON (AddPermission's answer); ``checked`` refuses a
        policy the IAM engine could not evaluate."""
        permission = Permission.of(params)
        kept_under = await self._qualifier(tenant_id, name, qualifier)
        resource = self._functions.arn(tenant_id, name, qualifier)
        statement = permission.statement(resource)
        limit = self._functions.limits.max_policy_bytes
        revision = params.get("RevisionId")
        if revision is not None:
            _, latest = await self._functions.resolve(tenant_id, name, None)
            if revision != latest.revision_id:
                raise PreconditionFailed(_STALE)

        def add(record: FunctionRecord) -> FunctionRecord:
            policy = with_statement(record.policy(kept_under), statement, limit)
            checked(policy)
            others = tuple(p for p in record.policies if p[0] != kept_under)
            return record.replaced(policies=(*others, (kept_under, policy)))

        await self._change(tenant_id, name, add)
        return json.dumps(statement, separators=(",", ":"))

    async def remove_permission(
        self, tenant_id: str, name: str, qualifier: str | None, statement_id: str
    ) -> None:
        kept_under = await self._qualifier(tenant_id, name, qualifier)

        def remove(record: FunctionRecord) -> FunctionRecord:
            policy = without_statement(record.policy(kept_under), statement_id)
            others = tuple(p for p in record.policies if p[0] != kept_under)
            return record.replaced(
                policies=others if policy is None else (*others, (kept_under, policy))
            )

        await self._change(tenant_id, name, remove)

    async def policy(self, tenant_id: str, name: str, qualifier: str | None) -> str:
        kept_under = await self._qualifier(tenant_id, name, qualifier)
        found = (await self._functions.record(tenant_id, name)).policy(kept_under)
        if found is None:
            raise ResourceNotFound("The resource you requested does not exist.")
        return found

    # -- tags and concurrency --------------------------------------------------------------

    async def tag(self, tenant_id: str, name: str, tags: object) -> None:
        added = dict(self._functions.checked_tags(tags))

        def merge(record: FunctionRecord) -> FunctionRecord:
            merged = dict(record.tags) | added
            return record.replaced(tags=self._functions.checked_tags(merged))

        await self._change(tenant_id, name, merge)

    async def untag(self, tenant_id: str, name: str, keys: list[str]) -> None:
        def remove(record: FunctionRecord) -> FunctionRecord:
            return record.replaced(tags=tuple(t for t in record.tags if t[0] not in keys))

        await self._change(tenant_id, name, remove)

    async def put_concurrency(self, tenant_id: str, name: str, reserved: object) -> int:
        if isinstance(reserved, bool) or not isinstance(reserved, int) or reserved < 0:
            raise InvalidParameterValue("ReservedConcurrentExecutions must be 0 or more")
        limit = self._functions.limits.concurrency_limit
        others = sum(
            r.reserved_concurrency or 0
            for r in await self._functions.store.records(tenant_id)
            if r.name != name
        )
        if limit - others - reserved < UNRESERVED_MINIMUM:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]."
            )
        await self._change(
            tenant_id, name, lambda record: record.replaced(reserved_concurrency=reserved)
        )
        return reserved

    async def delete_concurrency(self, tenant_id: str, name: str) -> None:
        await self._change(
            tenant_id, name, lambda record: record.replaced(reserved_concurrency=None)
        )

    async def put_recursion(self, tenant_id: str, name: str, loop: object) -> str:
        """PutFunctionRecursionConfig: ``Allow`` or ``Terminate`` (decision 0328)."""
        if not isinstance(loop, str) or loop not in RECURSIVE_LOOPS:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{str(loop)[:32]}' at 'recursiveLoop' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(RECURSIVE_LOOPS)}]"
            )
        await self._change(tenant_id, name, lambda record: record.replaced(recursive_loop=loop))
        return loop
