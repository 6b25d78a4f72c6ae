"""The trust stores' ``BucketObjects`` adapter (decision 0256) over a real S3 app's object
service and S3's authoriser: a bundle read as the caller — the account's root reads it, an
IAM user without ``s3:GetObject`` does not, another account does not —, a missing object or
bucket is None, an object beyond the limit is not read whole."""

from __future__ import annotations

from pathlib import Path

from andromede.iam.service_core import user_principal
from andromede.loadbalancing_adapters import BucketObjects
from andromede.s3.authorise import S3Authoriser
from support.s3app import REGION, in_process_client


async def test_bundles_are_read_as_the_caller(tmp_path: Path) -> None:
    async with in_process_client(tmp_path) as client:
        identity, objects = client.identity, client.objects
        assert identity is not None and objects is not None
        assert (await client.request("PUT", "/certs")).status == 200
        bundle = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        assert (await client.request("PUT", "/certs/ca.pem", bundle)).status == 200
        reader = BucketObjects(objects, S3Authoriser(identity.policies_for, REGION))
        root = user_principal(await identity.get_user(client.tenant_id, "root"))
        assert await reader.read(root, "certs", "ca.pem", None, 1024) == bundle
        assert await reader.read(root, "certs", "none.pem", None, 1024) is None
        assert await reader.read(root, "nobucket", "ca.pem", None, 1024) is None
        assert await reader.read(root, "certs", "ca.pem", "no-such-version", 1024) is None
        # Beyond the limit: more than the limit, not the object.
        assert len(await reader.read(root, "certs", "ca.pem", None, 10) or b"") == 11
        # An IAM user without a policy, another account: refused.
        await identity.create_user(client.tenant_id, "bob")
        bob = user_principal(await identity.get_user(client.tenant_id, "bob"))
        assert await reader.read(bob, "certs", "ca.pem", None, 1024) is None
        other = await client.other_tenant("other")
        assert other.identity is not None
        stranger = user_principal(await other.identity.get_user(other.tenant_id, "root"))
        assert await reader.read(stranger, "certs", "ca.pem", None, 1024) is None
        assert await reader.read("not a principal", "certs", "ca.pem", None, 1024) is None
