"""Decision 0271's wiring: ``serve``'s factory puts the app under ``states`` over the SQL store
(definitions sealed under the account's key ring) with the settings' bounds, a request whose
credential scope names ``states`` is routed to it, and a closed tenant's machines are
forgotten."""

from __future__ import annotations

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
from andromede.stepfunctions.errors import StateMachineLimitExceeded, ValidationException
from andromede.stepfunctions.store_sql import SqlStateMachineStore
from andromede.stepfunctionsapi.app import StatesApp
from andromede.wiring.stepfunctions import states_api
from support.schema import migrated_sqlite
from support.statesapp import TRUST

DEFINITION = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})


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
        stepfunctions_max_state_machines=1,
        stepfunctions_max_definition_size=len(DEFINITION),
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    tenant = boot.tenant.id
    role = await identity.create_role(tenant, "sfn", TRUST)
    audit = AuditService(MemoryAuditStore())
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    apis: dict[str, Any] = {}
    forget = states_api(apis, settings, db, keys, identity, audit, None)
    try:
        app = apis["states"]
        assert isinstance(app, StatesApp) and isinstance(app.service.store, SqlStateMachineStore)
        service = app.service
        with pytest.raises(ValidationException):
            await service.create(tenant, {"name": "big", "definition": DEFINITION + " ",
                                          "roleArn": role.arn})  # fmt: skip
        made = await service.create(tenant, {"name": "m", "definition": DEFINITION,
                                             "roleArn": role.arn})  # fmt: skip
        assert (await service.get(tenant, made.arn)).definition == DEFINITION
        with pytest.raises(StateMachineLimitExceeded):
            await service.create(tenant, {"name": "n", "definition": DEFINITION,
                                          "roleArn": role.arn})  # fmt: skip
        assert await forget(tenant) == 1
        assert (await service.list(tenant, None, None))[0] == []
    finally:
        await audit.close()
        await db.close()
        keys.close()
