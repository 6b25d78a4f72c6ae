"""A service principal's asynchronous invocation of a function (decision 0293): EventBridge's
rules (``events.amazonaws.com``), SNS's subscriptions (``sns.amazonaws.com``) and S3's event
notifications (``s3.amazonaws.com``) invoke a function as AWS's services do — an ``Event``
invocation (Secrets Manager's rotation, ``secretsmanager.amazonaws.com``, a synchronous one,
decision 0303) of its ARN (unqualified, or qualified by a version or an alias), allowed only by
the function's resource-based policy (the one of the qualifier named, as AddPermission wrote
it), evaluated by the IAM engine for the service with ``aws:SourceArn`` (the rule, topic or
bucket) and ``aws:SourceAccount``. The service has no identity policies: without a statement
naming it, nothing allows it.

An allowed invocation is written to the Invoker's durable Event queue (its payload sealed
under the function's account's keys) before the service's own delivery completes, so a
committed event is not lost; each one, allowed or refused, is audited as the service
invoking ``lambda:InvokeFunction`` on the function's ARN.

The IAM engine and the audit trail are outside the context: the wiring gives them as the
small interfaces :class:`ServiceGrants` and :class:`ServiceAudit`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.functions.errors import FunctionsError, ResourceNotFound
from andromede.functions.invoker import Invocation, Invoker
from andromede.functions.model import FunctionRecord, FunctionVersion
from andromede.functions.service import FunctionsService

__all__ = [
    "INVOKE_ACTION",
    "ServiceAudit",
    "ServiceDenied",
    "ServiceGrants",
    "ServiceInvocations",
    "function_of_arn",
]

INVOKE_ACTION: Final = "lambda:InvokeFunction"
_ARN: Final = re.compile(
    r"arn:aws:lambda:(?P<region>[a-z0-9-]{1,32}):(?P<account>\d{12}):function:"
    r"(?P<name>[a-zA-Z0-9_-]{1,64})(:(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)


class ServiceDenied(FunctionsError):
    """The function's resource-based policy does not let the service invoke it."""


class ServiceGrants(Protocol):
    def __call__(
        self,
        policy_text: str | None,
        *,
        service: str,
        action: str,
        resource: str,
        resource_account: str,
        source_arn: str,
        source_account: str,
        region: str | None = None,
    ) -> bool:
        """Whether the resource policy lets ``service`` do ``action`` on ``resource`` for
        ``source_arn`` of ``source_account`` (``iam.policy.service_grants.service_may``)."""
        ...


class ServiceAudit(Protocol):
    def __call__(
        self, tenant_id: str, service: str, function_arn: str, source_arn: str, error: str | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class FunctionArn:
    region: str
    account: str
    name: str
    qualifier: str | None


def function_of_arn(arn: str) -> FunctionArn | None:
    """What a function's ARN (qualified or not) names; None for anything else."""
    found = _ARN.fullmatch(arn)
    if found is None:
        return None
    return FunctionArn(found["region"], found["account"], found["name"], found["qualifier"])


class ServiceInvocations:
    def __init__(
        self,
        functions: FunctionsService,
        invoker: Invoker,
        grants: ServiceGrants,
        audit: ServiceAudit | None = None,
    ) -> None:
        self._functions = functions
        self._invoker = invoker
        self._grants = grants
        self._audit = audit

    async def check(
        self, service: str, function_arn: str, *, source_arn: str, source_account: str
    ) -> tuple[FunctionRecord, FunctionVersion]:
        """The function (and version) ``function_arn`` names, if ``service`` may invoke it
        for ``source_arn``; ResourceNotFound when it is not there (or not of this Region),
        ServiceDenied when its policy does not allow the service."""
        named = function_of_arn(function_arn)
        if named is None or named.region != self._functions.region:
            raise ResourceNotFound(f"Function not found: {function_arn[:256]}")
        record, version = await self._invoker.target(named.account, named.name, named.qualifier)
        allowed = self._grants(
            record.policy(named.qualifier or ""),
            service=service,
            action=INVOKE_ACTION,
            resource=function_arn,
            resource_account=named.account,
            source_arn=source_arn,
            source_account=source_account,
            region=named.region,
        )
        if not allowed:
            raise ServiceDenied(
                f"The resource-based policy of {function_arn[:256]} does not allow {service} "
                f"to invoke it for {source_arn[:256]}"
            )
        return record, version

    async def invoke(
        self,
        service: str,
        function_arn: str,
        event: bytes,
        *,
        source_arn: str,
        source_account: str,
        trace: str | None = None,
    ) -> None:
        """Queue ``event`` (JSON text) as an Event invocation of ``function_arn`` by
        ``service`` for ``source_arn``, with ``trace`` (the trace header of the message or
        event, its lineage: decisions 0328, 0336); ResourceNotFound or ServiceDenied as
        :meth:`check`."""
        account = (function_of_arn(function_arn) or FunctionArn("", "", "", None)).account
        try:
            record, version = await self.check(
                service, function_arn, source_arn=source_arn, source_account=source_account
            )
            await self._invoker.enqueue(record, version, event, function_arn, trace)
        except FunctionsError as exc:
            self._audited(account, service, function_arn, source_arn, type(exc).__name__)
            raise
        self._audited(account, service, function_arn, source_arn, None)

    async def call(
        self,
        service: str,
        function_arn: str,
        event: bytes,
        *,
        source_arn: str,
        source_account: str,
    ) -> Invocation:
        """Invoke ``function_arn`` synchronously (``RequestResponse``) as ``service`` for
        ``source_arn`` — Secrets Manager's rotation steps (decision 0303) —, allowed as
        :meth:`check` allows; the handler's failure is the answer's, not an exception."""
        account = (function_of_arn(function_arn) or FunctionArn("", "", "", None)).account
        try:
            record, version = await self.check(
                service, function_arn, source_arn=source_arn, source_account=source_account
            )
            await self._invoker.refresh_reserves(record.tenant_id)
            done = await self._invoker.invoke(record, version, event, function_arn)
        except FunctionsError as exc:
            self._audited(account, service, function_arn, source_arn, type(exc).__name__)
            raise
        failed = None if done.ok else (done.error_type or "Unhandled")
        self._audited(account, service, function_arn, source_arn, failed)
        return done

    async def run_for_caller(self, function_arn: str, event: bytes) -> Invocation:
        """Invoke ``function_arn`` synchronously for a caller whose own permission to invoke
        it was judged by the API that calls (S3 Object Lambda runs the caller's function as
        the caller, decision 0384): no service grant is asked; ResourceNotFound when the
        function is not there (or not of this Region)."""
        named = function_of_arn(function_arn)
        if named is None or named.region != self._functions.region:
            raise ResourceNotFound(f"Function not found: {function_arn[:256]}")
        record, version = await self._invoker.target(named.account, named.name, named.qualifier)
        await self._invoker.refresh_reserves(record.tenant_id)
        return await self._invoker.invoke(record, version, event, function_arn)

    async def resource_policy(self, function_arn: str) -> str | None:
        """The resource-based policy of the function ``function_arn`` names, of the qualifier
        it names (as AddPermission wrote it), for an API that judges another account's caller
        itself (S3 Object Lambda, decision 0411); ResourceNotFound as :meth:`run_for_caller`."""
        named = function_of_arn(function_arn)
        if named is None or named.region != self._functions.region:
            raise ResourceNotFound(f"Function not found: {function_arn[:256]}")
        record, _ = await self._invoker.target(named.account, named.name, named.qualifier)
        return record.policy(named.qualifier or "")

    def _audited(
        self, account: str, service: str, arn: str, source_arn: str, error: str | None
    ) -> None:
        if self._audit is not None and account:
            self._audit(account, service, arn, source_arn, error)
