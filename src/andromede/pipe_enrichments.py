"""Where EventBridge Pipes meets its enrichments (decision 0268): a Lambda function's are
invoked by ``pipe_functions`` (decision 0294), an EXPRESS state machine's run by
``pipe_state_machines`` (decision 0316); for an API destination, the
``pipes.runner.PipeEnricher`` that sends a batch's events, one JSON array, to the pipe's API
destination as its role (``pipe_roles``: ``events:InvokeApiDestination`` on the
destination), through EventBridge's own invoker (its connection's authorization, the egress
guard, the pacing) with the enrichment's ``HttpParameters`` (a path, header or query string
value may be a JSON path into the batch's first event, as AWS's dynamic parameters), and
gives back its answer. Each is given the batch's trace header (decision 0364), as AWS's
pipe passes its source's trace on to its enrichment.

A destination gone, deauthorized, refused by the egress guard, or refusing the role is
``EndpointRefused`` (the pipe's ``StateReason``); any other failure (an answer of 4xx or 5xx,
one too large, the endpoint out of reach) fails the execution, retried by the source's rules.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from andromede.events.dispatcher import DeliveryRefused
from andromede.events.model import Target
from andromede.pipe_functions import PipeFunctions
from andromede.pipe_roles import PipeRoles
from andromede.pipe_state_machines import PipeStateMachines
from andromede.pipe_targets import dynamic_http
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import Pipe

__all__ = ["ApiCall", "EnrichmentFailed", "PipeEnrichments"]


class ApiCall(Protocol):
    """(tenant, target, message) → the endpoint's answer, the role taken for the pipe
    ``source_arn`` (decision 0321)."""

    async def __call__(
        self,
        tenant_id: str,
        target: Target,
        message: str,
        *,
        source_arn: str | None = None,
        trace: str | None = None,
    ) -> bytes: ...


_REFUSALS: Final = frozenset(
    {"NO_PERMISSIONS", "NO_RESOURCE", "ConnectionDeauthorized", "InvalidEndpoint"}
)


class EnrichmentFailed(Exception):
    """The enrichment answered a failure: the execution fails, retried by the source's
    rules."""


class PipeEnrichments:
    def __init__(
        self,
        roles: PipeRoles,
        call_api: ApiCall | None,
        functions: PipeFunctions | None = None,
        machines: PipeStateMachines | None = None,
    ) -> None:
        self._roles = roles
        self._call_api = call_api
        self._functions = functions
        self._machines = machines

    async def enrich(
        self, pipe: Pipe, payload: str, first: Any, *, trace: str | None = None
    ) -> bytes:
        """The enrichment's answer; ``trace`` (the batch's trace header, decision 0364) goes
        with the call: a function's invocation, an execution's ``traceHeader``, an API
        destination's ``X-Amzn-Trace-Id``."""
        if pipe.enrichment.startswith("arn:aws:lambda:"):
            if self._functions is None:
                raise EndpointRefused("NO_RESOURCE", "Lambda is not served by this deployment")
            return await self._functions.enrich(pipe, payload, trace)
        if pipe.enrichment.startswith("arn:aws:states:"):
            if self._machines is None:
                raise EndpointRefused("NO_RESOURCE", "Step Functions is not served here")
            return await self._machines.enrich(pipe, payload, trace)
        session = await self._roles.session(pipe)
        await self._roles.require(session, "events:InvokeApiDestination", pipe.enrichment)
        if self._call_api is None:
            raise EndpointRefused("NO_RESOURCE", "API destinations are not served here")
        event = first if isinstance(first, dict) else {}
        http = dynamic_http(pipe.enrichment_parameters.get("HttpParameters") or {}, event)
        target = Target(
            "pipe-enrichment", pipe.enrichment, {"RoleArn": pipe.role_arn, "HttpParameters": http}
        )
        try:
            return await self._call_api(
                pipe.tenant_id, target, payload, source_arn=pipe.arn, trace=trace
            )
        except DeliveryRefused as exc:
            if exc.code in _REFUSALS:
                raise EndpointRefused(exc.code, str(exc)[:512]) from None
            raise EnrichmentFailed(f"{exc.code}: {str(exc)[:512]}") from None
