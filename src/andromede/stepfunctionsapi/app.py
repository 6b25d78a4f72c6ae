"""AWS Step Functions' JSON 1.0 ASGI application on the shared endpoint (decision 0271).

Per request: request id → bounded body → SigV4 over the body's hash (service ``states``) →
``X-Amz-Target`` (``AWSStepFunctions.<Action>``) → JSON parameters → the handler (authorising
``states:<Action>`` on the state machine by the caller's identity policies: Step Functions
has no resource policies) → JSON answer, then an audit event (action ``states:<Action>``,
resource the machine's ARN; never a definition) and an access-log line. Every error leaves as
``{"__type": …, "message": …}`` with the ``x-amzn-RequestId`` header; an unexpected exception
is logged and answered ``InternalServerError`` carrying nothing but the request id. An
operation of Step Functions not served yet (Map runs, TestState…) answers
``UnknownOperationException`` naming it. The request skeleton is the JSON services' one
(:mod:`andromede.awsjson.endpoint`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from andromede.audit.service import AuditService
from andromede.awsjson.authorise import identity_refusal
from andromede.awsjson.endpoint import JsonEndpoint, JsonErrorTypes, JsonRequest, JsonWireError
from andromede.errors import AndromedeError
from andromede.http.ratelimit import RateLimiter
from andromede.iam.service import IdentityService
from andromede.settings import Settings
from andromede.stepfunctions.activity_service import ActivitiesService
from andromede.stepfunctions.execution_service import ExecutionsService
from andromede.stepfunctions.express import SyncExecutions
from andromede.stepfunctions.map_children import MapChildStore
from andromede.stepfunctions.map_runs import MapRunStore
from andromede.stepfunctions.service import StateMachinesService
from andromede.stepfunctions.version_service import VersionsService
from andromede.stepfunctionsapi.actions import ACTIONS, Handler, StatesCall
from andromede.stepfunctionsapi.activity_actions import ACTIVITY_ACTIONS
from andromede.stepfunctionsapi.errors import StatesWireError, to_states_error
from andromede.stepfunctionsapi.execution_actions import EXECUTION_ACTIONS
from andromede.stepfunctionsapi.map_run_actions import MAP_RUN_ACTIONS
from andromede.stepfunctionsapi.version_actions import VERSION_ACTIONS

__all__ = ["CONTENT_TYPE", "StatesApp"]

CONTENT_TYPE: Final = "application/x-amz-json-1.0"
# JSON escapes a character of a definition in up to six bytes.
_JSON_EXPANSION: Final = 6
# The calls that start an execution, which keeps its caller's trace header.
_TRACED: Final = frozenset({"StartExecution", "StartSyncExecution"})


class StatesApp(JsonEndpoint[StatesCall]):
    """Step Functions' JSON protocol over :class:`StateMachinesService`."""

    name = "states"
    target_prefix = "AWSStepFunctions."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalServerError",
    )

    def __init__(
        self,
        machines: StateMachinesService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        executions: ExecutionsService | None = None,
        activities: ActivitiesService | None = None,
        sync: SyncExecutions | None = None,
        versions: VersionsService | None = None,
        map_runs: MapRunStore | None = None,
        map_children: MapChildStore | None = None,
    ) -> None:
        super().__init__(
            identity,
            audit,
            settings,
            rate_limiter,
            body_limit=_JSON_EXPANSION * machines.limits.max_definition_size
            + settings.max_api_body_size,
        )
        self._machines = machines
        self._executions = executions
        self._identity = identity
        self._actions: dict[str, Handler] = dict(ACTIONS)
        self._activities = activities
        self._sync = sync
        if executions is not None:
            self._actions |= EXECUTION_ACTIONS
        if activities is not None:
            self._actions |= ACTIVITY_ACTIONS
        self._versions = versions
        if versions is not None:
            self._actions |= VERSION_ACTIONS
        self._map_runs = map_runs
        self._map_children = map_children
        if map_runs is not None and executions is not None:
            self._actions |= MAP_RUN_ACTIONS

    @property
    def service(self) -> StateMachinesService:
        return self._machines

    @property
    def executions(self) -> ExecutionsService | None:
        return self._executions

    @property
    def activities(self) -> ActivitiesService | None:
        return self._activities

    @property
    def sync(self) -> SyncExecutions | None:
        return self._sync

    @property
    def versions(self) -> VersionsService | None:
        return self._versions

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return StatesWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_states_error(exc)

    async def serve(self, request: JsonRequest[StatesCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no state machines
            raise StatesWireError("AccessDeniedException", "Operators do not use Step Functions")
        action = self._actions.get(request.action_name)
        if action is None:
            raise StatesWireError(
                "UnknownOperationException",
                f"Operation {request.target[:128]!r} is not served by this platform",
            )
        signed = None if request.authenticated is None else request.authenticated.signed
        region = self._settings.region if signed is None else signed.region

        async def authorise(iam_action: str, resource: str, keys: Mapping[str, Any]) -> None:
            refused = await identity_refusal(
                self._identity, principal, request, region, iam_action, resource, keys
            )
            if refused is not None:
                raise StatesWireError("AccessDeniedException", refused)

        params = self.params(request)
        header = request.headers.get("x-amzn-trace-id")
        if header and request.action_name in _TRACED and "traceHeader" not in params:
            # AWS: "the trace header can also be passed in the request payload"; the
            # header's otherwise, the execution's lineage (decision 0351).
            params["traceHeader"] = header
        request.context = StatesCall(
            params=params,
            tenant_id=principal.tenant_id,
            machines=self._machines,
            authorise=authorise,
            executions=self._executions,
            activities=self._activities,
            sync=self._sync,
            versions=self._versions,
            map_runs=self._map_runs,
            map_children=self._map_children,
        )
        return await action(request.context)

    def audited(self, request: JsonRequest[StatesCall]) -> list[str] | None:
        if request.principal.tenant_id is None or request.action_name not in self._actions:
            return None
        return [] if request.context is None else request.context.resources
