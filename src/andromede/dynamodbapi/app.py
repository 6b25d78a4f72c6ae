"""Amazon DynamoDB's JSON 1.0 ASGI application on the shared endpoint (decision 0237).

Per request: request id → bounded body → SigV4 over the body's hash (service ``dynamodb``) →
``X-Amz-Target`` (``DynamoDB_20120810.<Action>``) → JSON parameters → the action's handler
(authorising ``dynamodb:<Action>`` on ``arn:aws:dynamodb:<region>:<account>:table/<name>``
by the caller's identity policies and the table's or stream's resource policy, decision
0266: another account's caller reaches a table by its ARN, audited in the owner's trail too)
→ JSON answer with its ``x-amz-crc32`` header (botocore checks it on every DynamoDB answer),
then an audit event
(action ``dynamodb:<Action>``, resource the table's ARN; the item calls only when refused,
as CloudTrail's data events are off by default) and an access-log line. Every error leaves
as ``{"__type": …, "message": …}``; an unexpected exception is logged and answered
``InternalServerError`` carrying nothing but the request id. An action of the API this
platform does not serve (global tables…) is
``UnknownOperationException``; on-demand backups and point-in-time recovery are
``dynamodbapi.backups`` and ``dynamodbapi.pitr`` (decision 0253), exports to S3 and imports
from S3 ``dynamodbapi.exports`` (decision 0261). Item calls answer
``ReturnConsumedCapacity`` (``dynamodbapi.capacity``); PartiQL is ``dynamodbapi.partiql``
(decision 0247). DynamoDB Streams' calls (decision 0246), signed for ``dynamodb`` too, arrive
here and are told apart by their target's prefix (``dynamodbapi.streams``).
"""

from __future__ import annotations

import time
import zlib
from typing import Any, ClassVar, Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awsjson.authorise import resource_refusal
from andromede.awsjson.endpoint import (
    JsonEndpoint,
    JsonErrorTypes,
    JsonRequest,
    JsonWire,
    JsonWireError,
    RequestWire,
)
from andromede.dynamodb.backups import DynamoBackups
from andromede.dynamodb.contributor_insights import ContributorInsights
from andromede.dynamodb.exports import DynamoExports
from andromede.dynamodb.global_tables_service import GlobalTables
from andromede.dynamodb.kinesis_destination_service import KinesisDestinations
from andromede.dynamodb.resource_policies import DynamoResourcePolicies
from andromede.dynamodb.service import DynamoService
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.dynamodb.table_keys import TableKeys
from andromede.dynamodbapi.backups import BACKUP_ACTIONS
from andromede.dynamodbapi.capacity import with_capacity
from andromede.dynamodbapi.encryption import kms_caller
from andromede.dynamodbapi.errors import DynamoWireError, to_dynamodb_error
from andromede.dynamodbapi.exports import EXPORT_ACTIONS
from andromede.dynamodbapi.features import FEATURE_ACTIONS
from andromede.dynamodbapi.global_tables import LEGACY_GLOBAL_ACTIONS
from andromede.dynamodbapi.items import ITEM_ACTIONS
from andromede.dynamodbapi.kinesis_destinations import KINESIS_DESTINATION_ACTIONS
from andromede.dynamodbapi.observed import CallObserver, FinishedCall, table_names
from andromede.dynamodbapi.params import DynamoCall, Handler
from andromede.dynamodbapi.partiql import PARTIQL_ACTIONS
from andromede.dynamodbapi.pitr import PITR_ACTIONS
from andromede.dynamodbapi.queries import QUERY_ACTIONS
from andromede.dynamodbapi.resource_policies import RESOURCE_POLICY_ACTIONS
from andromede.dynamodbapi.streams import (
    STREAM_ACTIONS,
    STREAM_DATA_ACTIONS,
    STREAMS_PREFIX,
    serve_stream_call,
    stream_limits,
)
from andromede.dynamodbapi.tables import TABLE_ACTIONS
from andromede.dynamodbapi.transactions import TRANSACTION_ACTIONS
from andromede.errors import AndromedeError
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Response, Scope
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["ACTIONS", "CONTENT_TYPE", "DATA_ACTIONS", "DynamoApp"]

CONTENT_TYPE: Final = "application/x-amz-json-1.0"
# A BatchWriteItem of 25 items of 400 KB, with its JSON around them.
_BODY: Final = 16 * 1024 * 1024
ACTIONS: Final[dict[str, Handler]] = (
    TABLE_ACTIONS
    | FEATURE_ACTIONS
    | ITEM_ACTIONS
    | QUERY_ACTIONS
    | TRANSACTION_ACTIONS
    | PARTIQL_ACTIONS
    | BACKUP_ACTIONS
    | PITR_ACTIONS
    | EXPORT_ACTIONS
    | KINESIS_DESTINATION_ACTIONS
    | RESOURCE_POLICY_ACTIONS
    | LEGACY_GLOBAL_ACTIONS
)
DATA_ACTIONS: Final = (
    frozenset(ITEM_ACTIONS)
    | frozenset(QUERY_ACTIONS)
    | frozenset(TRANSACTION_ACTIONS)
    | frozenset(PARTIQL_ACTIONS)
)


class _CheckedWire(JsonWire[DynamoCall]):
    """The JSON protocol, each answer carrying the CRC32 of its body as DynamoDB's do."""

    def action(self, request: JsonRequest[DynamoCall]) -> str:
        if request.target.startswith(STREAMS_PREFIX):
            return request.target.removeprefix(STREAMS_PREFIX)
        return super().action(request)

    def answer(self, request: JsonRequest[DynamoCall], result: dict[str, Any]) -> Response:
        return _with_crc(super().answer(request, result))

    def error(self, request: JsonRequest[DynamoCall], wire: JsonWireError) -> Response:
        return _with_crc(super().error(request, wire))


def _with_crc(response: Response) -> Response:
    response.headers.append(("x-amz-crc32", str(zlib.crc32(response.body) & 0xFFFFFFFF)))
    return response


class DynamoApp(JsonEndpoint[DynamoCall]):
    """DynamoDB's JSON protocol over :class:`DynamoService`."""

    name = "dynamodb"
    target_prefix = "DynamoDB_20120810."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalServerError",
    )

    def __init__(
        self,
        dynamodb: DynamoService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        streams: DynamoStreams | None = None,
        backups: DynamoBackups | None = None,
        table_keys: TableKeys | None = None,
        observer: CallObserver | None = None,
        exports: DynamoExports | None = None,
    ) -> None:
        super().__init__(
            identity, audit, settings, rate_limiter, body_limit=_BODY,
            also_accepted_regions=settings.served_region_names,  # decision 0265
        )  # fmt: skip
        self._dynamodb = dynamodb
        self.streams = streams or DynamoStreams(dynamodb, stream_limits(settings))
        self.backups = backups
        self.exports = exports  # decision 0261
        self._identity = identity
        self._denied: set[str] = set()
        self._checked = _CheckedWire(self)
        self._table_keys = table_keys
        self._observer = observer
        self.kinesis_destinations: KinesisDestinations | None = None  # set by the wiring
        self.resource_policies: DynamoResourcePolicies | None = None  # decision 0266, likewise
        # Decision 0265, set by the wiring: each served region's service and streams (a call
        # is its SigV4 scope's region's; another region is the home one's), the replicas.
        self.regions: dict[str, tuple[DynamoService, DynamoStreams]] = {}
        self.global_tables: GlobalTables | None = None
        self.contributor_insights: ContributorInsights | None = None  # decision 0278, likewise

    @property
    def service(self) -> DynamoService:
        return self._dynamodb

    def wire_for(self, scope: Scope, headers: dict[str, str]) -> RequestWire[DynamoCall]:
        return self._checked

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return DynamoWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_dynamodb_error(exc)

    async def serve(self, request: JsonRequest[DynamoCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no tables
            raise DynamoWireError("AccessDeniedException", "Operators do not use DynamoDB")
        streams_call = request.target.startswith(STREAMS_PREFIX)
        action = ACTIONS.get(request.action_name) if not streams_call else None
        if action is None and not streams_call:
            named = request.action_name[:128]
            raise DynamoWireError(
                "UnknownOperationException",
                f"{named} is not offered by this platform (decision 0237)"
                if named
                else f"Unknown operation {request.target[:128]!r}",
            )
        signed = None if request.authenticated is None else request.authenticated.signed
        region = self._settings.region if signed is None else signed.region
        dynamodb, streams = self.regions.get(region, (self._dynamodb, self.streams))
        home = dynamodb is self._dynamodb  # backups, exports, Kinesis: the home region's

        async def judge(
            iam_action: str, resource: str, /, policy: str | None = None, owner: str | None = None
        ) -> str | None:
            return await resource_refusal(
                self._identity, principal, request, region, iam_action, resource, policy, owner
            )

        async def authorise(
            iam_action: str, resource: str, /, policy: str | None = None, owner: str | None = None
        ) -> None:
            refused = await judge(iam_action, resource, policy, owner)
            if refused is not None:
                self._denied.add(request.request_id)
                raise DynamoWireError("AccessDeniedException", refused)

        request.context = DynamoCall(
            params=self.params(request),
            tenant_id=principal.tenant_id,
            region=dynamodb.region,
            dynamodb=dynamodb,
            authorise=authorise,
            backups=self.backups if home else None,
            exports=self.exports if home else None,
            table_keys=self._table_keys,
            kms_caller=kms_caller(request, region),
            resource_policies=self.resource_policies,
            judge=judge,
            root=principal.is_root,
            kinesis_destinations=self.kinesis_destinations if home else None,
            global_tables=self.global_tables,
            contributor_insights=self.contributor_insights if home else None,
        )
        if streams_call:
            return await serve_stream_call(request.action_name, request.context, streams)
        assert action is not None  # noqa: S101 (refused above)
        return await with_capacity(request.action_name, action, request.context)

    def audited(self, request: JsonRequest[DynamoCall]) -> list[str] | None:
        name = request.action_name
        if request.target.startswith(STREAMS_PREFIX):
            known, data = name in STREAM_ACTIONS, name in STREAM_DATA_ACTIONS
        else:
            known, data = name in ACTIONS, name in DATA_ACTIONS
        if request.principal.tenant_id is None or not known:
            return None
        if data and request.request_id not in self._denied:
            return None
        return [] if request.context is None else request.context.resources

    def finish(self, request: JsonRequest[DynamoCall], status: int, error_type: str | None) -> None:
        super().finish(request, status, error_type)
        call, tenant_id = request.context, request.principal.tenant_id
        resources = self.audited(request)
        if call is not None and call.shared is not None and resources is not None:
            # Another account's table or stream: the call is in its owner's trail too, as
            # CloudTrail delivers a cross-account call to both accounts (decision 0266).
            details = {"operation": request.action_name, "status": str(status),
                       "caller_account": call.tenant_id}  # fmt: skip
            if error_type is not None:
                details["error"] = error_type
            self._audit.record(
                request_id=request.request_id,
                tenant_id=call.shared,
                principal=request.principal.arn,
                action=f"{self.name}:{request.action_name}",
                resource=",".join(dict.fromkeys(resources)) or "*",
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )
        self._denied.discard(request.request_id)
        if self._observer is not None and tenant_id is not None and status < 500:
            if not request.target.startswith(STREAMS_PREFIX):  # AWS/DynamoDB (decision 0254)
                self._observer.finished(
                    FinishedCall(
                        # another account's table: its metrics are the owner's (decision 0266)
                        tenant_id if call is None or call.shared is None else call.shared,
                        request.action_name,
                        () if call is None else table_names(call.resources),
                        None if call is None else call.tally,
                        None if call is None else call.returned,
                        status,
                        error_type,
                        time.perf_counter() - request.started,
                    )
                )
