"""Data protection in the Logs service (decision 0211): a group's policy and the account's
policy kept, their identifiers applied to each event ingested, the spans found kept with the
event, and the audit: a findings report per event with findings into the policy's findings
log group and a ``LogEventsWithFindings`` count (``AWS/Logs``, by ``LogGroupName``).

A policy's S3 findings destination (session-51 addendum) gets the reports of one PutLogEvents
call as one object, one report a line, under :func:`findings_key`, written through a
:class:`FindingsBuckets` the wiring gives (``log_export_delivery``: the bucket must be the
account's own or let Logs in by its policy, checked when the policy is put and at each
write). A write refused later (the bucket gone, its policy changed) drops those reports, as
a findings log group deleted since does: ingestion never fails for its audit. A Firehose
findings destination (decision 0225) gets each report as one record, through the
:class:`FindingsStreams` the wiring gives (Firehose's ``RecordSink``): the stream must be
the account's own (AWS delivers vended logs as its own service-linked role), and exist when
the policy is put; a record refused later (the stream gone, or full) is dropped the same way.

The policies of a group are read with it at PutLogEvents (the group's own is a column of the
group's row); the account's are cached ``account_cache_ms`` per account, so the hot path reads
no further table per call and a policy put through another gateway applies within that time.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from andromede.errors import AndromedeError
from andromede.logs.account_policies import (
    DATA_PROTECTION,
    AccountPolicy,
    check_account_policy,
    check_policy_type,
)
from andromede.logs.data_protection import (
    Detector,
    Finding,
    ProtectionPolicy,
    check_document,
    combined,
)
from andromede.logs.errors import InvalidParameter, LimitExceeded, ResourceNotFound
from andromede.logs.log_classes import INFREQUENT_ACCESS, refuse_infrequent_access
from andromede.logs.metric_filters import MetricTransformation
from andromede.logs.model import LogGroup
from andromede.logs.store import LogStore

__all__ = [
    "DataProtection",
    "FindingsBuckets",
    "FindingsStreams",
    "GroupProtection",
    "findings_key",
]

log = logging.getLogger(__name__)

FINDINGS_METRIC = MetricTransformation("LogEventsWithFindings", "AWS/Logs", "1", None, {}, "Count")
_CACHED_ACCOUNTS = 10_000


@dataclass(frozen=True, slots=True)
class GroupProtection:
    """What applies to a group's events now: the detector and the findings log groups."""

    detector: Detector
    findings_groups: tuple[str, ...]
    findings_buckets: tuple[str, ...] = ()
    findings_streams: tuple[str, ...] = ()


class FindingsStreams(Protocol):
    """Where Firehose takes the findings records of an account's own streams."""

    async def check(self, tenant_id: str, stream: str) -> None:
        """ResourceNotFound unless ``stream`` is a delivery stream of the account."""
        ...

    async def write(self, tenant_id: str, stream: str, records: Sequence[bytes]) -> None:
        """The records into the stream (an AndromedeError when it does not take them)."""
        ...


class FindingsBuckets(Protocol):
    """Where the storage context takes the findings objects (``log_export_delivery``)."""

    async def check(self, tenant_id: str, bucket: str, group: str | None) -> None:
        """Whether Logs may write ``group``'s findings (None: an account policy's) into
        ``bucket``; ExportRefused saying why not."""
        ...

    async def write(self, tenant_id: str, bucket: str, group: str, key: str, body: bytes) -> None:
        """One findings object; ExportRefused when the bucket no longer takes it."""
        ...


def findings_key(account: str, region: str, group: str, now_ms: int) -> str:
    """A findings object's key: AWS's vended-log layout (``AWSLogs/<account>/<kind>/<region>/``
    and the hour), the audited group's name as folders, unique within its second."""
    moment = time.gmtime(now_ms / 1000)
    folders = group.strip("/") or "_"
    return (
        f"AWSLogs/{account}/DataProtection/{region}/{folders}/"
        f"{time.strftime('%Y/%m/%d/%H', moment)}/"
        f"{time.strftime('%Y%m%dT%H%M%SZ', moment)}_{uuid.uuid4().hex}.json"
    )


class DataProtection:
    def __init__(
        self,
        store: LogStore,
        clock: Callable[[], int],
        account_cache_ms: int = 5_000,
        region: str = "",
    ) -> None:
        self._store = store
        self._clock = clock
        self._cache_ms = account_cache_ms
        self._region = region
        self._accounts: dict[str, tuple[int, list[ProtectionPolicy]]] = {}
        # S3 findings destinations: None where the deployment serves no buckets.
        self.buckets: FindingsBuckets | None = None
        # Firehose findings destinations: None where the deployment serves no Firehose.
        self.streams: FindingsStreams | None = None

    # The group's own policy.

    async def put_group_policy(self, group: LogGroup, document: object) -> tuple[str, int]:
        refuse_infrequent_access(group.log_class, "Data protection policies")
        policy = check_document(document)
        await self._check_destination(group.tenant_id, policy, group.name)
        updated = self._clock()
        if not await self._store.set_data_protection(
            group.tenant_id, group.name, policy.document, updated
        ):
            raise ResourceNotFound("The specified log group does not exist.")
        return policy.document, updated

    async def delete_group_policy(self, group: LogGroup) -> None:
        if group.data_protection is None:
            raise ResourceNotFound("No data protection policy is attached to the log group.")
        await self._store.set_data_protection(group.tenant_id, group.name, None, None)

    # The account's policies.

    async def put_account_policy(
        self,
        tenant_id: str,
        name: object,
        document: object,
        policy_type: object,
        scope: object,
        *,
        dry_run: bool = False,
    ) -> AccountPolicy:
        """Make or replace the account's policy; ``dry_run``: checked, not kept (AWS's
        ``dryRun``)."""
        checked_name, checked_type, checked_scope = check_account_policy(name, policy_type, scope)
        if checked_type != DATA_PROTECTION:  # the other types are their own services'
            raise InvalidParameter(f"{checked_type} account policies are not data protection's")
        policy = check_document(document)
        await self._check_destination(tenant_id, policy, None)
        held = await self._store.list_account_policies(tenant_id, checked_type)
        if any(p.name != checked_name for p in held):
            # AWS keeps one account-level data protection policy an account.
            raise LimitExceeded(
                "An account can have only one account-level data protection policy; "
                f"delete {held[0].name} first."
            )
        account_policy = AccountPolicy(
            tenant_id, checked_type, checked_name, policy.document, checked_scope, self._clock()
        )
        if not dry_run:
            await self._store.put_account_policy(account_policy)
            self._accounts.pop(tenant_id, None)
        return account_policy

    async def describe_account_policies(
        self, tenant_id: str, policy_type: object, name: str | None
    ) -> list[AccountPolicy]:
        found = await self._store.list_account_policies(tenant_id, check_policy_type(policy_type))
        return [p for p in found if name is None or p.name == name]

    async def delete_account_policy(
        self, tenant_id: str, name: object, policy_type: object
    ) -> None:
        checked_type = check_policy_type(policy_type)
        if not isinstance(name, str) or not await self._store.delete_account_policy(
            tenant_id, checked_type, name
        ):
            raise ResourceNotFound("Policy with the specified name does not exist.")
        self._accounts.pop(tenant_id, None)

    async def forget_tenant(self, tenant_id: str) -> None:
        for policy in await self._store.list_account_policies(tenant_id, DATA_PROTECTION):
            await self._store.delete_account_policy(tenant_id, DATA_PROTECTION, policy.name)
        self._accounts.pop(tenant_id, None)

    # Ingestion.

    async def for_group(self, group: LogGroup) -> GroupProtection | None:
        """What applies to ``group``'s events now; None: no policy, nothing to look for (an
        Infrequent Access group has no data protection, the account's policy included)."""
        if group.log_class == INFREQUENT_ACCESS:
            return None
        policies = list(await self._account(group.tenant_id))
        if group.data_protection is not None:
            policies.append(_kept_policy(group.data_protection))
        detector = combined(policies)
        if detector is None:
            return None
        destinations = tuple(
            dict.fromkeys(p.findings_log_group for p in policies if p.findings_log_group)
        )
        buckets = tuple(dict.fromkeys(p.findings_bucket for p in policies if p.findings_bucket))
        streams = tuple(dict.fromkeys(p.findings_stream for p in policies if p.findings_stream))
        return GroupProtection(detector, destinations, buckets, streams)

    async def _account(self, tenant_id: str) -> list[ProtectionPolicy]:
        now = self._clock()
        cached = self._accounts.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        held = await self._store.list_account_policies(tenant_id, DATA_PROTECTION)
        policies = [_kept_policy(p.document) for p in held]
        if len(self._accounts) >= _CACHED_ACCOUNTS:
            self._accounts.clear()
        self._accounts[tenant_id] = (now + self._cache_ms, policies)
        return policies

    async def _check_destination(
        self, tenant_id: str, policy: ProtectionPolicy, group: str | None
    ) -> None:
        """AWS's rule: a findings destination must already exist (and a bucket take the
        findings of ``group``, None for an account policy)."""
        name = policy.findings_log_group
        if name is not None and await self._store.get_group(tenant_id, name) is None:
            raise ResourceNotFound(
                f"The findings destination log group {name[:512]} does not exist."
            )
        if policy.findings_bucket is not None:
            if self.buckets is None:
                raise InvalidParameter(
                    "S3 findings destinations are not served by this deployment (no buckets)."
                )
            await self.buckets.check(tenant_id, policy.findings_bucket, group)
        if policy.findings_stream is not None:
            if self.streams is None:
                raise InvalidParameter(
                    "Firehose findings destinations are not served by this deployment."
                )
            await self.streams.check(tenant_id, policy.findings_stream)

    async def deliver(
        self, tenant_id: str, group: str, reports: Sequence[str], protection: GroupProtection
    ) -> None:
        """One PutLogEvents call's findings reports, one object into each findings bucket and
        a record each into each findings stream; a destination refusing drops them (logged
        without their content)."""
        if not reports:
            return
        body = "".join(f"{report}\n" for report in reports).encode()
        buckets = self.buckets
        for bucket in protection.findings_buckets:
            if buckets is None:
                break
            key = findings_key(tenant_id, self._region, group, self._clock())
            try:
                await buckets.write(tenant_id, bucket, group, key, body)
            except AndromedeError as exc:
                _dropped(tenant_id, group, f"bucket {bucket}", exc)
        records = [f"{report}\n".encode() for report in reports]
        streams = self.streams
        for stream in protection.findings_streams:
            if streams is None:
                break
            try:
                await streams.write(tenant_id, stream, records)
            except AndromedeError as exc:
                _dropped(tenant_id, group, f"Firehose stream {stream}", exc)


def _dropped(tenant_id: str, group: str, where: str, exc: AndromedeError) -> None:
    log.warning(
        "findings of %s:%s not written into %s: %s",
        tenant_id,
        group[:512],
        where,
        type(exc).__name__,
    )


@lru_cache(maxsize=1024)
def _kept_policy(document: str) -> ProtectionPolicy:
    """A kept document, parsed once per gateway: every PutLogEvents to a protected group reads
    its policy, and a kept document was checked when it was put."""
    return check_document(document)


def audit_time(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def with_findings(found: Sequence[Sequence[Finding]]) -> list[int]:
    """The indexes of the events that had findings."""
    return [index for index, findings in enumerate(found) if findings]
