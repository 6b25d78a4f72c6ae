"""Decision 0190, session 49, through the in-process app over the real KMS service and sealer:
UpdateSecret with a new ``KmsKeyId`` re-encrypts the versions labelled ``AWSCURRENT``,
``AWSPENDING`` and ``AWSPREVIOUS`` under the new key (the others keep the old one), as the
caller; a caller who cannot use the old key, or an old key disabled, leaves the versions as
they were while the key changes all the same (AWS's documented behaviour); a write landing
meanwhile makes the change read and re-encrypt again. And the secrets
held, those marked for deletion not counted, sampled as ``secretsmanager.secrets``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from andromede.billing.model import catalogue, line_amounts, parse_month
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.iam.model import Principal, PrincipalKind
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.model import Secret, SecretVersion
from andromede.secrets.service import Actor, SecretService, SecretValue
from andromede.secretsapi.authorise import KeyUser
from andromede.wiring.kms_envelopes import envelope_key, envelopes
from andromede.wiring.secrets import KmsSecretSealer
from support.secretsapp import REGION, Harness


async def _anyone(action: str, secret: Secret | None) -> None:
    return None


async def _keys_of(sm: Harness, name: str) -> dict[str, tuple[str, ...]]:
    """Each version's keys, its envelopes' (the newest first), read from the sealed form."""
    _, versions = await sm.secrets.describe(Actor(sm.tenant_id, REGION, _anyone), name)
    return {v.version_id: tuple(map(envelope_key, envelopes(v.sealed))) for v in versions}


async def _value(sm: Harness, name: str, version_id: str) -> str:
    got = await sm.ok("GetSecretValue", {"SecretId": name, "VersionId": version_id})
    return str(got["SecretString"])


async def test_a_new_key_re_encrypts_the_labelled_versions_only(sm: Harness) -> None:
    old = await sm.keys.create_key(sm.key_caller())
    new = await sm.keys.create_key(sm.key_caller())
    made = await sm.ok("CreateSecret", {"Name": "db", "SecretString": "v0", "KmsKeyId": old.key_id})
    ids = [made["VersionId"]]
    for n in range(1, 4):
        put: dict[str, object] = {"SecretId": "db", "SecretString": f"v{n}"}
        if n == 1:
            put["VersionStages"] = ["mine"]  # a label of the caller's: not re-encrypted
        ids.append((await sm.ok("PutSecretValue", put))["VersionId"])
    await sm.ok(
        "UpdateSecretVersionStage",
        {"SecretId": "db", "VersionStage": "AWSPENDING", "MoveToVersionId": ids[2]},
    )
    listed = await sm.ok("ListSecretVersionIds", {"SecretId": "db", "IncludeDeprecated": True})
    stages = {v["VersionId"]: v["VersionStages"] for v in listed["Versions"]}
    # v0 is unlabelled, v1 "mine", v2 AWSPREVIOUS and AWSPENDING, v3 AWSCURRENT.
    assert stages == {
        ids[0]: [],
        ids[1]: ["mine"],
        ids[2]: ["AWSPREVIOUS", "AWSPENDING"],
        ids[3]: ["AWSCURRENT"],
    }
    before = await _keys_of(sm, "db")
    assert set(before.values()) == {(old.arn,)}

    await sm.ok("UpdateSecret", {"SecretId": "db", "KmsKeyId": new.arn})
    # The labelled ones under the new key, their old envelope kept (AWS: they decrypt "with
    # the previous key or the new key"); the others under the old key only.
    after = await _keys_of(sm, "db")
    both = (new.arn, old.arn)
    assert after == {ids[0]: (old.arn,), ids[1]: (old.arn,), ids[2]: both, ids[3]: both}
    described = await sm.ok("DescribeSecret", {"SecretId": "db"})
    assert described["KmsKeyId"] == new.arn
    # Each value reads back the same; with the old key disabled, the re-encrypted ones still
    # open, the others no longer (AWS: re-create them under the new key to keep them).
    assert [await _value(sm, "db", v) for v in ids] == ["v0", "v1", "v2", "v3"]
    await sm.keys.disable_key(sm.key_caller(), new.key_id)
    assert await _value(sm, "db", ids[3]) == "v3"  # through the previous key's envelope
    await sm.keys.enable_key(sm.key_caller(), new.key_id)
    await sm.keys.disable_key(sm.key_caller(), old.key_id)
    assert await _value(sm, "db", ids[3]) == "v3"
    assert await _value(sm, "db", ids[2]) == "v2"
    await sm.fails("GetSecretValue", {"SecretId": "db", "VersionId": ids[1]}, "DecryptionFailure")
    # The re-encryption's key uses are the caller's, audited: Decrypt under the old key,
    # GenerateDataKey under the new, one each per labelled version.
    await sm.audit.flush()
    records = [e for _, e in await sm.audit_store.list_events(None, after_id=0, limit=500)]
    update = next(e for e in records if e.action == "secretsmanager:UpdateSecret")
    uses = [
        (e.action, e.resource)
        for e in records
        if e.request_id == update.request_id and e.action.startswith("kms:")
    ]
    assert sorted(uses) == sorted(
        [("kms:Decrypt", old.arn)] * 2 + [("kms:GenerateDataKey", new.arn)] * 2
    )


async def test_an_old_key_disabled_leaves_the_versions_as_they_were(sm: Harness) -> None:
    old = await sm.keys.create_key(sm.key_caller())
    new = await sm.keys.create_key(sm.key_caller())
    await sm.ok("CreateSecret", {"Name": "k", "SecretString": "v0", "KmsKeyId": old.key_id})
    await sm.keys.disable_key(sm.key_caller(), old.key_id)
    # AWS: "Secrets Manager can't decrypt the secret versions to re-encrypt them. In this
    # case, the existing versions are not re-encrypted." The key changes all the same.
    await sm.ok("UpdateSecret", {"SecretId": "k", "KmsKeyId": new.key_id})
    assert set((await _keys_of(sm, "k")).values()) == {(old.arn,)}
    assert (await sm.ok("DescribeSecret", {"SecretId": "k"}))["KmsKeyId"] == new.key_id
    await sm.fails("GetSecretValue", {"SecretId": "k"}, "DecryptionFailure")
    # New versions go under the new key; the old one, enabled again, opens the old versions.
    await sm.ok("PutSecretValue", {"SecretId": "k", "SecretString": "v1"})
    assert (new.arn,) in (await _keys_of(sm, "k")).values()
    await sm.keys.enable_key(sm.key_caller(), old.key_id)
    got = await sm.ok("GetSecretValue", {"SecretId": "k", "VersionStage": "AWSPREVIOUS"})
    assert got["SecretString"] == "v0"


async def test_the_caller_needs_decrypt_on_the_old_key(sm: Harness) -> None:
    old = await sm.keys.create_key(sm.key_caller())
    new = await sm.keys.create_key(sm.key_caller())
    await sm.ok("CreateSecret", {"Name": "u", "SecretString": "v0", "KmsKeyId": old.key_id})
    user = await sm.iam_user("rekeyer")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": new.arn,
            },
        ],
    }
    await sm.identity.put_user_policy(sm.tenant_id, "rekeyer", "p", json.dumps(policy))
    # The user may use the new key only: nothing is re-encrypted, the key changes.
    await user.ok("UpdateSecret", {"SecretId": "u", "KmsKeyId": new.arn})
    assert set((await _keys_of(sm, "u")).values()) == {(old.arn,)}
    await user.fails("GetSecretValue", {"SecretId": "u"}, "AccessDeniedException")
    # The account's root may use both: back to the old key (one envelope: the same key's
    # twice is once), then to the new one, the old one's kept.
    await sm.ok("UpdateSecret", {"SecretId": "u", "KmsKeyId": old.arn})
    assert set((await _keys_of(sm, "u")).values()) == {(old.arn,)}
    await sm.ok("UpdateSecret", {"SecretId": "u", "KmsKeyId": new.arn})
    assert set((await _keys_of(sm, "u")).values()) == {(new.arn, old.arn)}
    assert (await user.ok("GetSecretValue", {"SecretId": "u"}))["SecretString"] == "v0"


async def test_a_new_key_with_a_new_value(sm: Harness) -> None:
    old = await sm.keys.create_key(sm.key_caller())
    new = await sm.keys.create_key(sm.key_caller())
    await sm.ok("CreateSecret", {"Name": "b", "SecretString": "v0", "KmsKeyId": old.key_id})
    done = await sm.ok("UpdateSecret", {"SecretId": "b", "KmsKeyId": new.arn, "SecretString": "v1"})
    keys = await _keys_of(sm, "b")
    assert sorted(keys.values()) == [(new.arn,), (new.arn, old.arn)]  # the new one, v0
    assert (await sm.ok("GetSecretValue", {"SecretId": "b"}))["VersionId"] == done["VersionId"]


async def test_the_secrets_held_are_sampled_as_secret_months(sm: Harness) -> None:
    for name in ("a", "b", "c"):
        await sm.ok("CreateSecret", {"Name": name, "SecretString": "v"})
    await sm.ok("DeleteSecret", {"SecretId": "c", "RecoveryWindowInDays": 7})
    held = await sm.secrets.held()
    assert held == {(sm.tenant_id, REGION): 2}  # no charge for a secret marked for deletion
    await sm.ok("RestoreSecret", {"SecretId": "c"})
    await sm.ok("DeleteSecret", {"SecretId": "b", "ForceDeleteWithoutRecovery": True})
    assert await sm.secrets.held() == {(sm.tenant_id, REGION): 2}

    start = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    now = [start]
    store = MemoryBillingStore()
    billing = BillingService(store, region=REGION, instance_types=[], clock=lambda: now[0])
    sampler = UsageSampler(billing, interval=60, secrets=sm.secrets.held)
    await sampler.sample()
    now[0] = start + timedelta(minutes=45)
    await sampler.sample()
    december = parse_month("2026-12")
    by_hour = {
        (i.meter, i.hour.hour): i.quantity
        for i in await store.usage_by_hour(sm.tenant_id, december.start, december.end)
    }
    assert by_hour == {
        ("secretsmanager.secrets", 9): 2 * 1800,
        ("secretsmanager.secrets", 10): 2 * 900,
    }
    # A line of the account's usage report, priced as the operator sets it.
    await billing.set_price(REGION, "secretsmanager.secrets", "0.40")
    report = await billing.usage_report(sm.tenant_id, december)
    [line] = [x for x in report.lines if x.meter == "secretsmanager.secrets"]
    assert (line.quantity, line.unit, line.price_unit) == (5400, "secret-seconds", "secret-month")
    assert line.unit_price == Decimal("0.40")
    # Priced per secret-month (730 h), as AWS's USD 0.40: a secret a whole month.
    meter = catalogue([])["secretsmanager.secrets"]
    usage, net, _ = line_amounts(730 * 3600, meter, Decimal("0.40"), Decimal(0))
    assert (usage, net) == (Decimal(1), Decimal("0.40"))
    await billing.close()


class _RacingSealer:
    """The real sealer, but the first time a version is re-encrypted, another writer's
    PutSecretValue lands first (between the key change's reads and its write)."""

    def __init__(self, inner: KmsSecretSealer) -> None:
        self._inner = inner
        self.service: SecretService | None = None
        self.actor: Actor | None = None

    async def seal(
        self, secret: Secret, version_id: str, plaintext: bytes, caller: object
    ) -> bytes:
        return await self._inner.seal(secret, version_id, plaintext, caller)

    async def open(self, secret: Secret, version: SecretVersion, caller: object) -> bytes:
        return await self._inner.open(secret, version, caller)

    async def reseal(
        self, secret: Secret, version: SecretVersion, plaintext: bytes, caller: object
    ) -> bytes:
        if self.service is not None and self.actor is not None:
            service, self.service = self.service, None
            await service.put_value(self.actor, secret.arn, SecretValue(b"raced", binary=False))
        return await self._inner.reseal(secret, version, plaintext, caller)


async def test_a_write_meanwhile_is_re_encrypted_too(sm: Harness) -> None:
    # The key change writes against the revision it read: a PutSecretValue landing between
    # its reads and its write makes it read and re-encrypt again, so the raced version (made
    # under the old key) does not stay AWSCURRENT under it.
    old = await sm.keys.create_key(sm.key_caller())
    new = await sm.keys.create_key(sm.key_caller())
    sealer = _RacingSealer(KmsSecretSealer(sm.keys, REGION))
    service = SecretService(MemorySecretStore(), sealer)
    root = Principal(
        sm.tenant_id, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{sm.tenant_id}:root"
    )
    actor = Actor(sm.tenant_id, REGION, _anyone, KeyUser(root, None, False, "r1"))
    await service.create(actor, "r", SecretValue(b"v0", binary=False), kms_key_id=old.arn)
    sealer.service, sealer.actor = service, actor
    await service.update(actor, "r", kms_key_id=new.arn)
    assert sealer.service is None  # the race happened
    _, versions = await service.list_versions(actor, "r")
    assert sorted(v.stages for v in versions) == [("AWSCURRENT",), ("AWSPREVIOUS",)]
    for version in versions:
        assert envelope_key(envelopes(version.sealed)[0]) == new.arn
    _, _, value = await service.get_value(actor, "r")
    assert value == b"raced"
