"""AWS Signer's service (decision 0386) over the memory and SQL stores: a profile's key is kept
sealed and never stored in the clear; a job signs the source object version into
``<prefix><jobId>.zip``; ``verify`` proves a signature under its profile version's own key and
says when it expires or was revoked (the job's signature, or the profile's from a time on);
a job whose object cannot be read fails with its reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.signer.envelope import new_signing_key, sign_zip
from andromede.signer.errors import (
    InvalidSignerInput,
    JobNotFound,
    ProfileCanceled,
    ProfileNotFound,
    SignatureInvalid,
    SignerConflict,
    SignerQuota,
)
from andromede.signer.listing import ProfileFilter
from andromede.signer.model import JobStatus, ProfileStatus, Validity
from andromede.signer.service import SignerLimits, SignerService
from andromede.signer.store import MemorySignerStore, SignerStore
from andromede.signer.store_sql import SqlSignerStore
from andromede.wiring.queues import KeySealer
from support.dict_objects import DictObjects
from support.lambda_functions import handler_zip
from support.store_backends import BACKENDS, backend_database

ACCOUNT = "123456789012"
PLATFORM = {"platformId": "AWSLambda-SHA384-ECDSA"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000

    def __call__(self) -> int:
        return self.now


def _job(profile: str = "ci_signer", key: str = "app.zip") -> dict[str, Any]:
    return {
        "profileName": profile,
        "source": {"s3": {"bucketName": "src", "key": key, "version": "1"}},
        "destination": {"s3": {"bucketName": "dst", "prefix": "signed/"}},
        # a fresh token: the same one would answer the first job again (decision 0394)
        "clientRequestToken": uuid.uuid4().hex,
    }


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SignerStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemorySignerStore() if db is None else SqlSignerStore(db)


@pytest.fixture
def objects() -> DictObjects:
    found = DictObjects()
    found.kept[("src", "app.zip")] = handler_zip()
    return found


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signer(store: SignerStore, objects: DictObjects, clock: Clock, tmp_path: Path) -> SignerService:
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    return SignerService(
        store, "eu-fr-1", KeySealer(keys), objects, SignerLimits(max_profiles=2), clock
    )


async def test_a_job_signs_and_the_signature_verifies(
    signer: SignerService, objects: DictObjects, store: SignerStore
) -> None:
    profile = await signer.put_profile(ACCOUNT, "ci_signer", PLATFORM)
    kept = await store.profile(ACCOUNT, "ci_signer")
    assert kept is not None and kept.public_key == profile.public_key
    assert b"PRIVATE" not in kept.sealed_key and len(kept.sealed_key) > 100  # sealed DER
    job = await signer.start_job(object(), ACCOUNT, _job(), "arn:aws:iam::123456789012:root")
    assert (job.status, job.signed_key) == (JobStatus.SUCCEEDED, f"signed/{job.job_id}.zip")
    assert await store.job(ACCOUNT, job.job_id) == job
    signed = objects.kept[("dst", f"signed/{job.job_id}.zip")]
    verified = await signer.verify(signed)
    assert verified is not None
    assert verified.profile_version_arn == signer.version_arn(profile)
    assert verified.expires_at == Validity().expiry(1_800_000_000)
    assert verified.revoked is None
    assert await signer.verify(handler_zip()) is None
    # Closing the account forgets its profile and job, and then its signatures fail.
    assert await store.forget_tenant(ACCOUNT) == 2
    assert await store.profile(ACCOUNT, "ci_signer") is None
    with pytest.raises(SignatureInvalid, match="does not exist"):
        await signer.verify(signed)


async def test_revocation_of_a_job_and_of_a_profile(
    signer: SignerService, objects: DictObjects, clock: Clock
) -> None:
    await signer.put_profile(ACCOUNT, "ci_signer", PLATFORM)
    first = await signer.start_job(object(), ACCOUNT, _job(), "me")
    clock.now += 100
    second = await signer.start_job(object(), ACCOUNT, _job(), "me")
    await signer.revoke_signature(ACCOUNT, first.job_id, {"reason": "leaked"}, "me")
    one = await signer.verify(objects.kept[("dst", f"signed/{first.job_id}.zip")])
    two = await signer.verify(objects.kept[("dst", f"signed/{second.job_id}.zip")])
    assert one is not None and one.revoked == "its signing job was revoked: leaked"
    assert two is not None and two.revoked is None
    profile = await signer.profile(ACCOUNT, "ci_signer")
    # Signatures made from the effective time on are revoked, earlier ones are not.
    await signer.revoke_profile(
        ACCOUNT,
        "ci_signer",
        {"profileVersion": profile.version, "reason": "rotated", "effectiveTime": clock.now},
        "me",
    )
    two = await signer.verify(objects.kept[("dst", f"signed/{second.job_id}.zip")])
    assert two is not None and two.revoked == "its signing profile was revoked: rotated"
    assert (await signer.profile(ACCOUNT, "ci_signer")).status == ProfileStatus.REVOKED
    with pytest.raises(InvalidSignerInput, match="not Active"):
        await signer.start_job(object(), ACCOUNT, _job(), "me")


async def test_a_signature_by_another_key_is_refused(
    signer: SignerService, objects: DictObjects
) -> None:
    profile = await signer.put_profile(ACCOUNT, "ci_signer", PLATFORM)
    forged = sign_zip(
        handler_zip(),
        new_signing_key(),  # not the profile's
        profile_version_arn=signer.version_arn(profile),
        job_arn="arn:aws:signer:eu-fr-1:123456789012:/signing-jobs/x",
        signed_at=1,
        expires_at=2_000_000_000,
    )
    with pytest.raises(SignatureInvalid, match="not made with its profile's key"):
        await signer.verify(forged)
    unknown = forged.replace(b"/ci_signer/", b"/ci_signes/")
    with pytest.raises(SignatureInvalid):
        await signer.verify(unknown)


async def test_a_job_fails_with_its_reason(signer: SignerService) -> None:
    await signer.put_profile(ACCOUNT, "ci_signer", PLATFORM)
    job = await signer.start_job(object(), ACCOUNT, _job(key="missing.zip"), "me")
    assert job.status == JobStatus.FAILED
    assert job.status_reason == "The object s3://src/missing.zip cannot be read"
    assert job.signed_key is None


async def test_profiles_names_quota_cancel(signer: SignerService) -> None:
    with pytest.raises(InvalidSignerInput, match="platformId"):
        await signer.put_profile(ACCOUNT, "ci_signer", {"platformId": "AWSIoTDeviceManagement"})
    with pytest.raises(InvalidSignerInput, match="overrides"):
        await signer.put_profile(
            ACCOUNT, "ci_signer", {**PLATFORM, "overrides": {"signingImageFormat": "JSON"}}
        )
    with pytest.raises(InvalidSignerInput, match="profileName"):
        await signer.put_profile(ACCOUNT, "a-b", PLATFORM)
    await signer.put_profile(ACCOUNT, "one", PLATFORM)
    with pytest.raises(SignerConflict):
        await signer.put_profile(ACCOUNT, "one", PLATFORM)
    await signer.put_profile(ACCOUNT, "two", PLATFORM)
    with pytest.raises(SignerQuota):
        await signer.put_profile(ACCOUNT, "three", PLATFORM)
    await signer.cancel_profile(ACCOUNT, "one")
    shown = (await signer.profile_page(ACCOUNT, ProfileFilter(), None, 25))[0]
    assert [p.name for p in shown] == ["two"]
    shown = (await signer.profile_page(ACCOUNT, ProfileFilter(include_canceled=True), None, 25))[0]
    assert [p.name for p in shown] == ["one", "two"]
    with pytest.raises(ProfileNotFound):
        await signer.profile("999999999999", "two")  # another account's is not found


def test_validity_periods() -> None:
    assert Validity.of({"value": 30, "type": "DAYS"}).expiry(0) == 30 * 86_400
    # 2026-01-31 plus one month is the last day of February.
    assert Validity.of({"value": 1, "type": "MONTHS"}).expiry(1_769_817_600) == 1_772_236_800
    for bad in ({"value": 136, "type": "MONTHS"}, {"value": 0, "type": "DAYS"}, {"type": "X"}):
        with pytest.raises(InvalidSignerInput):
            Validity.of(bad)


async def test_permissions_tags_tokens_and_invokers_are_kept(
    signer: SignerService, store: SignerStore
) -> None:
    """Decision 0394's records survive each store: a profile's statements, revision and tags;
    a job's token, digest and invoker, found by its id alone."""
    await signer.put_profile(ACCOUNT, "ci_signer", PLATFORM)
    partner = "111122223333"
    revision = await signer.add_permission(
        ACCOUNT,
        "ci_signer",
        {"action": "signer:StartSigningJob", "principal": partner, "statementId": "p"},
    )
    arn = f"arn:aws:signer:eu-fr-1:{ACCOUNT}:/signing-profiles/ci_signer"
    await signer.tag_profile(ACCOUNT, arn, {"team": "ci"})
    kept = await store.profile(ACCOUNT, "ci_signer")
    assert kept is not None and kept.policy_revision == revision
    assert [p.statement_id for p in kept.permissions] == ["p"] and kept.tags == {"team": "ci"}
    job = await signer.start_job(
        object(), partner, {**_job(), "profileOwner": ACCOUNT}, f"arn:aws:iam::{partner}:root"
    )
    assert job.status == JobStatus.SUCCEEDED and job.tenant_id == ACCOUNT
    assert await store.job_by_id(job.job_id) == job
    assert (await signer.job(partner, job.job_id)).invoker == partner
    again = await signer.start_job(
        object(),
        partner,
        {**_job(), "profileOwner": ACCOUNT, "clientRequestToken": job.client_token},
        f"arn:aws:iam::{partner}:root",
    )
    assert again == job
    with pytest.raises(JobNotFound):  # a stranger does not find it by its id
        await signer.job("999999999999", job.job_id)


async def test_a_canceled_profile_refuses_its_tagging_calls(
    signer: SignerService, store: SignerStore
) -> None:
    """Decision 0417: TagResource, UntagResource and ListTagsForResource on a canceled
    profile fail, its tags unchanged; a revoked profile is not canceled and is still tagged."""
    await signer.put_profile(ACCOUNT, "gone", {**PLATFORM, "tags": {"team": "ci"}})
    await signer.put_profile(ACCOUNT, "revoked", PLATFORM)
    arn = f"arn:aws:signer:eu-fr-1:{ACCOUNT}:/signing-profiles/gone"
    assert await signer.profile_tags(ACCOUNT, arn) == {"team": "ci"}
    await signer.cancel_profile(ACCOUNT, "gone")
    with pytest.raises(ProfileCanceled):
        await signer.tag_profile(ACCOUNT, arn, {"env": "prod"})
    with pytest.raises(ProfileCanceled):
        await signer.untag_profile(ACCOUNT, arn, ["team"])
    with pytest.raises(ProfileCanceled):
        await signer.profile_tags(ACCOUNT, arn)
    kept = await store.profile(ACCOUNT, "gone")
    assert kept is not None and kept.tags == {"team": "ci"}
    assert kept.status == ProfileStatus.CANCELED
    revoked = arn.replace("gone", "revoked")
    version = (await signer.profile(ACCOUNT, "revoked")).version
    revocation = {"profileVersion": version, "reason": "lost", "effectiveTime": 1_700_000_000}
    await signer.revoke_profile(ACCOUNT, "revoked", revocation, "admin")
    await signer.tag_profile(ACCOUNT, revoked, {"env": "prod"})
    assert await signer.profile_tags(ACCOUNT, revoked) == {"env": "prod"}
