"""Decision 0286's wiring: Lambda's calls routed by their credential scope (service
``lambda``), the app over the database with the settings' bounds, the runtimes this host
has an interpreter of, and a closed tenant's functions forgotten."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from andromede.api_routing import api_service
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.functions.errors import InvalidParameterValue, RequestTooLarge
from andromede.functions.invoke_configs import EventInvokeConfig
from andromede.functions.invoke_configs_sql import SqlInvokeConfigStore
from andromede.functions.provisioned import ProvisionedConfig
from andromede.functions.provisioned_sql import SqlProvisionedStore
from andromede.functions.sandbox import RUNTIME_PATH, SandboxLimits, SandboxPool, SandboxSpec
from andromede.functions.store_sql import SqlFunctionStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.lambdaapi.app import LambdaApp
from andromede.settings import Settings
from andromede.wiring.functions import (
    _close_on_stop,
    host_runtimes,
    lambda_api,
    retry_policy,
    role_sessions,
    sandbox_limits,
)
from support.lambdaapp import HANDLER_SOURCE, TRUST, handler_zip, lambda_world
from support.schema import migrated_sqlite


def test_lambda_calls_are_routed_by_their_credential_scope() -> None:
    signed = {
        "type": "http", "path": "/2015-03-31/functions", "query_string": b"",
        "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/20261206/eu-fr-1/"
                     b"lambda/aws4_request, SignedHeaders=host, Signature=00")],
    }  # fmt: skip
    assert api_service(signed) == "lambda"


def test_the_runtimes_are_the_hosts_interpreters() -> None:
    found = host_runtimes()
    assert found and all(shutil.which(r, path=RUNTIME_PATH) for r in found)
    assert all(r.startswith("python3.") for r in found)


async def test_serve_wires_lambda_over_the_database(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region="eu-fr-1",
        lambda_max_zip_bytes=len(handler_zip()),
        lambda_max_environment_bytes=20,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    tenant = boot.tenant.id
    role = (await identity.create_role(tenant, "fn", TRUST)).arn
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    audit = AuditService(MemoryAuditStore())
    apis: dict[str, Any] = {}
    background: list[asyncio.Task[None]] = []
    forget = lambda_api(
        apis, settings, db, keys, identity, audit, None, None, None, None, background
    )
    names = [t.get_name() for t in background]
    assert names == ["lambda-api-relay", "object-lambda", "lambda-events", "lambda-sandboxes",
        "lambda-provisioned"]  # fmt: skip
    try:
        app = apis["lambda"]
        assert isinstance(app, LambdaApp) and isinstance(app.service.store, SqlFunctionStore)
        service = app.service
        params: dict[str, Any] = {
            "FunctionName": "fn", "Runtime": host_runtimes()[0], "Role": role,
            "Handler": "app.handler", "Code": {"ZipFile": handler_zip()},
        }  # fmt: skip
        with pytest.raises(InvalidParameterValue, match="exceeded the 0KB limit"):
            await service.create(
                None, tenant, params | {"Environment": {"Variables": {"AB": "x" * 30}}}
            )
        with pytest.raises(RequestTooLarge):
            await service.create(
                None, tenant, params | {"Code": {"ZipFile": handler_zip("#" * 99)}}
            )
        with pytest.raises(InvalidParameterValue, match="not offered"):
            await service.create(None, tenant, params | {"Code": {"S3Bucket": "b", "S3Key": "k"}})
        await service.create(None, tenant, params)
        configs = SqlInvokeConfigStore(db)  # decision 0300: a closed tenant's go too
        await configs.put(EventInvokeConfig(tenant, "fn", "$LATEST", maximum_retry_attempts=0))
        provisioned = SqlProvisionedStore(db)  # decision 0314: and its provisioned ones
        await provisioned.put(ProvisionedConfig(tenant, "fn", "live", 1, 1))
        assert await forget(tenant) == 1
        assert await service.store.records(tenant) == []
        assert await configs.configs(tenant, "fn") == []
        assert await provisioned.configs(tenant) == []
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await audit.close()
        keys.close()
        await db.close()


async def test_the_execution_roles_session(tmp_path: Path) -> None:
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    tenant = boot.tenant.id
    role = (await identity.create_role(tenant, "fn", TRUST)).arn
    sessions = role_sessions(identity)
    given = await sessions(tenant, role, "my-function")
    _, principal = await identity.resolve_access_key(
        given["AWS_ACCESS_KEY_ID"], given["AWS_SESSION_TOKEN"]
    )
    assert principal.arn == f"arn:aws:sts::{tenant}:assumed-role/fn/my-function"
    untrusting = TRUST.replace("lambda.amazonaws.com", "ec2.amazonaws.com")
    other = (await identity.create_role(tenant, "ec2", untrusting)).arn
    assert await sessions(tenant, other, "my-function") == {}
    assert await sessions("000000000009", role, "my-function") == {}


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
async def test_serve_stopping_stops_the_warm_sandboxes_and_removes_their_code(
    tmp_path: Path,
) -> None:
    """The task ``lambda_api`` adds to the background ones: cancelled when ``serve`` stops, it
    closes the pool, so no warm sandbox's unpacked code outlives the gateway."""
    pool = SandboxPool(SandboxLimits(work_dir=tmp_path, idle_seconds=60))
    keeper = asyncio.create_task(_close_on_stop(pool))

    async def prepare() -> tuple[bytes, dict[str, str]]:
        return handler_zip(), {}

    spec = SandboxSpec(("t", "fn"), host_runtimes()[0], "app.handler", 128, 10)
    result = await pool.invoke(spec, prepare, {"id": "r", "event": "1", "arn": "arn:fn"})
    assert result.ok, result
    assert len(list(tmp_path.iterdir())) == 1  # warm, its code unpacked
    keeper.cancel()
    await asyncio.gather(keeper, return_exceptions=True)
    assert list(tmp_path.iterdir()) == []


def test_the_event_retries_spacing_is_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        lambda_event_retry_delay_seconds=5,
        lambda_event_throttle_max_delay_seconds=30,
    )
    policy = retry_policy(settings)
    assert (policy.first_delay_ms, policy.throttle_max_delay_ms) == (5_000, 30_000)
    default = retry_policy(Settings(data_dir=tmp_path))
    assert (default.first_delay_ms, default.throttle_max_delay_ms) == (60_000, 300_000)
    for wrong in ({"lambda_event_retry_delay_seconds": 0},
                  {"lambda_event_throttle_max_delay_seconds": 3601}):  # fmt: skip
        with pytest.raises(ValueError, match="lambda_event_"):
            Settings(data_dir=tmp_path, **wrong)


def test_the_sandboxes_bounds_are_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        lambda_idle_seconds=7.5,
        lambda_sandbox_processes=64,
        lambda_sandbox_files=128,
    )
    limits = sandbox_limits(settings)
    assert (limits.idle_seconds, limits.max_processes, limits.max_files) == (7.5, 64, 128)


async def test_the_limits_are_the_settings(tmp_path: Path) -> None:
    async for world in lambda_world(
        tmp_path,
        lambda_max_payload_bytes=64,
        lambda_max_event_payload_bytes=32,
        lambda_code_storage_bytes=len(handler_zip()) * 2,
        lambda_max_unzipped_bytes=200,
        lambda_max_policy_bytes=400,
        lambda_concurrency_limit=150,
    ):
        await world.function("a")
        await world.function("b")
        storage = await world.fails("UpdateFunctionCode", "CodeStorageExceededException",
            FunctionName="b", ZipFile=handler_zip("# bigger\n" + HANDLER_SOURCE))  # fmt: skip
        assert storage.message == "Code storage limit exceeded."
        await world.fails("UpdateFunctionCode", "InvalidParameterValueException",
            FunctionName="b", ZipFile=handler_zip("#" * 300))  # fmt: skip
        big = b'{"x": "' + b"a" * 64 + b'"}'
        await world.fails("Invoke", "RequestTooLargeException", FunctionName="a", Payload=big)
        await world.fails("Invoke", "RequestTooLargeException", FunctionName="a",
            InvocationType="Event", Payload=b'{"x": "' + b"a" * 32 + b'"}')  # fmt: skip
        await world.fails("PutFunctionConcurrency", "InvalidParameterValueException",
            FunctionName="a", ReservedConcurrentExecutions=51)  # fmt: skip
        await world.client("AddPermission", FunctionName="a", StatementId="one",
            Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")  # fmt: skip
        await world.fails("AddPermission", "PolicyLengthExceededException", FunctionName="a",
            StatementId="two", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
            SourceArn="arn:aws:s3:::" + "b" * 200)  # fmt: skip
