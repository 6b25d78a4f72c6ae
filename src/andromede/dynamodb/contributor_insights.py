"""DynamoDB's CloudWatch Contributor Insights (decision 0278): turning it on or off for a
table or a global secondary index, what DescribeContributorInsights and
ListContributorInsights tell, and the keys of the item calls counted into the rules.

Turning it on makes AWS's managed CloudWatch insight rules, on the account's behalf:
``DynamoDBContributorInsights-PKC-<resource>-<ms>`` (most accessed partition keys) and
``-PKT-`` (most throttled partition keys), and with a sort key ``-SKC-`` and ``-SKT-`` (the
partition and sort keys); in ``THROTTLED_KEYS`` mode only the ``T`` rules. The rules are
CloudWatch's (``ManagedRules``, a port the wiring gives over the metrics package): they
answer DescribeInsightRules and GetInsightRuleReport as the account's own do, and count in
its quota. The state is the rules themselves: a resource with rules is ``ENABLED``, its mode
the kinds of rule it has, its last update their creation.

**The hot path.** :meth:`ContributorInsights.accessed` is told the key of each item read or
written, and of each call refused for want of capacity (decision 0267); it reads the
account's managed rules from a cache kept ``cache_ms``, so a table without Contributor
Insights costs one dictionary lookup. What matches is handed to the rules' per-minute tally
in memory (``ManagedRules.contribute``): no log event, no database write per call.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from andromede.dynamodb.errors import LimitExceeded
from andromede.dynamodb.model import Table, table_arn

__all__ = [
    "ACCESSED_AND_THROTTLED",
    "MODES",
    "THROTTLED",
    "ContributorInsights",
    "InsightsStatus",
    "ManagedRule",
    "ManagedRules",
    "key_text",
    "rule_names",
]

log = logging.getLogger(__name__)

ACCESSED_AND_THROTTLED: Final = "ACCESSED_AND_THROTTLED_KEYS"
THROTTLED: Final = "THROTTLED_KEYS"
MODES: Final = (ACCESSED_AND_THROTTLED, THROTTLED)
_PREFIX: Final = "DynamoDBContributorInsights-"
_NAME_MAX: Final = 128  # a CloudWatch rule name's
_CACHED_ACCOUNTS: Final = 10_000
# The kinds of rule: (partition key only, throttled calls only).
_KINDS: Final = {"PKC": (True, False), "PKT": (True, True), "SKC": (False, False),
                 "SKT": (False, True)}  # fmt: skip


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class ManagedRule:
    name: str
    resource: str  # the ARN of the table or index it is for
    created_ms: int


class ManagedRules(Protocol):
    """CloudWatch's managed insight rules, as DynamoDB needs them."""

    async def put(self, tenant_id: str, resource: str, rules: Sequence[tuple[str, str]]) -> bool:
        """The (name, definition) rules made for ``resource``; False, none made, past the
        account's quota of rules."""
        ...

    async def rules(self, tenant_id: str) -> list[ManagedRule]: ...

    async def remove(self, tenant_id: str, names: Sequence[str]) -> None: ...

    def contribute(self, tenant_id: str, rule: str, at_ms: int, keys: tuple[str, ...]) -> None:
        """One event of ``rule`` at ``at_ms`` whose contributor is ``keys``."""
        ...


@dataclass(frozen=True, slots=True)
class InsightsStatus:
    """DescribeContributorInsights' answer for a table or index."""

    table: str
    index: str | None
    status: str  # ENABLED or DISABLED: the rules are made or removed within the call
    mode: str | None
    rules: tuple[str, ...]
    updated_ms: int | None


def resource_arn(table: Table, index: str | None) -> str:
    arn = table_arn(table.region, table.tenant_id, table.name)
    return arn if index is None else f"{arn}/index/{index}"


def _kind(name: str) -> str:
    return name[len(_PREFIX) : len(_PREFIX) + 3]


def rule_names(resource: str, sort_key: bool, mode: str, now_ms: int) -> list[str]:
    """The rules' names, AWS's format, the resource's name shortened to fit a rule name's
    128 characters."""
    kinds = [k for k in _KINDS if sort_key or k.startswith("PK")]
    if mode == THROTTLED:
        kinds = [k for k in kinds if _KINDS[k][1]]
    room = _NAME_MAX - len(_PREFIX) - len("PKC--") - len(str(now_ms))
    return [f"{_PREFIX}{kind}-{resource[:room]}-{now_ms}" for kind in kinds]


def _definition(name: str, resource: str) -> str:
    """A rule's definition in CloudWatch's syntax: the keys it counts, by the resource it is
    for (fed by DynamoDB, not by a log group: the resource's ARN stands in the group's
    place, where no log group can be named so)."""
    keys = ["$.PartitionKey"] if _KINDS[_kind(name)][0] else ["$.PartitionKey", "$.SortKey"]
    return json.dumps(
        {
            "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
            "LogGroupNames": [resource],
            "LogFormat": "JSON",
            "Contribution": {"Keys": keys},
            "AggregateOn": "Count",
        },
        separators=(",", ":"),
    )


def key_text(value: Mapping[str, Any]) -> str:
    """A key attribute's value as a contributor: its string, number or base64 text."""
    for held in value.values():
        return str(held)
    return ""


_Watched = dict[tuple[str, str | None], list[tuple[str, bool, bool]]]


class ContributorInsights:
    """Contributor Insights for each account's tables and indexes."""

    def __init__(
        self, rules: ManagedRules, cache_ms: int = 5_000, clock: Callable[[], int] = _now_ms
    ) -> None:
        self._rules = rules
        self._cache_ms = cache_ms
        self._clock = clock
        self._watched: dict[str, tuple[int, _Watched]] = {}

    async def _of(self, table: Table, index: str | None) -> list[ManagedRule]:
        arn = resource_arn(table, index)
        return [r for r in await self._rules.rules(table.tenant_id) if r.resource == arn]

    async def enable(self, table: Table, index: str | None, mode: str) -> None:
        """The resource's rules made for ``mode`` (those of another mode replaced);
        :class:`LimitExceeded` past the account's quota of insight rules."""
        held = await self._of(table, index)
        if held and _mode(held) == mode:
            return
        sort_key = table.sort_key is not None
        if index is not None:
            found = next((i for i in table.indexes if i.name == index), None)
            sort_key = found is not None and found.sort_key is not None
        resource = table.name if index is None else f"{table.name}-{index}"
        names = rule_names(resource, sort_key, mode, self._clock())
        arn = resource_arn(table, index)
        if held:
            await self._rules.remove(table.tenant_id, [r.name for r in held])
        made = await self._rules.put(
            table.tenant_id, arn, [(n, _definition(n, arn)) for n in names]
        )
        self._watched.pop(table.tenant_id, None)
        if not made:
            raise LimitExceeded(
                "Per-account Amazon CloudWatch Contributor Insights rule limit reached. "
                "Please disable Contributor Insights for other tables/indexes OR disable "
                "Contributor Insights rules before retrying."
            )

    async def disable(self, table: Table, index: str | None) -> None:
        held = await self._of(table, index)
        if held:
            await self._rules.remove(table.tenant_id, [r.name for r in held])
        self._watched.pop(table.tenant_id, None)

    async def describe(self, table: Table, index: str | None) -> InsightsStatus:
        return _status(table.name, index, await self._of(table, index))

    async def statuses(self, tenant_id: str, table: str | None) -> list[InsightsStatus]:
        """The account's tables and indexes with Contributor Insights on (those of
        ``table`` alone when named), by table then index."""
        found: dict[tuple[str, str | None], list[ManagedRule]] = {}
        for rule in await self._rules.rules(tenant_id):
            named = _names(rule.resource)
            if named is not None and (table is None or named[0] == table):
                found.setdefault(named, []).append(rule)
        ordered = sorted(found, key=lambda k: (k[0], k[1] or ""))
        return [_status(name, index, found[name, index]) for name, index in ordered]

    async def forget(self, table: Table, index: str | None = None) -> None:
        """A deleted table's rules (its indexes' too), or a deleted index's, removed. The
        table is gone already: a failure here is logged, not the deletion's (the rules stay
        listed, their resource gone, until the account disables them or is closed)."""
        arn = resource_arn(table, index)
        self._watched.pop(table.tenant_id, None)
        try:
            gone = [
                r.name
                for r in await self._rules.rules(table.tenant_id)
                if r.resource == arn or (index is None and r.resource.startswith(f"{arn}/index/"))
            ]
            if gone:
                await self._rules.remove(table.tenant_id, gone)
        except Exception:  # logged: the table's deletion stands
            log.warning("the Contributor Insights rules of %s were not removed", arn,
                        exc_info=True)  # fmt: skip

    async def _watching(self, tenant_id: str) -> _Watched:
        now = self._clock()
        cached = self._watched.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        watched: _Watched = {}
        for rule in await self._rules.rules(tenant_id):
            named = _names(rule.resource)
            kind = _KINDS.get(_kind(rule.name))
            if named is not None and kind is not None:
                watched.setdefault(named, []).append((rule.name, *kind))
        if len(self._watched) >= _CACHED_ACCOUNTS:
            self._watched.clear()
        self._watched[tenant_id] = (now + self._cache_ms, watched)
        return watched

    async def accessed(
        self, table: Table, index: str | None, keys: Sequence[str], throttled: bool
    ) -> None:
        """A call read or wrote the item at ``keys`` (its partition key, and its sort key
        when known), or was refused for want of capacity (``throttled``)."""
        watched = await self._watching(table.tenant_id)
        rules = watched.get((table.name, index))
        if not rules:
            return
        now = self._clock()
        for name, partition_only, throttled_only in rules:
            if throttled_only and not throttled:
                continue
            if partition_only:
                self._rules.contribute(table.tenant_id, name, now, (keys[0],))
            elif len(keys) > 1:
                self._rules.contribute(table.tenant_id, name, now, (keys[0], keys[1]))


def _mode(rules: Sequence[ManagedRule]) -> str:
    accessed = any(not _KINDS.get(_kind(r.name), (True, True))[1] for r in rules)
    return ACCESSED_AND_THROTTLED if accessed else THROTTLED


def _names(resource: str) -> tuple[str, str | None] | None:
    """(table, index) of a resource's ARN."""
    _, found, rest = resource.partition(":table/")
    if not found:
        return None
    table, _, index = rest.partition("/index/")
    return table, index or None


def _status(table: str, index: str | None, rules: Sequence[ManagedRule]) -> InsightsStatus:
    if not rules:
        return InsightsStatus(table, index, "DISABLED", None, (), None)
    return InsightsStatus(
        table,
        index,
        "ENABLED",
        _mode(rules),
        tuple(sorted(r.name for r in rules)),
        max(r.created_ms for r in rules),
    )
