"""Lambda's invocations (decision 0286): the version a qualifier names (an alias routes by
its weights), the function's concurrency (its reserve, else the account's unreserved
executions — counted on this gateway), the sandbox (``functions.sandbox``) given the
version's code, handler, limits and the environment variables AWS sets with the function's
own and the execution role's temporary credentials; then the function's log written to
CloudWatch Logs ``/aws/lambda/<name>`` with AWS's START, END and REPORT lines, and the
requests and GB-seconds metered. An invocation of a qualifier with provisioned concurrency
(decision 0314) takes one of the sandboxes :meth:`Invoker.provision` keeps initialised for it
when one is free. Each run, throttle and queued Event invocation is published into the
function's ``AWS/Lambda`` metrics when :attr:`Invoker.metrics` is set (decision 0323).
An invocation given a trace header carries its lineage into the sandbox; one that would run
the function a 17th time in its chain is stopped when the function terminates recursive
loops (decision 0328, ``functions.lineage``).

The collaborators outside the context are small interfaces the wiring fills: the role's
credentials (:class:`RoleCredentials`), the log (:class:`FunctionLogs`) and the meters
(:class:`Metering`)."""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from andromede.functions.errors import (
    ExecutorUnavailable,
    InvalidParameterValue,
    RecursiveInvocation,
    TooManyRequests,
)
from andromede.functions.event_queue import EventInvocation, EventQueue
from andromede.functions.invocation_metrics import FunctionMetrics, qualifier_of
from andromede.functions.lineage import TERMINATE, Lineage, function_key
from andromede.functions.model import FunctionRecord, FunctionVersion
from andromede.functions.sandbox import ChunkSink, InvocationResult, SandboxPool, SandboxSpec
from andromede.functions.service import FunctionsService

__all__ = [
    "FunctionLogs",
    "Invocation",
    "Invoker",
    "Metering",
    "RoleCredentials",
    "provisioned_key",
]

REQUESTS: Final = "lambda.requests"
GB_SECONDS: Final = "lambda.gb-seconds"
_TAIL: Final = 4096
PROVISIONED: Final = "provisioned-concurrency"  # AWS_LAMBDA_INITIALIZATION_TYPE's value


class RoleCredentials(Protocol):
    async def __call__(self, tenant_id: str, role_arn: str, session: str) -> Mapping[str, str]:
        """``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` of a
        session of the role; empty when none can be given."""
        ...


class FunctionLogs(Protocol):
    async def write(
        self, tenant_id: str, group: str, stream: str, events: list[tuple[int, str]]
    ) -> None: ...


class Metering(Protocol):
    def count(self, tenant_id: str, meter: str, quantity: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Invocation:
    version: str  # X-Amz-Executed-Version
    ok: bool
    payload: bytes
    log: str  # the invocation's log lines, START to REPORT
    error_type: str | None = None


class Invoker:
    def __init__(
        self,
        functions: FunctionsService,
        pool: SandboxPool,
        credentials: RoleCredentials | None = None,
        logs: FunctionLogs | None = None,
        metering: Metering | None = None,
        queue: EventQueue | None = None,
    ) -> None:
        self._functions = functions
        self._pool = pool
        self._credentials = credentials
        self._logs = logs
        self._metering = metering
        self.queue = queue
        self.metrics: FunctionMetrics | None = None  # AWS/Lambda (decision 0323)
        self._running: Counter[tuple[str, str]] = Counter()
        # Per version or alias invoked (decision 0337): (tenant, name, qualifier).
        self._qualified_running: Counter[tuple[str, str, str]] = Counter()
        # Runs in a provisioned sandbox of a function without a reserve: its allocation's,
        # not the unreserved executions' (the metrics only, decision 0337).
        self._provisioned_running: Counter[str] = Counter()
        # The provisioned allocations outside any reserve, per account, as
        # ``Provisioning`` last kept them on this gateway.
        self._provisioned_claims: dict[str, int] = {}
        self._account_running: Counter[str] = Counter()
        self._unreserved: Counter[str] = Counter()
        self._reserved: dict[str, int] = {}
        # One log stream a version on this gateway, as AWS names one per execution environment.
        self._streams: dict[tuple[str, ...], str] = {}

    async def target(
        self, tenant_id: str, name: str, qualifier: str | None
    ) -> tuple[FunctionRecord, FunctionVersion]:
        """The function and the version an invocation of ``qualifier`` runs: an alias's
        additional version by its weight, as AWS routes."""
        record, version = await self._functions.resolve(tenant_id, name, qualifier)
        alias = record.alias(qualifier) if qualifier else None
        if alias is not None and alias.weights:
            other, weight = alias.weights[0]
            if random.random() < weight:  # noqa: S311 — routing, not a secret
                _, version = await self._functions.resolve(tenant_id, name, other)
        return record, version

    async def invoke(
        self,
        record: FunctionRecord,
        version: FunctionVersion,
        event: bytes,
        arn: str,
        client_context: object = None,
        sink: ChunkSink | None = None,
        trace: str | None = None,
    ) -> Invocation:
        """Run ``version`` with ``event`` (JSON text) now — ``client_context`` the caller's
        ``ClientContext``, decoded; ``sink`` given, a streaming handler's answer goes to it as
        it is made (decision 0313, ``functions.response_stream``); ``trace`` the event's trace
        header (decision 0328) — ; TooManyRequests beyond the function's or the account's
        concurrency, RecursiveInvocation when the event has been through the function too
        many times."""
        lineage = self.lineage(record, trace)
        key = (record.tenant_id, record.name)
        try:
            self._admit(record)
        except TooManyRequests:
            if self.metrics is not None:
                self.metrics.throttled(record.tenant_id, record.name, qualifier_of(arn))
            raise
        qualifier = qualifier_of(arn)
        qualified = None if qualifier is None else (*key, qualifier)
        provisioned = self._takes_provisioned(record, version, qualifier)
        self._running[key] += 1
        self._account_running[record.tenant_id] += 1
        if record.reserved_concurrency is None:
            self._unreserved[record.tenant_id] += 1
        if qualified is not None:
            self._qualified_running[qualified] += 1
        if provisioned:
            self._provisioned_running[record.tenant_id] += 1
        self._measure_concurrency(record, qualifier)
        try:
            return await self._run(version, event, arn, client_context, sink, lineage)
        finally:
            self._running[key] -= 1
            self._account_running[record.tenant_id] -= 1
            if record.reserved_concurrency is None:
                self._unreserved[record.tenant_id] -= 1
            if qualified is not None:
                self._qualified_running[qualified] -= 1
            if provisioned:
                self._provisioned_running[record.tenant_id] -= 1

    def lineage(self, record: FunctionRecord, trace: str | None) -> Lineage:
        """The lineage an invocation of ``record`` passes on (its trace with one more run of
        the function); RecursiveInvocation, with ``RecursiveInvocationsDropped`` published,
        when the chain has run the function its 16 times and the function terminates
        recursive loops (AWS's default)."""
        given = Lineage.parse(trace)
        mark = function_key(record.tenant_id, record.name)
        if given.loops(mark) and record.recursive_loop == TERMINATE:
            if self.metrics is not None:
                self.metrics.recursion_dropped(record.tenant_id, record.name)
            raise RecursiveInvocation(
                "Lambda has detected your function being invoked in a recursive loop with "
                "other AWS resources and stopped your function's invocation."
            )
        return given.passed(mark)

    def _takes_provisioned(
        self, record: FunctionRecord, version: FunctionVersion, qualifier: str | None
    ) -> bool:
        """Whether a run of a function without a reserve is about to take one of its
        qualifier's free provisioned sandboxes (the pool takes it before its first await)."""
        if self.metrics is None or qualifier is None or record.reserved_concurrency is not None:
            return False
        return self._pool.provisioned(self.provisioned_key(version, qualifier))[1] > 0

    def claim_provisioned(self, claims: Mapping[str, int]) -> None:
        """The provisioned executions each account keeps on this gateway for its functions
        without a reserve (a reserve holds its function's), which ``ClaimedAccountConcurrency``
        counts (decision 0337)."""
        self._provisioned_claims = dict(claims)

    def _measure_concurrency(self, record: FunctionRecord, qualifier: str | None) -> None:
        if self.metrics is None:
            return
        tenant_id = record.tenant_id
        unreserved = self._unreserved[tenant_id] - self._provisioned_running[tenant_id]
        allocated = self._reserved.get(tenant_id, 0) + self._provisioned_claims.get(tenant_id, 0)
        self.metrics.concurrency(
            tenant_id,
            record.name,
            function_running=self._running[(tenant_id, record.name)],
            account_running=self._account_running[tenant_id],
            unreserved_running=unreserved,
            claimed=unreserved + allocated,
            qualifier=qualifier,
            qualifier_running=0
            if qualifier is None
            else self._qualified_running[(tenant_id, record.name, qualifier)],
        )

    def _admit(self, record: FunctionRecord) -> None:
        reserved = record.reserved_concurrency
        if reserved is not None:
            if self._running[(record.tenant_id, record.name)] >= reserved:
                raise TooManyRequests(
                    "Rate Exceeded.", reason="ReservedFunctionConcurrentInvocationLimitExceeded"
                )
            return
        limit = self._functions.limits.concurrency_limit - self._reserved.get(record.tenant_id, 0)
        if self._unreserved[record.tenant_id] >= limit:
            raise TooManyRequests("Rate Exceeded.", reason="ConcurrentInvocationLimitExceeded")

    async def refresh_reserves(self, tenant_id: str) -> None:
        """The account's reserves, read before it is admitted (the unreserved pool's size)."""
        records = await self._functions.store.records(tenant_id)
        self._reserved[tenant_id] = sum(r.reserved_concurrency or 0 for r in records)

    async def enqueue(
        self,
        record: FunctionRecord,
        version: FunctionVersion,
        event: bytes,
        arn: str,
        trace: str | None = None,
    ) -> None:
        """Keep an Event invocation durably (its payload sealed) for the workers, with the
        caller's trace header (its lineage: decision 0328)."""
        if self.queue is None:
            raise InvalidParameterValue("Event invocations are not served by this deployment")
        now = int(time.time() * 1000)
        invocation_id = str(uuid.uuid4())
        sealed = await self._functions.seal(
            record.tenant_id, event, _event_context(record.tenant_id, invocation_id)
        )
        await self.queue.add(
            EventInvocation(
                id=invocation_id,
                tenant_id=record.tenant_id,
                name=record.name,
                version=version.version,
                arn=arn,
                sealed_payload=sealed,
                created=now,
                due=now,
                trace=trace,
            )
        )
        if self.metrics is not None:
            self.metrics.async_received(record.tenant_id, record.name, qualifier_of(arn))

    async def queued_event(self, item: EventInvocation) -> bytes:
        """A queued Event invocation's payload, opened."""
        return await self._functions.open(
            item.tenant_id, item.sealed_payload, _event_context(item.tenant_id, item.id)
        )

    async def _run(
        self,
        version: FunctionVersion,
        event: bytes,
        arn: str,
        client_context: object,
        sink: ChunkSink | None = None,
        lineage: Lineage | None = None,
    ) -> Invocation:
        try:
            event.decode()
        except UnicodeDecodeError as exc:
            raise InvalidParameterValue("The payload is not UTF-8 JSON") from exc
        request_id = str(uuid.uuid4())
        group = f"/aws/lambda/{version.name}"
        spec, stream = self._spec(version)
        started = int(time.time() * 1000)

        async def prepare() -> tuple[bytes, dict[str, str]]:
            # A new sandbox only: its code, and a role session for its environment.
            code = await self._functions.code(version)
            return code, await self._environment(version, group, stream)

        async def layers() -> list[bytes]:  # decision 0302: merged in order at /opt
            found = self._functions.layers
            return (
                [] if found is None or not version.layers else await found.contents(version.layers)
            )

        if not self._pool.available():
            raise ExecutorUnavailable("Functions cannot run on this host: bubblewrap is missing")
        qualifier = qualifier_of(arn)
        # The configuration of the qualifier called, if any (decision 0314).
        provisioned = provisioned_key(spec, qualifier or "")
        self._measure_provisioned(version, qualifier, provisioned)
        try:
            result = await self._pool.invoke(
                spec,
                prepare,
                {
                    "id": request_id,
                    "event": event.decode(),
                    "arn": arn,
                    "client_context": client_context,
                    # The runtime's _X_AMZN_TRACE_ID for this invocation (decision 0328).
                    "trace": (lineage or Lineage.parse(None)).header(),
                },
                layers,
                provisioned,
                sink,
            )
        except OSError as exc:  # no sandbox could be made: bwrap or the runtime refused
            raise ExecutorUnavailable(f"The sandbox could not start: {exc.strerror}") from exc
        lines = _log_lines(version, request_id, result)
        await self._write_log(version, group, stream, started, lines)
        self._meter(version, result)
        if self.metrics is not None:
            self.metrics.invoked(
                version.tenant_id,
                version.name,
                qualifier,
                version.version,
                ok=result.ok,
                duration_ms=result.duration_ms,
            )
        return Invocation(
            version=version.version,
            ok=result.ok,
            payload=result.payload,
            log="".join(lines),
            error_type=result.error_type,
        )

    def _measure_provisioned(
        self, version: FunctionVersion, qualifier: str | None, key: tuple[str, ...]
    ) -> None:
        """Whether the run about to start takes one of its qualifier's initialised sandboxes
        (the pool takes a free one first, before its first await) or spills over."""
        if self.metrics is None or qualifier is None:
            return
        live, free = self._pool.provisioned(key)
        if not live:
            return
        busy = live - free + (1 if free else 0)
        self.metrics.provisioned(
            version.tenant_id, version.name, qualifier, taken=free > 0, busy=busy, live=live
        )

    def _spec(self, version: FunctionVersion) -> tuple[SandboxSpec, str]:
        """The sandbox ``version`` runs in, and its log stream on this gateway."""
        key = (version.tenant_id, version.name, version.version, version.revision_id)
        stream = self._streams.setdefault(key, _stream_name(version))
        spec = SandboxSpec(
            key=key,
            runtime=version.runtime,
            handler=version.handler,
            memory_mb=version.memory_size,
            timeout=version.timeout,
            ephemeral_mb=version.ephemeral_storage,
        )
        return spec, stream

    def provisioned_key(self, version: FunctionVersion, qualifier: str) -> tuple[str, ...]:
        """The pool's key of the provisioned sandboxes of ``qualifier`` running ``version``."""
        return provisioned_key(self._spec(version)[0], qualifier)

    def provisioned(self, key: tuple[str, ...]) -> tuple[int, int]:
        """(live, free) provisioned sandboxes of ``key`` on this gateway."""
        return self._pool.provisioned(key)

    async def retain(self, keys: set[tuple[str, ...]]) -> None:
        """Stop the provisioned sandboxes of every configuration but ``keys``'."""
        await self._pool.retain(keys)

    async def provision(
        self, version: FunctionVersion, qualifier: str, count: int
    ) -> tuple[tuple[str, ...], dict[str, Any] | None]:
        """Keep ``count`` sandboxes of ``version`` initialised for the provisioned
        concurrency configuration of ``qualifier`` (decision 0314): its key in the pool, and
        None or the initialisation's error."""
        spec, stream = self._spec(version)
        key = provisioned_key(spec, qualifier)
        group = f"/aws/lambda/{version.name}"

        async def prepare() -> tuple[bytes, dict[str, str]]:
            code = await self._functions.code(version)
            environment = await self._environment(version, group, stream)
            return code, environment | {"AWS_LAMBDA_INITIALIZATION_TYPE": PROVISIONED}

        async def layers() -> list[bytes]:
            found = self._functions.layers
            return (
                [] if found is None or not version.layers else await found.contents(version.layers)
            )

        if not self._pool.available():
            raise ExecutorUnavailable("Functions cannot run on this host: bubblewrap is missing")
        provisioned = SandboxSpec(
            key, spec.runtime, spec.handler, spec.memory_mb, spec.timeout, spec.ephemeral_mb
        )
        return key, await self._pool.provision(provisioned, prepare, count, layers)

    async def _environment(
        self, version: FunctionVersion, group: str, stream: str
    ) -> dict[str, str]:
        region = self._functions.region
        found = {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{version.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": version.name,
            "AWS_LAMBDA_FUNCTION_VERSION": version.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory_size),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        }
        found |= await self._functions.environment(version)
        if self._credentials is not None:
            found |= await self._credentials(version.tenant_id, version.role, version.name)
        return found

    async def _write_log(
        self, version: FunctionVersion, group: str, stream: str, started: int, lines: list[str]
    ) -> None:
        if self._logs is None:
            return
        events = [(started, line.rstrip("\n")) for line in lines if line.strip()]
        await self._logs.write(version.tenant_id, group, stream, events)

    def _meter(self, version: FunctionVersion, result: InvocationResult) -> None:
        if self._metering is None:
            return
        billed = math.ceil(result.duration_ms + (result.init_ms or 0.0))
        self._metering.count(version.tenant_id, REQUESTS, 1)
        self._metering.count(version.tenant_id, GB_SECONDS, version.memory_size * max(1, billed))


def provisioned_key(spec: SandboxSpec, qualifier: str) -> tuple[str, ...]:
    """The pool's key of the provisioned sandboxes of ``qualifier`` running ``spec``'s
    version: an alias's follow the version it names."""
    return (*spec.key, "provisioned-concurrency", qualifier)


def _event_context(tenant_id: str, invocation_id: str) -> bytes:
    return f"lambda:{tenant_id}:event:{invocation_id}".encode()


def _stream_name(version: FunctionVersion) -> str:
    day = time.strftime("%Y/%m/%d", time.gmtime())
    return f"{day}/[{version.version}]{uuid.uuid4().hex}"


def _log_lines(version: FunctionVersion, request_id: str, result: InvocationResult) -> list[str]:
    billed = math.ceil(result.duration_ms)
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {result.duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {version.memory_size} MB\t"
        f"Max Memory Used: {result.max_memory_mb} MB"
    )
    if result.init_ms is not None:
        report += f"\tInit Duration: {result.init_ms:.2f} ms"
    body = result.log if result.log.endswith("\n") or not result.log else result.log + "\n"
    return [
        f"START RequestId: {request_id} Version: {version.version}\n",
        body,
        f"END RequestId: {request_id}\n",
        report + "\t\n",
    ]


def log_tail(text: str) -> str:
    """The last 4 KB of an invocation's log, as ``X-Amz-Log-Result`` carries it (base64 by
    the caller)."""
    data = text.encode()
    return data[-_TAIL:].decode("utf-8", "ignore")
