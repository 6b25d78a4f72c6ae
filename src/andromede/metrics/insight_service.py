"""Contributor Insights (decision 0272), the service: the rules of each account — put,
described in pages, deleted, enabled and disabled with AWS's per-rule ``Failures``, tagged —
the log events fed to them as CloudWatch Logs accepts them, tallied per rule and minute and
stored sealed every flush, and GetInsightRuleReport over the stored minutes.

**The hot path.** :meth:`InsightRuleService.observe` is called for every PutLogEvents batch.
It reads the account's enabled rules from a cache kept ``cache_ms`` (a rule put through
another gateway applies here within that time), indexed by the exact log group names they
name and by their wildcard prefixes, so a group no rule covers costs one dictionary lookup;
matched events are added to the gateway's tally in memory, written at the next
:meth:`flush`. A report flushes this gateway's tally first, so what it was just fed shows.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from andromede.metrics.errors import (
    InvalidNextToken,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
)
from andromede.metrics.insight_minutes import (
    METRICS,
    ContributionTally,
    Minute,
    Report,
    merge,
    report,
)
from andromede.metrics.insight_rules import (
    DISABLED,
    ENABLED,
    InsightRule,
    check_rule_name,
    compile_definition,
    group_index,
    insight_rule_arn,
)
from andromede.metrics.insight_store import ContributionSealer, InsightRuleStore, StoredMinute

__all__ = ["Failure", "InsightLimits", "InsightRuleService"]

_MAX_TAGS: Final = 50
_CACHED_ACCOUNTS: Final = 10_000  # accounts whose rules a gateway keeps at most
_ORDER_BY: Final = ("Sum", "Maximum")
_DEFAULT_CONTRIBUTORS: Final = 10  # MaxContributorCount's default, as AWS's


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class InsightLimits:
    max_per_account: int = 100
    max_contributors: int = 500  # kept per rule and minute
    list_page: int = 500
    cache_ms: int = 5_000
    report_max_datapoints: int = 1440
    retention_days: int = 15
    max_report_contributors: int = 100


@dataclass(frozen=True, slots=True)
class Failure:
    """One name of a batch call that failed: AWS's ``PartialFailure``."""

    resource: str
    exception_type: str
    code: str
    description: str


_Index = tuple[dict[str, list[InsightRule]], list[tuple[str, InsightRule]]]


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(token: str | None) -> str:
    if token is None:
        return ""
    try:
        return check_rule_name(base64.urlsafe_b64decode(token.encode()).decode())
    except (binascii.Error, UnicodeError, ValueError, InvalidParameterValue) as exc:
        raise InvalidNextToken("The NextToken is not valid.") from exc


def _tags(given: Any) -> tuple[tuple[str, str], ...]:
    if given is None:
        return ()
    if not isinstance(given, list) or len(given) > _MAX_TAGS:
        raise InvalidParameterValue(f"A rule may have at most {_MAX_TAGS} tags.")
    tags: dict[str, str] = {}
    for item in given:
        key, value = item.get("Key"), item.get("Value")
        if not isinstance(key, str) or not isinstance(value, str):
            raise MissingParameter("Each tag must have a Key and a Value.")
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.startswith("aws:"):
            raise InvalidParameterValue(
                "A tag key must be 1 to 128 characters, not starting with aws:, and a value "
                "at most 256."
            )
        tags[key] = value
    return tuple(tags.items())


def _names(names: Any) -> list[str]:
    if not names:
        raise MissingParameter("The parameter RuleNames is required.")
    if not isinstance(names, list):
        raise InvalidParameterValue("RuleNames must be a list of rule names.")
    return list(dict.fromkeys(check_rule_name(n) for n in names))


def _not_found(name: str) -> Failure:
    return Failure(
        name, "ResourceNotFoundException", "ResourceNotFound", f"Rule {name} does not exist."
    )


def _managed(rule: InsightRule) -> Failure:
    return Failure(
        rule.name,
        "AccessDeniedException",
        "AccessDenied",
        f"Rule {rule.name} is managed by {rule.managed_by}: turn its Contributor Insights "
        "off there.",
    )


class InsightRuleService:
    """The Contributor Insights rules of each account, and what they saw."""

    def __init__(
        self,
        store: InsightRuleStore,
        sealer: ContributionSealer,
        region: str,
        limits: InsightLimits | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store
        self._sealer = sealer
        self.region = region
        self.limits = limits or InsightLimits()
        self._clock = clock
        self.tally = ContributionTally(self.limits.max_contributors)
        self._index: dict[str, tuple[int, _Index]] = {}
        # Told each flush how many events matched each account's rules (billing).
        self.matched: Callable[[str, int], None] | None = None

    def arn(self, tenant_id: str, name: str) -> str:
        return insight_rule_arn(self.region, tenant_id, name)

    # Rules.

    async def put(
        self,
        tenant_id: str,
        name: Any,
        state: Any,
        definition: Any,
        tags: Any,
        transformed_logs: Any,
    ) -> None:
        name = check_rule_name(name)
        state = ENABLED if state is None else state
        if state not in (ENABLED, DISABLED):
            raise InvalidParameterValue("The value for parameter RuleState must be ENABLED or "
                                        "DISABLED.")  # fmt: skip
        compile_definition(definition, tenant_id)
        held = await self.store.get(tenant_id, name)
        if held is not None and held.managed_by:
            raise InvalidParameterValue(
                f"The rule {name} is managed by {held.managed_by} and cannot be changed."
            )
        rule = InsightRule(
            tenant_id=tenant_id,
            name=name,
            state=state,
            definition=definition,
            apply_on_transformed_logs=bool(transformed_logs),
            created=held.created if held else datetime.now(UTC),
            # As AWS: an update's Tags are ignored; TagResource changes them.
            tags=held.tags if held else _tags(tags),
        )
        if not await self.store.put(rule, self.limits.max_per_account):
            raise LimitExceeded(
                f"The account holds {self.limits.max_per_account} Contributor Insights rules, "
                "its quota."
            )
        self._index.pop(tenant_id, None)

    async def get(self, tenant_id: str, name: Any) -> InsightRule:
        found = await self.store.get(tenant_id, check_rule_name(name))
        if found is None:
            raise ResourceNotFound(f"Rule {name} does not exist.")
        return found

    async def describe(
        self, tenant_id: str, max_results: int | None, token: str | None
    ) -> tuple[list[InsightRule], str | None]:
        limit = self.limits.list_page if max_results is None else max_results
        if not 1 <= limit <= self.limits.list_page:
            raise InvalidParameterValue(
                f"MaxResults must be between 1 and {self.limits.list_page}."
            )
        found = await self.store.page(tenant_id, _after(token), limit + 1)
        if len(found) > limit:
            return found[:limit], _token(found[limit - 1].name)
        return found, None

    async def delete(self, tenant_id: str, names: Any) -> list[Failure]:
        failures = []
        for name in _names(names):
            held = await self.store.get(tenant_id, name)
            if held is not None and held.managed_by:
                failures.append(_managed(held))  # its service's to remove (decision 0278)
            elif held is None or not await self.store.delete(tenant_id, name):
                failures.append(_not_found(name))
        self._index.pop(tenant_id, None)
        return failures

    async def set_state(self, tenant_id: str, names: Any, state: str) -> list[Failure]:
        failures = []
        for name in _names(names):
            held = await self.store.get(tenant_id, name)
            if held is not None and held.managed_by:
                failures.append(_managed(held))
            elif held is None or not await self.store.set_state(tenant_id, name, state):
                failures.append(_not_found(name))
        self._index.pop(tenant_id, None)
        return failures

    async def retag(
        self, tenant_id: str, name: str, add: Sequence[tuple[str, str]], remove: Sequence[str]
    ) -> tuple[tuple[str, str], ...]:
        """The rule's tags after adding ``add`` and removing ``remove``."""
        rule = await self.get(tenant_id, name)
        if not add and not remove:
            return rule.tags
        tags = dict(rule.tags)
        for key in remove:
            tags.pop(key, None)
        tags.update(_tags([{"Key": k, "Value": v} for k, v in add]))
        if len(tags) > _MAX_TAGS:
            raise InvalidParameterValue(f"A rule may have at most {_MAX_TAGS} tags.")
        if not await self.store.set_tags(tenant_id, name, tuple(tags.items())):
            raise ResourceNotFound(f"Rule {name} does not exist.")
        return tuple(tags.items())

    # Events.

    async def _rules_index(self, tenant_id: str) -> _Index:
        now = self._clock()
        cached = self._index.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        rules = []
        for rule in await self.store.enabled(tenant_id):
            if rule.managed_by:
                continue  # fed by its service (:meth:`contribute`), never by log events
            try:
                compiled = compile_definition(rule.definition, tenant_id)
            except (InvalidParameterValue, MissingParameter):
                continue  # stored by an older release that read it otherwise: skipped
            rules.append(replace(rule, compiled=compiled))
        index = group_index(rules)
        if len(self._index) >= _CACHED_ACCOUNTS:
            self._index.clear()
        self._index[tenant_id] = (now + self.limits.cache_ms, index)
        return index

    async def observe(self, tenant_id: str, group: str, events: Sequence[tuple[int, str]]) -> None:
        """Feed (timestamp ms, message) events accepted into ``group`` to the account's
        enabled rules that cover it."""
        exact, prefixes = await self._rules_index(tenant_id)
        rules = {r.name: r for r in exact.get(group, ())}
        for prefix, rule in prefixes:
            if group.startswith(prefix):
                rules.setdefault(rule.name, rule)
        if not rules:
            return
        compiled = [(name, rule.rule()) for name, rule in rules.items()]
        for timestamp, message in events:
            documents: dict[str, Any] = {}  # each event parsed once per format, not per rule
            for name, one in compiled:
                if one.log_format not in documents:
                    documents[one.log_format] = one.parse(message)
                found = one.read(documents[one.log_format])
                if found is not None:
                    self.tally.add(tenant_id, name, timestamp, *found)

    async def flush(self) -> int:
        """Store the tallied minutes, each sealed; how many parts were written."""
        minutes, matched = self.tally.drain()
        if not minutes:
            return 0
        by_tenant: dict[str, list[tuple[str, int, Minute]]] = {}
        for (tenant_id, rule, number), minute in minutes.items():
            by_tenant.setdefault(tenant_id, []).append((rule, number, minute))
        parts = []
        try:
            for tenant_id, held in by_tenant.items():
                ids = [uuid.uuid4().hex for _ in held]
                sealed = await self._sealer.seal(
                    tenant_id,
                    [
                        (m.encode(), StoredMinute(tenant_id, r, n, i, b"").context())
                        for (r, n, m), i in zip(held, ids, strict=True)
                    ],
                )
                parts += [
                    StoredMinute(tenant_id, r, n, i, box)
                    for (r, n, _), i, box in zip(held, ids, sealed, strict=True)
                ]
            await self.store.add_minutes(parts)
        except BaseException:
            self.tally.restore(minutes)  # kept for the next flush
            for tenant_id, count in matched.items():
                self.tally.matched[tenant_id] = self.tally.matched.get(tenant_id, 0) + count
            raise
        if self.matched is not None:
            for tenant_id, count in matched.items():
                self.matched(tenant_id, count)
        return len(parts)

    async def expire(self) -> int:
        """Forget the minutes older than the retention."""
        before = self._clock() // 60_000 - self.limits.retention_days * 1440
        return await self.store.expire(before)

    # Managed rules (decision 0278): made, fed and removed by another service.

    async def put_managed(
        self, tenant_id: str, managed_by: str, rules: Sequence[tuple[str, str]]
    ) -> bool:
        """The (name, definition) rules made, enabled, for the resource ``managed_by``; False,
        none kept, when they would pass the account's quota (managed rules count in it, as
        AWS's)."""
        made: list[str] = []
        for name, definition in rules:
            rule = InsightRule(
                tenant_id=tenant_id,
                name=check_rule_name(name),
                state=ENABLED,
                definition=definition,
                apply_on_transformed_logs=False,
                created=datetime.now(UTC),
                managed_by=managed_by,
            )
            if not await self.store.put(rule, self.limits.max_per_account):
                for done in made:
                    await self.store.delete(tenant_id, done)
                return False
            made.append(rule.name)
        return True

    async def managed(self, tenant_id: str) -> list[InsightRule]:
        """The account's managed rules."""
        return [r for r in await self.store.enabled(tenant_id) if r.managed_by]

    async def delete_managed(self, tenant_id: str, names: Sequence[str]) -> None:
        for name in names:
            held = await self.store.get(tenant_id, name)
            if held is not None and held.managed_by:
                await self.store.delete(tenant_id, name)

    def contribute(self, tenant_id: str, rule: str, at_ms: int, keys: tuple[str, ...]) -> None:
        """One event of a managed rule, counted into this gateway's tally (the rule's
        service read it from its own calls: no log event is written)."""
        self.tally.add(tenant_id, rule, at_ms, keys, 1.0)

    # Reports.

    async def report(self, tenant_id: str, params: Mapping[str, Any]) -> tuple[InsightRule, Report]:
        """GetInsightRuleReport's answer for the rule ``params`` names."""
        name = check_rule_name(params.get("RuleName"))
        start, end, period = (params.get(k) for k in ("StartTime", "EndTime", "Period"))
        for member, value in (("StartTime", start), ("EndTime", end), ("Period", period)):
            if value is None:
                raise MissingParameter(f"The parameter {member} is required.")
        if not isinstance(start, datetime) or not isinstance(end, datetime) or end <= start:
            raise InvalidParameterValue("The parameter EndTime must be later than StartTime.")
        if not isinstance(period, int) or period < 60 or period % 60:
            raise InvalidParameterValue("The parameter Period must be a multiple of 60.")
        first = math.floor(start.timestamp() / 60)
        last = math.ceil(end.timestamp() / 60)
        step = period // 60
        if math.ceil((last - first) / step) > self.limits.report_max_datapoints:
            raise InvalidParameterValue(
                f"The report would hold more than {self.limits.report_max_datapoints} "
                "datapoints: widen the Period or narrow the time range."
            )
        count = params.get("MaxContributorCount", _DEFAULT_CONTRIBUTORS)
        if not isinstance(count, int) or not 1 <= count <= self.limits.max_report_contributors:
            raise InvalidParameterValue(
                "The parameter MaxContributorCount must be between 1 and "
                f"{self.limits.max_report_contributors}."
            )
        metrics = list(dict.fromkeys(params.get("Metrics") or []))
        for metric in metrics:
            if metric not in METRICS:
                raise InvalidParameterValue(
                    f"The metric {str(metric)[:64]} is not one of {', '.join(METRICS)}."
                )
        order_by = params.get("OrderBy", "Sum")
        if order_by not in _ORDER_BY:
            raise InvalidParameterValue("The parameter OrderBy must be Sum or Maximum.")
        rule = await self.get(tenant_id, name)
        whole = await self._minutes(tenant_id, name, first, last)
        keep = self.limits.max_contributors
        return rule, report(whole, first, last, step, metrics, count, order_by, keep)

    async def rule_metric(
        self, tenant_id: str, rule: str, metric: str, low: int, high: int, period: int
    ) -> dict[int, float]:
        """``INSIGHT_RULE_METRIC(rule, metric)`` of metric math: the rule's metric in each
        period of [low, high) (seconds) that has data (metric names in any case)."""
        names = {m.upper(): m for m in METRICS}
        if metric.upper() not in names:
            raise InvalidParameterValue(
                f"INSIGHT_RULE_METRIC's metric must be one of {', '.join(METRICS)}."
            )
        if period % 60:
            raise InvalidParameterValue("INSIGHT_RULE_METRIC needs a period of whole minutes.")
        if await self.store.get(tenant_id, rule) is None:
            raise InvalidParameterValue(f"INSIGHT_RULE_METRIC: the rule {rule[:128]} does not "
                                        "exist.")  # fmt: skip
        name = names[metric.upper()]
        whole = await self._minutes(tenant_id, rule, low // 60, -(-high // 60))
        found = report(whole, low // 60, -(-high // 60), period // 60, [name], 1, "Sum",
                       self.limits.max_contributors)  # fmt: skip
        return {at // 1000: values[name] for at, values in found.datapoints}

    async def _minutes(self, tenant_id: str, rule: str, first: int, last: int) -> dict[int, Minute]:
        """The rule's minutes [first, last), this gateway's tally written first."""
        await self.flush()
        stored = await self.store.minutes(tenant_id, rule, first, last)
        opened = await self._sealer.open(tenant_id, [(p.sealed, p.context()) for p in stored])
        parts: dict[int, list[Minute]] = {}
        for part, raw in zip(stored, opened, strict=True):
            parts.setdefault(part.minute, []).append(Minute.decode(raw))
        keep = self.limits.max_contributors
        return {number: merge(held, keep) for number, held in parts.items()}

    async def forget_tenant(self, tenant_id: str) -> int:
        self._index.pop(tenant_id, None)
        return await self.store.forget_tenant(tenant_id)
