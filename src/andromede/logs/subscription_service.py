"""CloudWatch Logs subscription filters' service (decision 0225): PutSubscriptionFilter,
DescribeSubscriptionFilters and DeleteSubscriptionFilter; the matching of every accepted
event at PutLogEvents (masked when the group has a data protection policy: what every
reader sees); and the outbox that carries the matches to their destinations.

**Never waiting on the destination.** PutLogEvents only puts the records into the outbox (a
table, each record sealed under the account's key ring), bounded per account by
``max_outbox_bytes``. Every gateway runs :meth:`Subscriptions.run_forever`: it claims due
records under a lease (a gateway that stops leaves them to another once the lease ran out),
hands each to the destination port as the filter's role, removes it when taken, else
retries it every ``retry_interval_ms`` — up to AWS's 24 hours (``retry_duration_ms``),
after which it is given up with a WARNING and the ``dropped`` callback (the wiring's audit
record). Matches that do not fit the outbox are given up the same way, never silently.
A record may be delivered twice (a gateway stopping between the put and the removal): AWS's
own guarantee is at least once too.

**The account's policy** (decision 0232): a ``SUBSCRIPTION_FILTER_POLICY`` (PutAccountPolicy;
one an account, as AWS) is one more filter of every Standard group of the account but those
its selection criteria leave out, besides the group's own filters (AWS counts it apart: a
group has up to 2 filters of its own and 1 of the account's); it is kept among the account's
policies (``LogStore``) and is not one of the group's filters (DescribeSubscriptionFilters
does not list it, as AWS's does not). Its records name the policy in
``subscriptionFilters``; it is put, like a filter, only once its destination took the test
record.

**Into a Lambda function** (decision 0304): each record is an Event invocation by
``logs.amazonaws.com`` for the group (``aws:SourceArn`` the group's ARN with AWS's ``:*``,
``aws:SourceAccount`` its account), allowed by the function's resource-based policy alone,
checked at each delivery (a permission removed: retried, then given up as a refused role's
records are). AWS delivers no test record to a function: it checks that Logs may invoke it
(a dry run) before it keeps the filter or the account's policy, and refuses in its own words.

Filters are read from a cache kept ``cache_ms`` per group, as the metric filters are, and the
account's policy ``cache_ms`` per account."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.logs.account_policies import (
    SUBSCRIPTION_FILTER,
    AccountPolicy,
    check_account_policy,
)
from andromede.logs.account_subscriptions import (
    AccountSubscription,
    account_subscription,
    kept_subscription,
)
from andromede.logs.errors import InvalidParameter, LimitExceeded, ResourceNotFound
from andromede.logs.filter import FilterPattern, compile_pattern
from andromede.logs.log_classes import STANDARD, refuse_unless_standard
from andromede.logs.metric_filters import check_filter_name
from andromede.logs.model import InputEvent, LogGroup
from andromede.logs.sealing import LogSealer
from andromede.logs.service import LogsService
from andromede.logs.subscriptions import (
    OutboxEntry,
    SubscriptionFilter,
    SubscriptionStore,
    control_message,
    data_messages,
    event_id,
    is_kinesis,
    is_lambda,
    max_record,
    partition_key,
    subscription_filter,
)
from andromede.wakeup import Doorbell, Pacer

__all__ = ["SubscriptionDestination", "SubscriptionLimits", "Subscriptions", "group_source_arn"]

log = logging.getLogger(__name__)

_PAGE = 50  # DescribeSubscriptionFilters' limit: default and ceiling
_CACHED_GROUPS = 10_000
_TEST_MESSAGE_FAILED = (
    "Could not deliver test message to specified Firehose stream. Check if the given Firehose "
    "stream is in ACTIVE state and the role can put records into it."
)
_KINESIS_TEST_MESSAGE_FAILED = (
    "Could not deliver test message to specified Kinesis stream. Check if the given kinesis "
    "stream is in ACTIVE state and the role can put records into it."
)


_LAMBDA_NOT_PERMITTED = (
    "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
    "permission to execute your function."
)


def _test_message_failed(destination_arn: str) -> InvalidParameter:
    if is_lambda(destination_arn):
        return InvalidParameter(_LAMBDA_NOT_PERMITTED)
    return InvalidParameter(
        _KINESIS_TEST_MESSAGE_FAILED if is_kinesis(destination_arn) else _TEST_MESSAGE_FAILED
    )


def group_source_arn(region: str, tenant_id: str, group: str) -> str:
    """What a delivery into a Lambda function is for (its ``aws:SourceArn``): the group's ARN
    as AWS presents it, ending in ``:*``; ``*`` for every group (an account's policy)."""
    suffix = "*" if group == "*" else f"{group}:*"
    return f"arn:aws:logs:{region}:{tenant_id}:log-group:{suffix}"


class SubscriptionDestination(Protocol):
    async def deliver(
        self,
        tenant_id: str,
        role_arn: str,
        destination_arn: str,
        records: Sequence[bytes],
        partition_key: str = "",
        *,
        source_arn: str = "",
    ) -> str | None:
        """The records put into the destination as the role (a Kinesis stream's under
        ``partition_key``), or a Lambda function invoked with each for ``source_arn``: None,
        or why they were not (no secret in it). No records: only whether the function would
        be invoked (AWS's dry run; the streams are tested with a CONTROL_MESSAGE)."""
        ...


@dataclass(frozen=True, slots=True)
class SubscriptionLimits:
    max_filters: int = 2  # AWS's quota a log group
    max_excluded: int = 50  # log groups an account policy's selection criteria leaves out
    max_outbox_bytes: int = 64 * 1024 * 1024
    cache_ms: int = 5_000
    batch: int = 100
    lease_ms: int = 60_000
    retry_interval_ms: int = 5_000
    retry_duration_ms: int = 86_400_000  # AWS retries for 24 hours
    poll_interval: float = 1.0
    idle_poll_max: float | None = None  # background_idle_poll_max (decision 0326)
    # A record into a Lambda function (decision 0304): its base64 envelope must fit an Event
    # invocation's 1 MB (the wiring derives it from lambda_max_event_payload_bytes).
    max_lambda_record: int = 786_414


_Compiled = tuple[SubscriptionFilter, FilterPattern]
_AccountCompiled = tuple[AccountSubscription, FilterPattern]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ring_group(tenant_id: str, group: str) -> LogGroup:
    """The records are sealed under the account's own key ring whatever the group's key."""
    return LogGroup(tenant_id, group, 0)


class Subscriptions:
    def __init__(
        self,
        logs: LogsService,
        store: SubscriptionStore,
        sealer: LogSealer,
        destination: SubscriptionDestination | None = None,
        limits: SubscriptionLimits | None = None,
        clock: Callable[[], int] = _now_ms,
        dropped: Callable[[OutboxEntry, str], None] | None = None,
        delivered: Callable[[OutboxEntry, bool], None] | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        self._logs = logs
        self.store = store
        self._sealer = sealer
        # None until the deployment's Firehose is wired: PutSubscriptionFilter refuses then.
        self.destination = destination
        self.limits = limits or SubscriptionLimits()
        self._clock = clock
        self._dropped = dropped
        # Each delivery attempt, taken or not: the wiring's AWS/Logs metrics.
        self._delivered = delivered
        self._cache: dict[tuple[str, str], tuple[int, list[_Compiled]]] = {}
        # Rung by a matching PutLogEvents and at a retry's time; idle, the passes back off
        # up to the ceiling (decision 0326). The wiring gives the database's bell.
        self.pacer = Pacer(self.limits.poll_interval, self.limits.idle_poll_max, doorbell)
        self._accounts: dict[str, tuple[int, _AccountCompiled | None]] = {}

    # The API.

    async def put(self, tenant_id: str, group_name: str, params: dict[str, object]) -> None:
        made = subscription_filter(
            tenant_id, self._logs.region, group_name, dict(params), self._clock()
        )
        refuse_unless_standard((await self._logs.group(tenant_id, group_name)).log_class)
        if self.destination is None:
            raise InvalidParameter(
                "Firehose is not served by this deployment: no subscription destination"
            )
        held = await self.store.list_filters(tenant_id, group_name, "", "", self.limits.max_filters)
        if len(held) >= self.limits.max_filters and made.name not in {f.name for f in held}:
            raise LimitExceeded("Resource limit exceeded.")  # before any test record is put
        # As AWS: a test record (the CONTROL_MESSAGE) is delivered before the filter is kept.
        why = await self._test(tenant_id, made.role_arn, made.destination_arn, group_name)
        if why is not None:
            log.info("a subscription filter's test message was refused: %s", why)
            raise _test_message_failed(made.destination_arn)
        await self.store.put_filter(made, self.limits.max_filters)
        self._cache.pop((tenant_id, group_name), None)

    async def _test(
        self, tenant_id: str, role_arn: str, destination_arn: str, group: str
    ) -> str | None:
        """As AWS: a test record (the CONTROL_MESSAGE) delivered before a filter is kept; a
        Lambda function's permission checked instead (``group`` ``*``: the account's)."""
        if self.destination is None:
            return "no subscription destination is served"
        source = group_source_arn(self._logs.region, tenant_id, group)
        if is_lambda(destination_arn):
            return await self.destination.deliver(
                tenant_id, role_arn, destination_arn, [], source_arn=source
            )
        record = control_message(self._clock(), destination_arn)
        key = partition_key(destination_arn, "Random", "")
        return await self.destination.deliver(
            tenant_id, role_arn, destination_arn, [record], key, source_arn=source
        )

    async def describe(
        self,
        tenant_id: str,
        group_name: str,
        prefix: str,
        limit: int | None,
        token: str | None,
    ) -> tuple[list[SubscriptionFilter], str | None]:
        refuse_unless_standard((await self._logs.group(tenant_id, group_name)).log_class)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _PAGE
        ):
            raise InvalidParameter(f"limit must be between 1 and {_PAGE}")
        size = limit or _PAGE
        after = ""
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (ValueError, UnicodeError):
                raise InvalidParameter("The specified nextToken is invalid.") from None
        found = await self.store.list_filters(tenant_id, group_name, prefix, after, size + 1)
        more = len(found) > size
        found = found[:size]
        if not more or not found:
            return found, None
        return found, base64.urlsafe_b64encode(found[-1].name.encode()).decode()

    async def delete(self, tenant_id: str, group_name: str, name: object) -> None:
        filter_name = check_filter_name(name)
        refuse_unless_standard((await self._logs.group(tenant_id, group_name)).log_class)
        if not await self.store.delete_filter(tenant_id, group_name, filter_name):
            raise ResourceNotFound("The specified subscription filter does not exist.")
        self._cache.pop((tenant_id, group_name), None)

    # The account's policy (PutAccountPolicy of SUBSCRIPTION_FILTER_POLICY).

    async def put_account_policy(
        self,
        tenant_id: str,
        name: object,
        document: str,
        scope: object,
        selection: str | None,
        *,
        dry_run: bool = False,
    ) -> AccountPolicy:
        """Make or replace the account's policy once its destination took the test record;
        ``dry_run``: checked, not kept and nothing delivered."""
        checked_name, checked_type, checked_scope = check_account_policy(
            name, SUBSCRIPTION_FILTER, scope
        )
        made = account_subscription(
            tenant_id,
            self._logs.region,
            checked_name,
            document,
            selection,
            self.limits.max_excluded,
        )
        if self.destination is None:
            raise InvalidParameter(
                "Firehose is not served by this deployment: no subscription destination"
            )
        held = await self._logs.store.list_account_policies(tenant_id, SUBSCRIPTION_FILTER)
        if any(p.name != checked_name for p in held):
            raise LimitExceeded(  # AWS: one account-level subscription filter policy a Region
                "An account can have only one account-level subscription filter policy; "
                f"delete {held[0].name} first."
            )
        policy = AccountPolicy(
            tenant_id,
            checked_type,
            checked_name,
            document,
            checked_scope,
            self._clock(),
            selection,
        )
        if dry_run:
            return policy
        why = await self._test(tenant_id, made.role_arn, made.destination_arn, "*")
        if why is not None:
            log.info("an account subscription policy's test message was refused: %s", why)
            raise _test_message_failed(made.destination_arn)
        await self._logs.store.put_account_policy(policy)
        self._accounts.pop(tenant_id, None)
        return policy

    async def delete_account_policy(self, tenant_id: str, name: object) -> None:
        if not isinstance(name, str) or not await self._logs.store.delete_account_policy(
            tenant_id, SUBSCRIPTION_FILTER, name
        ):
            raise ResourceNotFound("Policy with the specified name does not exist.")
        self._accounts.pop(tenant_id, None)

    async def _account_policy(self, tenant_id: str) -> _AccountCompiled | None:
        now = self._clock()
        cached = self._accounts.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        held = await self._logs.store.list_account_policies(tenant_id, SUBSCRIPTION_FILTER)
        made = kept_subscription(held[0], self._logs.region) if held else None
        found = None if made is None else (made, compile_pattern(made.pattern))
        if len(self._accounts) >= _CACHED_GROUPS:
            self._accounts.clear()
        self._accounts[tenant_id] = (now + self.limits.cache_ms, found)
        return found

    # LogsService's subscriber: what PutLogEvents accepted, and a group's deletion.

    async def ingested(
        self, group: LogGroup, stream: str, events: Sequence[InputEvent], now: int
    ) -> None:
        """Each accepted (masked) event against the group's filters; the matches of each
        filter, one record a Firehose-sized batch, into the outbox."""
        filters = await self._filters(group.tenant_id, group.name)
        account = await self._account_policy(group.tenant_id)
        if account is not None and group.log_class == STANDARD:
            policy, compiled = account
            if policy.applies_to(group.name):
                filters = [*filters, (policy.as_filter(group.tenant_id, group.name), compiled)]
        if not filters:
            return
        base = now * 1000 + secrets.randbelow(1000)
        entries: list[OutboxEntry] = []
        for found, pattern in filters:
            matched = [
                (event_id(e.timestamp, base + index), e.timestamp, e.message)
                for index, e in enumerate(events)
                if pattern.matches(e.message)
            ]
            if not matched:
                continue
            messages = data_messages(
                group.tenant_id,
                group.name,
                stream,
                found.name,
                matched,
                max_record(found.destination_arn, self.limits.max_lambda_record),
            )
            for record, count in messages:
                entries.append(
                    OutboxEntry(
                        secrets.token_hex(16),
                        group.tenant_id,
                        group.name,
                        found.name,
                        found.destination_arn,
                        found.role_arn,
                        now,
                        len(record),
                        record,  # sealed below
                        count,
                        next_attempt=now,
                        partition_key=partition_key(
                            found.destination_arn, found.distribution, stream
                        ),
                    )
                )
        if not entries:
            return
        why = "the account's subscription outbox is full"
        try:
            sealed = await self._sealer.seal(
                _ring_group(group.tenant_id, group.name),
                [(e.sealed, e.context()) for e in entries],
            )
            boxed = [
                dataclasses.replace(e, sealed=box) for e, box in zip(entries, sealed, strict=True)
            ]
            taken = await self.store.enqueue(boxed, self.limits.max_outbox_bytes)
        except Exception as exc:  # the events are stored: the call must not fail for this
            log.exception("the subscription filters' outbox refused a batch")
            taken, why = False, f"the outbox refused it ({type(exc).__name__})"
        if not taken:
            for entry in entries:
                self._give_up(entry, why)
        else:
            self.pacer.doorbell.ring()  # the SQL store's commit rang already; memory's did not

    async def group_deleted(self, tenant_id: str, group_name: str) -> None:
        await self.store.delete_group(tenant_id, group_name)
        self._cache.pop((tenant_id, group_name), None)

    async def _filters(
        self, tenant_id: str, group: str
    ) -> list[tuple[SubscriptionFilter, FilterPattern]]:
        now = self._clock()
        cached = self._cache.get((tenant_id, group))
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self.store.list_filters(tenant_id, group, "", "", self.limits.max_filters)
        compiled = [(f, compile_pattern(f.pattern)) for f in found]
        if len(self._cache) >= _CACHED_GROUPS:
            self._cache.clear()
        self._cache[(tenant_id, group)] = (now + self.limits.cache_ms, compiled)
        return compiled

    # The delivery.

    async def deliver_once(self, owner: str) -> int:
        """One pass: up to ``batch`` due records claimed and handed over; how many were
        taken by their destination."""
        now = self._clock()
        claimed = await self.store.claim(owner, now, now + self.limits.lease_ms, self.limits.batch)
        delivered = 0
        for entry in claimed:
            why = await self._deliver(entry)
            if self._delivered is not None:
                self._delivered(entry, why is None)
            if why is None:
                await self.store.remove(entry.entry_id, owner)
                delivered += 1
            elif self._clock() - entry.arrived >= self.limits.retry_duration_ms:
                if await self.store.remove(entry.entry_id, owner):
                    self._give_up(entry, why)
            else:
                await self.store.retry(
                    entry.entry_id, owner, self._clock() + self.limits.retry_interval_ms
                )
                # Its time is known: the back-off must not sleep past it.
                self.pacer.doorbell.ring_at(self.limits.retry_interval_ms / 1000)
        return delivered

    async def _deliver(self, entry: OutboxEntry) -> str | None:
        if self.destination is None:
            return "no subscription destination is served"
        try:
            [record] = await self._sealer.open(
                _ring_group(entry.tenant_id, entry.group), [(entry.sealed, entry.context())]
            )
        except Exception as exc:  # the account's keys destroyed: it can never be opened
            return f"the record cannot be opened ({type(exc).__name__})"
        return await self.destination.deliver(
            entry.tenant_id,
            entry.role_arn,
            entry.destination_arn,
            [record],
            entry.partition_key,
            source_arn=group_source_arn(self._logs.region, entry.tenant_id, entry.group),
        )

    def _give_up(self, entry: OutboxEntry, why: str) -> None:
        log.warning(
            "a subscription filter's record of %s (group %r, filter %r) was given up: %s",
            entry.tenant_id,
            entry.group[:256],
            entry.filter_name[:256],
            why,
        )
        if self._dropped is not None:
            self._dropped(entry, why)

    async def run_forever(self, owner: str) -> None:
        """Passes until nothing due is left, then a pause: ``poll_interval`` after work,
        growing to ``idle_poll_max`` while idle, ended by a ring (decision 0326)."""
        while True:
            worked = False
            try:
                while (delivered := await self.deliver_once(owner)) >= self.limits.batch:
                    worked = True
                    await asyncio.sleep(0)
                worked = worked or delivered > 0
            except Exception:  # a failed pass must not end the loop; the next one retries
                log.exception("the subscription filters' delivery pass failed")
            await self.pacer.pause(worked)

    async def forget_tenant(self, tenant_id: str) -> int:
        for policy in await self._logs.store.list_account_policies(tenant_id, SUBSCRIPTION_FILTER):
            await self._logs.store.delete_account_policy(
                tenant_id, SUBSCRIPTION_FILTER, policy.name
            )
        self._accounts.pop(tenant_id, None)
        return await self.store.forget_tenant(tenant_id)
