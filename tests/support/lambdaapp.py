"""AWS Lambda's REST-JSON app in process (decision 0286): LambdaApp over the in-memory
identity store and a function store (memory by default), code and environments sealed under
a local key file; calls made through botocore's own ``lambda`` model (its rest-json
serializer and parser, the parameters validated first, blobs base64-encoded as boto3 sends
them), signed with SigV4 for service ``lambda``."""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HeadersDict
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.functions.async_invocations import AsyncInvocations
from andromede.functions.code_signing import CodeSigning, MemoryCodeSigningStore
from andromede.functions.event_queue import EventWorker, MemoryEventQueue
from andromede.functions.invocation_metrics import FunctionMetrics
from andromede.functions.invoke_config_service import EventInvokeConfigs
from andromede.functions.invoke_configs import MemoryInvokeConfigStore
from andromede.functions.invoker import Invoker
from andromede.functions.layer_service import LayersService
from andromede.functions.layer_store import LayerStore, MemoryLayerStore
from andromede.functions.memory import MemoryFunctionStore
from andromede.functions.model import FunctionVersion
from andromede.functions.provisioned import MemoryProvisionedStore
from andromede.functions.provisioned_service import ProvisionedConcurrency
from andromede.functions.provisioning import Provisioning
from andromede.functions.record_service import FunctionRecords
from andromede.functions.sandbox import SandboxLimits, SandboxPool
from andromede.functions.service import FunctionLimits, FunctionsService
from andromede.functions.store import FunctionStore
from andromede.functions.url_config_service import FunctionUrls
from andromede.functions.url_configs import MemoryUrlConfigStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.lambdaapi.access_actions import ACCESS_ACTIONS
from andromede.lambdaapi.actions import FUNCTION_ACTIONS
from andromede.lambdaapi.app import LambdaApp
from andromede.lambdaapi.code_signing_actions import code_signing_actions
from andromede.lambdaapi.invoke_actions import invoke_actions
from andromede.lambdaapi.invoke_config_actions import invoke_config_actions
from andromede.lambdaapi.invoke_variants import invoke_variants
from andromede.lambdaapi.layer_actions import layer_actions
from andromede.lambdaapi.provisioned_actions import provisioned_actions
from andromede.lambdaapi.url_actions import url_actions
from andromede.lambdaapi.url_front import FunctionUrlApp
from andromede.settings import Settings
from andromede.signer.service import SignerService
from andromede.signer.store import MemorySignerStore
from andromede.wiring.function_urls import url_endpoint
from andromede.wiring.functions import function_limits, trusting_roles
from andromede.wiring.queues import KeySealer
from andromede.wiring.signer import signature_reader
from support.asgi import post
from support.dict_objects import DictObjects
from support.json_client import JsonReply, Signers
from support.lambda_functions import HANDLER_SOURCE, TRUST, handler_zip

REGION: Final = "eu-fr-1"
MODEL: Final = botocore.session.get_session().get_service_model("lambda")


@dataclass
class RecordingLogs:
    """``functions.invoker.FunctionLogs`` keeping what was written."""

    written: list[tuple[str, str, str, str]] = field(default_factory=list)

    async def write(
        self, tenant_id: str, group: str, stream: str, events: list[tuple[int, str]]
    ) -> None:
        self.written += [(tenant_id, group, stream, message) for _, message in events]


@dataclass
class RecordingMeters:
    counted: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, tenant_id: str, meter: str, quantity: int) -> None:
        key = (tenant_id, meter)
        self.counted[key] = self.counted.get(key, 0) + quantity


@dataclass
class RecordingMetrics:
    """``functions.invocation_metrics.MetricRecorder`` keeping each point (decision 0323):
    (account, metric, dimensions as a dict, value, unit)."""

    points: list[tuple[str, str, dict[str, str], float, str]] = field(default_factory=list)

    def record(
        self,
        tenant_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        value: float,
        unit: str = "None",
    ) -> None:
        assert namespace == "AWS/Lambda"
        self.points.append((tenant_id, name, dict(dimensions), value, unit))

    def of(self, name: str, **dimensions: str) -> list[float]:
        """The values of ``name`` recorded with exactly ``dimensions``."""
        return [p[3] for p in self.points if p[1] == name and p[2] == dimensions]


@dataclass
class RecordingDestinations:
    """``functions.async_invocations.Destinations`` keeping what was sent (decision 0300):
    (destination, the role it was sent as, the record) and (target, role, event,
    attributes)."""

    delivered: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    dead_letters: list[tuple[str, str, bytes, dict[str, str]]] = field(default_factory=list)
    refuse: bool = False  # every delivery fails, as a refused destination's would

    async def deliver(
        self, version: FunctionVersion, destination: str, record: dict[str, Any]
    ) -> bool:
        self.delivered.append((destination, version.role, record))
        return not self.refuse

    async def dead_letter(
        self, version: FunctionVersion, target: str, event: bytes, attributes: Any
    ) -> bool:
        self.dead_letters.append((target, version.role, event, dict(attributes)))
        return not self.refuse


@dataclass
class CallFailed(Exception):
    status: int
    code: str
    message: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class World(Signers):
    app: LambdaApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    functions: FunctionsService
    store: FunctionStore
    audit_store: MemoryAuditStore
    audit: AuditService
    pool: SandboxPool
    logs: RecordingLogs
    meters: RecordingMeters
    worker: EventWorker
    queue: MemoryEventQueue
    roles: dict[str, str] = field(default_factory=dict)
    invoker: Invoker | None = None
    configs: MemoryInvokeConfigStore = field(default_factory=MemoryInvokeConfigStore)
    destinations: RecordingDestinations = field(default_factory=RecordingDestinations)
    runner: AsyncInvocations | None = None
    layers: LayersService | None = None
    # Provisioned concurrency (decision 0314): the store, and this gateway's task (its passes
    # run by the tests with ``reconcile``).
    provisioned: MemoryProvisionedStore = field(default_factory=MemoryProvisionedStore)
    provisioning: Provisioning | None = None
    metrics: RecordingMetrics = field(default_factory=RecordingMetrics)  # decision 0323
    # Function URLs (decision 0312): their configurations and the app serving them.
    urls: FunctionUrls | None = None
    url_app: FunctionUrlApp | None = None
    # Code signing (decision 0386): the signer (its objects a DictObjects) and Lambda's side.
    signer: SignerService | None = None
    signing: CodeSigning | None = None
    signed_objects: DictObjects | None = None

    async def raw(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        query: str = "",
        headers: dict[str, str] | None = None,
    ) -> JsonReply:
        """A signed request as botocore sends it (``path`` percent-encoded as sent)."""
        url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        if self.credentials is not None:
            SigV4Auth(self.credentials, "lambda", REGION).add_auth(request)
        status, got, answer = await post(
            self.app, dict(request.headers.items()), body, ("127.0.0.1", 50000),
            method=method, path=path, query=query.encode(),
        )  # fmt: skip
        assert got["x-amzn-requestid"]
        return JsonReply(status, got, answer)

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` as boto3 sends it, its answer parsed by botocore's rest-json parser;
        a failure raises :class:`CallFailed`."""
        model = MODEL.operation_model(operation)
        validate_parameters(params, model.input_shape)
        request = create_serializer("rest-json").serialize_to_request(params, model)
        query = urlencode(request["query_string"], doseq=True)
        body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
        # botocore quotes the path's members itself; keep them as it sent them. A model's URI
        # may carry a fixed query (GetLayerVersionByArn's ``?find=LayerVersion``).
        url_path, _, fixed = request["url_path"].partition("?")
        query = "&".join(q for q in (fixed, query) if q)
        path = quote(url_path, safe="/:$%")
        reply = await self.raw(request["method"], path, body, query, dict(request["headers"]))
        parsed = create_parser("rest-json").parse(
            {
                "status_code": reply.status,
                "headers": HeadersDict(reply.headers),
                "body": reply.body,
            },
            model.output_shape,
        )
        if reply.status >= 300:
            raise CallFailed(
                reply.status,
                parsed["Error"]["Code"],
                parsed["Error"]["Message"],
                json.loads(reply.body or b"{}"),
                reply.headers,
            )
        # DeleteFunction answers 204 where the model says 200, as AWS does.
        # Invoke answers 202 for Event and 204 for DryRun invocations.
        assert reply.status in (model.http.get("responseCode", 200), 202, 204), reply.status
        parsed.pop("ResponseMetadata", None)
        if operation == "Invoke":  # the raw body, a StreamingBody in boto3
            parsed["Payload"] = io.BytesIO(reply.body)
        return dict(parsed)

    async def fails(self, operation: str, code: str, **params: Any) -> CallFailed:
        try:
            await self.client(operation, **params)
        except CallFailed as exc:
            assert exc.code == code, (exc.code, exc.message)
            return exc
        raise AssertionError(f"{operation} succeeded")

    async def role(self, name: str = "fn", trust: str = TRUST) -> str:
        role = await self.identity.create_role(self.tenant_id, name, trust)
        return role.arn

    async def function(self, name: str = "echo", **params: Any) -> dict[str, Any]:
        role = params.pop("Role", None) or await self._role_once()
        return await self.client(
            "CreateFunction",
            FunctionName=name,
            Runtime=params.pop("Runtime", "python3.11"),
            Role=role,
            Handler=params.pop("Handler", "app.handler"),
            Code=params.pop("Code", {"ZipFile": handler_zip()}),
            **params,
        )

    async def _role_once(self) -> str:
        if self.tenant_id not in self.roles:
            self.roles[self.tenant_id] = await self.role()
        return self.roles[self.tenant_id]


async def lambda_world(
    tmp_path: Path,
    store: FunctionStore | None = None,
    limits: FunctionLimits | None = None,
    layer_store: LayerStore | None = None,
    **settings_given: Any,
) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION, **settings_given)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    kept = store or MemoryFunctionStore()
    functions = FunctionsService(
        kept,
        REGION,
        KeySealer(keys),
        trusting_roles(identity),
        limits or function_limits(settings, ("python3.11",)),
    )
    layers = LayersService(
        layer_store or MemoryLayerStore(), functions, settings.lambda_max_function_layers
    )
    functions.layers = layers
    pool = SandboxPool(SandboxLimits(work_dir=tmp_path, idle_seconds=60))
    logs, meters = RecordingLogs(), RecordingMeters()
    queue = MemoryEventQueue()
    invoker = Invoker(functions, pool, None, logs, meters, queue)
    metrics = RecordingMetrics()
    invoker.metrics = FunctionMetrics(metrics)
    invoke = invoke_actions(
        invoker, settings.lambda_max_payload_bytes, settings.lambda_max_event_payload_bytes
    )
    invoke |= invoke_variants(
        invoker,
        settings.lambda_max_payload_bytes,
        settings.lambda_max_event_payload_bytes,
        settings.lambda_max_streamed_response_bytes,
    )
    configs, destinations = MemoryInvokeConfigStore(), RecordingDestinations()
    invoke |= invoke_config_actions(
        EventInvokeConfigs(configs, functions), {**FUNCTION_ACTIONS, **ACCESS_ACTIONS}
    )
    runner = AsyncInvocations(functions, invoker, configs, destinations)
    invoke |= layer_actions(layers)
    provisioned = MemoryProvisionedStore()
    invoke |= provisioned_actions(
        ProvisionedConcurrency(provisioned, functions),
        {**FUNCTION_ACTIONS, **ACCESS_ACTIONS, **invoke},
    )
    provisioning = Provisioning(
        provisioned,
        functions,
        invoker,
        max_sandboxes=settings.lambda_max_provisioned_sandboxes,
        metering=meters,
    )
    urls = FunctionUrls(MemoryUrlConfigStore(), functions, url_endpoint(settings))
    invoke |= url_actions(urls, {**FUNCTION_ACTIONS, **ACCESS_ACTIONS, **invoke})
    # Code signing (decision 0386): the signer's jobs over a dict of objects.
    signed_objects = DictObjects()
    signer = SignerService(MemorySignerStore(), REGION, KeySealer(keys), signed_objects)
    signing = CodeSigning(
        MemoryCodeSigningStore(),
        REGION,
        signature_reader(signer),
        settings.lambda_max_code_signing_configs,
    )
    functions.code_signing = signing
    invoke |= code_signing_actions(signing, {**FUNCTION_ACTIONS, **ACCESS_ACTIONS, **invoke})
    try:
        yield World(
            LambdaApp(functions, identity, audit, settings, extra_actions=invoke),
            identity,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            functions,
            kept,
            audit_store,
            audit,
            pool,
            logs,
            meters,
            EventWorker(queue, runner, "gateway-a", poll_interval=0.05),
            queue,
            invoker=invoker,
            configs=configs,
            destinations=destinations,
            runner=runner,
            layers=layers,
            provisioned=provisioned,
            provisioning=provisioning,
            metrics=metrics,
            urls=urls,
            url_app=FunctionUrlApp(urls, invoker, identity, audit, settings),
            signer=signer,
            signing=signing,
            signed_objects=signed_objects,
        )
    finally:
        await pool.close()
        await audit.close()
        keys.close()


@dataclass
class Functions:
    """Lambda's app over another world's identity service (decision 0294: the services that
    invoke functions as their roles), its functions made through the service itself."""

    app: LambdaApp
    service: FunctionsService
    identity: IdentityService
    queue: MemoryEventQueue
    invoker: Invoker
    meters: RecordingMeters
    logs: RecordingLogs
    # The Event worker's runner (decision 0300): a queued invocation run as the worker runs it.
    runner: AsyncInvocations

    async def create(
        self, tenant_id: str, name: str, source: str = HANDLER_SOURCE, **params: Any
    ) -> str:
        """The function's ARN, made with a role of the account trusting Lambda."""
        try:
            role = (await self.identity.create_role(tenant_id, f"fn-{name}", TRUST)).arn
        except Exception:  # one role a name; a test making the name again reuses it
            role = f"arn:aws:iam::{tenant_id}:role/fn-{name}"
        wanted = {
            "FunctionName": name,
            "Runtime": "python3.11",
            "Role": role,
            "Handler": "app.handler",
            "Code": {"ZipFile": handler_zip(source)},
            **params,
        }
        await self.service.create(None, tenant_id, wanted)
        return self.service.arn(tenant_id, name)

    async def permit(self, tenant_id: str, name: str, **statement: Any) -> None:
        """AddPermission's statement on the function."""
        await FunctionRecords(self.service).add_permission(tenant_id, name, None, statement)


async def functions_over(
    identity: IdentityService, audit: AuditService, tmp_path: Path
) -> AsyncIterator[Functions]:
    """:class:`Functions` whose sandboxes run under ``tmp_path``."""
    settings = Settings(data_dir=tmp_path, region=REGION)
    keys = KeyService(LocalKeyFileProvider(tmp_path / "function-keys"))
    service = FunctionsService(
        MemoryFunctionStore(),
        REGION,
        KeySealer(keys),
        trusting_roles(identity),
        function_limits(settings, ("python3.11",)),
    )
    pool = SandboxPool(SandboxLimits(work_dir=tmp_path, idle_seconds=60))
    meters, logs = RecordingMeters(), RecordingLogs()
    queue = MemoryEventQueue()
    invoker = Invoker(service, pool, None, logs, meters, queue)
    invoke = invoke_actions(
        invoker, settings.lambda_max_payload_bytes, settings.lambda_max_event_payload_bytes
    )
    invoke |= invoke_variants(
        invoker,
        settings.lambda_max_payload_bytes,
        settings.lambda_max_event_payload_bytes,
        settings.lambda_max_streamed_response_bytes,
    )
    try:
        yield Functions(
            LambdaApp(service, identity, audit, settings, extra_actions=invoke),
            service,
            identity,
            queue,
            invoker,
            meters,
            logs,
            AsyncInvocations(service, invoker, MemoryInvokeConfigStore()),
        )
    finally:
        await pool.close()
        keys.close()
