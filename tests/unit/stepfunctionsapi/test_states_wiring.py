"""Decision 0271's wiring: ``serve``'s factory puts the app under ``states`` over the SQL store
(definitions sealed under the account's key ring) with the settings' bounds, its runner in
the background runs an execution once woken by its start, a request whose credential scope
names ``states`` is routed to it, and a closed tenant's machines and executions are
forgotten."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from andromede.api_routing import api_service
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.settings import Settings
from andromede.stepfunctions.errors import (
    ActivityLimitExceeded,
    ExecutionDoesNotExist,
    InvalidExecutionInput,
    StateMachineLimitExceeded,
    ValidationException,
)
from andromede.stepfunctions.runner import RunnerPolicy
from andromede.stepfunctions.store_sql import SqlStateMachineStore
from andromede.stepfunctions.variables import VariableLimits
from andromede.stepfunctionsapi.app import StatesApp
from andromede.wiring.stepfunctions import runner_policy, states_api
from support.schema import migrated_sqlite
from support.statesapp import TRUST

DEFINITION = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
WAITS = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}})


def test_the_runner_follows_its_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        stepfunctions_pass_interval=0.5,
        stepfunctions_execution_lease=30.0,
        stepfunctions_execution_retention_days=7,
        stepfunctions_max_variable_size=10,
        stepfunctions_max_assign_size=20,
        stepfunctions_max_variables_size=30,
    )
    assert runner_policy(settings) == RunnerPolicy(
        pass_interval=0.5, lease_ms=30_000, retention_ms=7 * 86_400_000,
        variables=VariableLimits(variable_size=10, assign_size=20, total_size=30),
    )  # fmt: skip


def test_step_functions_calls_are_routed_by_their_credential_scope() -> None:
    signed = {
        "type": "http", "path": "/", "query_string": b"",
        "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/20261206/eu-fr-1/states/"
                     b"aws4_request, SignedHeaders=host, Signature=00")],
    }  # fmt: skip
    assert api_service(signed) == "states"


async def test_serve_wires_step_functions_over_the_database(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region="eu-fr-1",
        stepfunctions_max_state_machines=2,
        stepfunctions_max_definition_size=len(WAITS),
        stepfunctions_max_payload_size=100,
        stepfunctions_max_history_events=50,
        stepfunctions_pass_interval=0.05,
        stepfunctions_stop_wait=2.5,
        stepfunctions_express_max_seconds=1.0,
        stepfunctions_activity_poll_timeout=0.0,
        stepfunctions_max_activities=1,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    tenant = boot.tenant.id
    role = await identity.create_role(tenant, "sfn", TRUST)
    audit = AuditService(MemoryAuditStore())
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    apis: dict[str, Any] = {}
    task, forget = states_api(apis, settings, db, keys, identity, audit, None)
    try:
        app = apis["states"]
        assert isinstance(app, StatesApp) and isinstance(app.service.store, SqlStateMachineStore)
        service = app.service
        with pytest.raises(ValidationException):
            await service.create(tenant, {"name": "big", "definition": WAITS + " ",
                                          "roleArn": role.arn})  # fmt: skip
        made = await service.create(tenant, {"name": "m", "definition": DEFINITION,
                                             "roleArn": role.arn})  # fmt: skip
        assert (await service.get(tenant, made.arn)).definition == DEFINITION
        executions = app.executions
        assert executions is not None
        assert (executions.limits.max_payload_size, executions.limits.max_history_events) == (
            100,
            50,
        )
        assert executions.limits.stop_wait == 2.5  # decision 0407
        with pytest.raises(InvalidExecutionInput):
            await executions.start(tenant, {"stateMachineArn": made.arn, "input": "[" * 101})
        started = await executions.start(tenant, {"stateMachineArn": made.arn, "input": "{}"})
        for _ in range(100):  # the runner in the background, woken by the start
            current = await executions.get(tenant, started.arn)
            if current.status.value != "RUNNING":
                break
            await asyncio.sleep(0.05)
        assert current.status.value == "SUCCEEDED" and current.output == "{}"
        express = await service.create(tenant, {"name": "x", "type": "EXPRESS", "roleArn":
                                                role.arn, "definition": WAITS})  # fmt: skip
        with pytest.raises(StateMachineLimitExceeded):
            await service.create(tenant, {"name": "n", "definition": DEFINITION,
                                          "roleArn": role.arn})  # fmt: skip
        sync = app.sync
        assert sync is not None
        ran = await sync.run(tenant, {"stateMachineArn": express.arn})
        assert ran.status == "TIMED_OUT"  # past the setting's 1 s
        activities = app.activities
        assert activities is not None
        made = await activities.create(tenant, {"name": "a"})
        assert await activities.take_task(tenant, made.arn, "w") is None  # no wait: 0 s
        with pytest.raises(ActivityLimitExceeded):
            await activities.create(tenant, {"name": "b"})
        assert await forget(tenant) == 2  # its two state machines
        with pytest.raises(ExecutionDoesNotExist):
            await executions.get(tenant, started.arn)
        assert (await service.list(tenant, None, None))[0] == []
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await audit.close()
        await db.close()
        keys.close()
