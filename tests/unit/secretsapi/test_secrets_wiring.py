"""Decision 0190's wiring: the settings reach the service's limits and the app's body bound,
the shared port hands Secrets Manager its calls (signed, and unsigned ones naming its
target, which it refuses in its own words), and the sweeper's pass purges the secrets whose
recovery window is over, and only those."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from andromede.api_routing import api_service
from andromede.db.database import open_database
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer as IamSecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.model import Secret
from andromede.secrets.service import Actor, SecretLimits, SecretService, SecretValue
from andromede.secretsapi.authorise import KeyUser
from andromede.settings import Settings
from andromede.wiring.secrets import KmsSecretSealer, secrets_service
from support.schema import migrated_sqlite
from support.secretsapp import REGION, Harness

T0 = datetime(2026, 12, 5, 12, tzinfo=UTC)


def _customer_keys(tmp_path: Path) -> tuple[KeyService, CustomerKeyService]:
    identity = IdentityService(MemoryIdentityStore(), IamSecretSealer(os.urandom(32)))
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    authoriser = KmsAuthoriser(identity.policies_for, REGION)
    return keys, CustomerKeyService(MemoryCustomerKeyStore(), keys, authoriser, region=REGION)


async def test_settings_reach_the_limits(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        secrets_max_value_size=10,
        secrets_max_secrets=2,
        secrets_max_versions=3,
        secrets_max_tags=4,
        secrets_version_grace=60,
        secrets_max_versions_held=7,
        regions=[{"name": REGION}, {"name": "eu-de-1"}, {"name": "eu-it-1"}],
        served_regions=(REGION, "eu-de-1"),
        secrets_replication_retry_interval=2.5,
        secrets_replication_max_backoff=40,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    keys, customer_keys = _customer_keys(tmp_path)
    try:
        service = secrets_service(settings, db, customer_keys)
        assert service.limits == SecretLimits(10, 2, 3, 4, version_grace=60, max_versions_held=7)
        # Decision 0207: where replicas go, which this gateway syncs, how it retries.
        policy = service.replication.policy
        assert policy.regions == {REGION, "eu-de-1", "eu-it-1"}
        assert policy.served == {REGION, "eu-de-1"}
        assert (policy.retry_interval, policy.max_backoff) == (2.5, 40)
    finally:
        keys.close()
        await db.close()


async def test_a_value_beyond_the_setting_is_refused(sm: Harness) -> None:
    # The harness's limit is 1,024 bytes: a byte more is AWS's ValidationException.
    await sm.ok("CreateSecret", {"Name": "fits", "SecretString": "x" * 1024})
    await sm.fails(
        "CreateSecret", {"Name": "big", "SecretString": "é" * 513}, "ValidationException"
    )


def test_the_shared_port_routes_secrets_manager() -> None:
    signed = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [
            (
                b"authorization",
                b"AWS4-HMAC-SHA256 Credential=AKIA/20261205/eu-fr-1/secretsmanager/aws4_request, "
                b"SignedHeaders=host, Signature=00",
            )
        ],
    }
    assert api_service(signed) == "secretsmanager"
    unsigned = {**signed, "headers": [(b"x-amz-target", b"secretsmanager.GetSecretValue")]}
    assert api_service(unsigned) == "secretsmanager"


async def test_the_sweeper_purges_what_is_due(tmp_path: Path) -> None:
    now = [T0]
    keys, customer_keys = _customer_keys(tmp_path)
    service = SecretService(
        MemorySecretStore(), KmsSecretSealer(customer_keys, REGION), clock=lambda: now[0]
    )
    root = Principal(
        "111122223333", None, None, PrincipalKind.ROOT, "arn:aws:iam::111122223333:root"
    )

    async def anyone(action: str, secret: Secret | None) -> None:
        return None

    actor = Actor("111122223333", REGION, anyone, KeyUser(root, None, False, "r1"))
    try:
        for name in ("soon", "later", "kept"):
            await service.create(actor, name, SecretValue(b"v", binary=False))
        await service.delete(actor, "soon", window_days=7, force=False)
        await service.delete(actor, "later", window_days=30, force=False)
        now[0] = T0 + timedelta(days=7)
        purged = await service.purge_due()
        assert [arn.split(":secret:")[1][:-7] for arn in purged] == ["soon"]
        assert await service.purge_due() == []
        listed = await service.list_secrets(actor, include_deleted=True)
        assert sorted(s.name for s, _ in listed) == ["kept", "later"]
        await service.restore(actor, "later")
        now[0] = T0 + timedelta(days=31)
        assert await service.purge_due() == []
    finally:
        keys.close()
