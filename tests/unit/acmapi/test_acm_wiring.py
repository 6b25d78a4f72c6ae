"""Certificate Manager's wiring (decision 0230): the shared port routes ``acm`` (signed by its
credential scope, unsigned by its ``CertificateManager.`` target, refused in ACM's words);
``serve``'s factory puts the app under ``acm`` over the SQL store with the settings' bound,
its keys sealed by IAM's certificates' sealer (none wired: a configuration error, never a
clear key), its expiry check started, and what closing a tenant forgets."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from andromede.acm.store_sql import SqlCertificateStore
from andromede.acmapi.app import AcmApp
from andromede.api_routing import api_service
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.errors import ConfigurationError
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.acm import acm_api
from andromede.wiring.queues import KeySealer
from support.acmapp import REGION, issue
from support.firehoseapp import RecordingSink
from support.keys import key_service_in
from support.schema import migrated_sqlite


def test_the_shared_port_routes_acm() -> None:
    signed: dict[str, Any] = {
        "type": "http", "method": "POST", "path": "/", "query_string": b"",
        "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AKIA/20261206/eu-fr-1/acm/"
                     b"aws4_request, SignedHeaders=host, Signature=00")],
    }  # fmt: skip
    assert api_service(signed) == "acm"
    unsigned = {**signed, "headers": [(b"x-amz-target", b"CertificateManager.ListCertificates")]}
    assert api_service(unsigned) == "acm"


async def test_serve_wires_acm_over_the_database(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(data_dir=tmp_path / "data", region=REGION, acm_max_certificates=7,
                        acm_expiry_check_interval=0.05)  # fmt: skip
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    apis: dict[str, Any] = {}
    try:
        with pytest.raises(ConfigurationError):
            acm_api(apis, settings, db, identity, audit, None)
        identity.certificate_sealer = KeySealer(key_service_in(tmp_path / "keys"))
        sink = RecordingSink()
        acm, forget, task = acm_api(apis, settings, db, identity, audit, None, sink=sink)
        assert isinstance(apis["acm"], AcmApp) and apis["acm"].service is acm
        assert isinstance(acm.store, SqlCertificateStore)
        issued = issue("www.example.test")
        made = await acm.import_certificate("111111111111", issued.body, issued.key)
        assert await acm.private_key("111111111111", made.arn) == issued.key.encode()
        for _ in range(100):  # the expiry check's next round
            if sink.points:
                break
            await asyncio.sleep(0.05)
        assert [p[2] for p in sink.points] == ["DaysToExpiry"]
        assert await forget("111111111111") == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await audit.close()
        await db.close()
