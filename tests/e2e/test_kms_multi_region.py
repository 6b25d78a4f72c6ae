"""Multi-Region KMS keys (decision 0138) through boto3 against a real ``andromede serve`` that
declares two regions: each region's KMS endpoint is picked by the region the client signs for;
a multi-Region key made in one is replicated to the other, a ciphertext made in either opens in
the other (with imported key material too, imported into each region's key), UpdatePrimaryRegion
swaps the roles, a primary with replicas waits for them (PendingReplicaDeletion), and no key
goes to — nor any call is served for — a region the operator did not declare. Every call is
audited."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from support.audit_events import recorded_events
from support.server import REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e

FR, DE, UNDECLARED = REGION, "eu-de-1", "us-east-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("kms-regions") / "data"
    regions = [{"name": FR, "jurisdiction": "FR"}, {"name": DE, "jurisdiction": "DE"}]
    env = {"ANDROMEDE_REGIONS": json.dumps(regions), "ANDROMEDE_WORKERS": "1"}
    with running_server(data_dir, extra_env=env) as running:
        yield running


def kms_in(server: ServerProcess, region: str) -> Any:
    access_key, secret_key = server.credentials()
    return boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def expect(code: str, call: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value


def test_each_declared_region_is_an_endpoint_of_its_own(server: ServerProcess) -> None:
    fr, de = kms_in(server, FR), kms_in(server, DE)
    here = fr.create_key(Description="fr only")["KeyMetadata"]
    there = de.create_key(Description="de only")["KeyMetadata"]
    assert here["Arn"].startswith(f"arn:aws:kms:{FR}:")
    assert there["Arn"].startswith(f"arn:aws:kms:{DE}:")
    assert here["MultiRegion"] is False
    expect("NotFoundException", de.describe_key, KeyId=here["KeyId"])
    expect("NotFoundException", de.describe_key, KeyId=here["Arn"])
    expect("NotFoundException", fr.describe_key, KeyId=there["KeyId"])
    assert there["KeyId"] in {k["KeyId"] for k in de.list_keys()["Keys"]}
    assert there["KeyId"] not in {k["KeyId"] for k in fr.list_keys()["Keys"]}
    # A region the operator did not declare has no endpoint here.
    with pytest.raises(ClientError) as caught:
        kms_in(server, UNDECLARED).list_keys()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert UNDECLARED in caught.value.response["Error"]["Message"]


def test_multi_region_key_life(server: ServerProcess) -> None:
    fr, de = kms_in(server, FR), kms_in(server, DE)
    created = fr.create_key(MultiRegion=True, Description="mrk primary")["KeyMetadata"]
    key_id = created["KeyId"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key_id)
    assert created["MultiRegion"] is True
    assert created["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": created["Arn"], "Region": FR},
        "ReplicaKeys": [],
    }
    # Replicate: only to a declared region, and only once.
    expect(
        "UnsupportedOperationException", fr.replicate_key, KeyId=key_id, ReplicaRegion=UNDECLARED
    )
    replicated = fr.replicate_key(
        KeyId=key_id,
        ReplicaRegion=DE,
        Description="mrk replica",
        Tags=[{"TagKey": "site", "TagValue": "frankfurt"}],
    )
    replica = replicated["ReplicaKeyMetadata"]
    assert replica["Arn"] == created["Arn"].replace(f":{FR}:", f":{DE}:")
    assert replica["KeyId"] == key_id
    assert replica["Description"] == "mrk replica"
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert replicated["ReplicaTags"] == [{"TagKey": "site", "TagValue": "frankfurt"}]
    assert json.loads(replicated["ReplicaPolicy"])["Statement"]
    expect("AlreadyExistsException", fr.replicate_key, KeyId=key_id, ReplicaRegion=DE)
    described = fr.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert described["ReplicaKeys"] == [{"Arn": replica["Arn"], "Region": DE}]
    assert de.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"][
        "PrimaryKey"
    ] == {"Arn": created["Arn"], "Region": FR}
    # One material: what one region encrypts, the other decrypts.
    made_fr = fr.encrypt(KeyId=key_id, Plaintext=b"from paris", EncryptionContext={"a": "b"})
    opened = de.decrypt(CiphertextBlob=made_fr["CiphertextBlob"], EncryptionContext={"a": "b"})
    assert (opened["Plaintext"], opened["KeyId"]) == (b"from paris", replica["Arn"])
    made_de = de.generate_data_key(KeyId=replica["Arn"], KeySpec="AES_256")
    assert fr.decrypt(CiphertextBlob=made_de["CiphertextBlob"])["Plaintext"] == made_de["Plaintext"]
    # UpdatePrimaryRegion: the replica becomes the primary.
    expect(
        "UnsupportedOperationException", de.update_primary_region, KeyId=key_id, PrimaryRegion=FR
    )
    fr.update_primary_region(KeyId=key_id, PrimaryRegion=DE)
    assert de.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": replica["Arn"], "Region": DE},
        "ReplicaKeys": [{"Arn": created["Arn"], "Region": FR}],
    }
    expect("UnsupportedOperationException", fr.replicate_key, KeyId=key_id, ReplicaRegion=DE)
    assert (
        fr.decrypt(CiphertextBlob=made_fr["CiphertextBlob"], EncryptionContext={"a": "b"})[
            "Plaintext"
        ]
        == b"from paris"
    )
    # Deletion: the primary (now in DE) waits for its replica; the replica has its own window.
    waiting = de.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=9)
    assert waiting["KeyState"] == "PendingReplicaDeletion"
    assert "DeletionDate" not in waiting
    assert waiting["PendingWindowInDays"] == 9
    metadata = de.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["PendingDeletionWindowInDays"]) == (
        "PendingReplicaDeletion",
        9,
    )
    expect("KMSInvalidStateException", de.encrypt, KeyId=key_id, Plaintext=b"x")
    expect("KMSInvalidStateException", de.replicate_key, KeyId=key_id, ReplicaRegion=FR)
    fr.encrypt(KeyId=key_id, Plaintext=b"the replica still works")
    scheduled = fr.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["DeletionDate"]
    de.cancel_key_deletion(KeyId=key_id)
    assert de.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_replicate_and_update_are_audited(server: ServerProcess) -> None:
    fr = kms_in(server, FR)
    key = fr.create_key(MultiRegion=True)["KeyMetadata"]
    fr.replicate_key(KeyId=key["KeyId"], ReplicaRegion=DE)
    replica_arn = key["Arn"].replace(f":{FR}:", f":{DE}:")
    kms_in(server, DE).encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    fr.update_primary_region(KeyId=key["KeyId"], PrimaryRegion=DE)
    database = Path(server.data_dir) / "metadata.sqlite3"
    wanted = {
        ("kms:ReplicateKey", key["Arn"]),
        ("kms:Encrypt", replica_arn),
        ("kms:UpdatePrimaryRegion", key["Arn"]),
    }
    deadline = time.monotonic() + 15
    seen: set[tuple[str, str]] = set()
    while time.monotonic() < deadline and not wanted <= seen:
        seen = {
            (e.action, part)
            for e in recorded_events(database)
            if e.outcome.value == "success"
            for part in e.resource.split(",")
        }
        time.sleep(0.2)
    assert wanted <= seen
    # ReplicateKey names both keys; UpdatePrimaryRegion both too.
    assert ("kms:ReplicateKey", replica_arn) in seen
    assert ("kms:UpdatePrimaryRegion", replica_arn) in seen


def test_sse_kms_with_a_multi_region_key_of_the_default_region(server: ServerProcess) -> None:
    """S3 takes a multi-Region key of its (default) region like any key there: the object's
    data key is wrapped by the shared ring, and reads open it."""
    fr = kms_in(server, FR)
    key = fr.create_key(MultiRegion=True)["KeyMetadata"]
    access_key, secret_key = server.credentials()
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=FR,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    s3.create_bucket(Bucket="mrk-sse")
    put = s3.put_object(
        Bucket="mrk-sse",
        Key="o",
        Body=b"object under an mrk",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["KeyId"],
    )
    assert put["SSEKMSKeyId"] == key["Arn"]
    got = s3.get_object(Bucket="mrk-sse", Key="o")
    assert got["Body"].read() == b"object under an mrk"
    assert got["SSEKMSKeyId"] == key["Arn"]
    fr.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="mrk-sse", Key="o")
    assert caught.value.response["Error"]["Code"] == "KMS.DisabledException"


def test_requested_region_is_the_signed_region(server: ServerProcess) -> None:
    """``aws:RequestedRegion`` is the region a KMS call is signed for, so an IAM policy can
    keep a user's KMS use in one region."""
    access_key, secret_key = server.credentials()
    iam = boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=FR,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )
    iam.create_user(UserName="paris-only")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": FR}},
            }
        ],
    }
    iam.put_user_policy(UserName="paris-only", PolicyName="fr", PolicyDocument=json.dumps(policy))
    made = iam.create_access_key(UserName="paris-only")["AccessKey"]

    def as_user(region: str) -> Any:
        return boto3.client(
            "kms",
            endpoint_url=server.endpoint,
            region_name=region,
            aws_access_key_id=made["AccessKeyId"],
            aws_secret_access_key=made["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}),
        )

    deadline = time.monotonic() + 15  # a new access key may take a moment to be known
    while True:
        try:
            key = as_user(FR).create_key(MultiRegion=True)["KeyMetadata"]
            break
        except ClientError as exc:
            if (
                time.monotonic() > deadline
                or exc.response["Error"]["Code"] == "AccessDeniedException"
            ):
                raise
            time.sleep(0.2)
    expect("AccessDeniedException", as_user(DE).create_key)
    expect("AccessDeniedException", as_user(FR).replicate_key, KeyId=key["KeyId"], ReplicaRegion=DE)


def test_an_alias_per_region(server: ServerProcess) -> None:
    """Aliases are regional (decision 0138): alias/app made in each region at the primary and
    its replica, as a Terraform module applied per region does; a ciphertext made through it
    in one region opens through it in the other; each region lists its own; an alias never
    points at a key of another region."""
    fr, de = kms_in(server, FR), kms_in(server, DE)
    primary = fr.create_key(MultiRegion=True, Description="aliased")["KeyMetadata"]
    key_id = primary["KeyId"]
    replica = fr.replicate_key(KeyId=key_id, ReplicaRegion=DE)["ReplicaKeyMetadata"]
    fr.create_alias(AliasName="alias/app", TargetKeyId=primary["Arn"])
    de.create_alias(AliasName="alias/app", TargetKeyId=key_id)  # the replica, in its region
    expect("AlreadyExistsException", de.create_alias, AliasName="alias/app", TargetKeyId=key_id)
    assert fr.describe_key(KeyId="alias/app")["KeyMetadata"]["Arn"] == primary["Arn"]
    assert de.describe_key(KeyId="alias/app")["KeyMetadata"]["Arn"] == replica["Arn"]
    made = fr.encrypt(KeyId="alias/app", Plaintext=b"via alias", EncryptionContext={"a": "b"})
    assert made["KeyId"] == primary["Arn"]
    opened = de.decrypt(
        CiphertextBlob=made["CiphertextBlob"], EncryptionContext={"a": "b"}, KeyId="alias/app"
    )
    assert (opened["Plaintext"], opened["KeyId"]) == (b"via alias", replica["Arn"])
    back = de.encrypt(KeyId=f"arn:aws:kms:{DE}:{primary['AWSAccountId']}:alias/app", Plaintext=b"x")
    assert fr.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"x"
    # ListAliases: each region's, with its region in the ARN, at that region's key.
    for client, region, target in ((fr, FR, primary), (de, DE, replica)):
        (entry,) = [a for a in client.list_aliases()["Aliases"] if a["AliasName"] == "alias/app"]
        assert entry["AliasArn"] == f"arn:aws:kms:{region}:{target['AWSAccountId']}:alias/app"
        assert entry["TargetKeyId"] == key_id
        listed = client.list_aliases(KeyId=target["Arn"])["Aliases"]
        assert [a["AliasName"] for a in listed] == ["alias/app"]
    # An alias ARN of the other region names nothing here.
    expect("NotFoundException", fr.encrypt, KeyId=entry["AliasArn"], Plaintext=b"x")
    # UpdateAlias (and CreateAlias) to a key of the other region: NotFoundException, as on AWS.
    single_fr = fr.create_key(Description="fr only")["KeyMetadata"]
    expect(
        "NotFoundException", de.update_alias, AliasName="alias/app", TargetKeyId=single_fr["Arn"]
    )
    expect("NotFoundException", de.create_alias, AliasName="alias/fr", TargetKeyId=single_fr["Arn"])
    assert de.describe_key(KeyId="alias/app")["KeyMetadata"]["Arn"] == replica["Arn"]
    fr.update_alias(AliasName="alias/app", TargetKeyId=single_fr["KeyId"])
    assert fr.describe_key(KeyId="alias/app")["KeyMetadata"]["Arn"] == single_fr["Arn"]
    assert de.describe_key(KeyId="alias/app")["KeyMetadata"]["Arn"] == replica["Arn"]
    # Deleting in one region leaves the other's.
    de.delete_alias(AliasName="alias/app")
    expect("NotFoundException", de.describe_key, KeyId="alias/app")
    expect("NotFoundException", de.delete_alias, AliasName="alias/app")
    assert fr.describe_key(KeyId="alias/app")["KeyMetadata"]["Arn"] == single_fr["Arn"]


def wrapped_for(client: Any, key_id: str, material: bytes) -> tuple[bytes, bytes]:
    """GetParametersForImport in ``client``'s region, then what a customer does with the
    public key: the material wrapped with RSAES_OAEP_SHA_256; the token and the wrapped
    material."""
    params = client.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return params["ImportToken"], public.encrypt(material, oaep)


def import_into(client: Any, key_id: str, material: bytes) -> None:
    token, wrapped = wrapped_for(client, key_id, material)
    client.import_key_material(
        KeyId=key_id,
        ImportToken=token,
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )


def test_a_multi_region_key_with_imported_material(server: ServerProcess) -> None:
    fr, de = kms_in(server, FR), kms_in(server, DE)
    created = fr.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]
    key_id = created["KeyId"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key_id)
    assert (created["Origin"], created["KeyState"], created["MultiRegion"]) == (
        "EXTERNAL",
        "PendingImport",
        True,
    )
    replica = fr.replicate_key(KeyId=key_id, ReplicaRegion=DE)["ReplicaKeyMetadata"]
    assert (replica["Origin"], replica["KeyState"]) == ("EXTERNAL", "PendingImport")
    material = os.urandom(32)
    import_into(fr, key_id, material)
    assert fr.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert de.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    made_fr = fr.encrypt(KeyId=key_id, Plaintext=b"from paris", EncryptionContext={"a": "b"})
    expect(
        "KMSInvalidStateException",
        de.decrypt,
        CiphertextBlob=made_fr["CiphertextBlob"],
        EncryptionContext={"a": "b"},
    )
    # A token of the primary's region does not import into the replica.
    token, wrapped = wrapped_for(fr, key_id, material)
    expect(
        "InvalidImportTokenException",
        de.import_key_material,
        KeyId=key_id,
        ImportToken=token,
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    # Other material is refused in a related key; the same material, wrapped anew, is taken.
    token, wrapped = wrapped_for(de, key_id, os.urandom(32))
    expect(
        "IncorrectKeyMaterialException",
        de.import_key_material,
        KeyId=key_id,
        ImportToken=token,
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    import_into(de, key_id, material)
    described = de.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["KeyState"] == "Enabled"
    assert (
        described["CurrentKeyMaterialId"]
        == (fr.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"])
    )
    opened = de.decrypt(CiphertextBlob=made_fr["CiphertextBlob"], EncryptionContext={"a": "b"})
    assert (opened["Plaintext"], opened["KeyId"]) == (b"from paris", replica["Arn"])
    made_de = de.encrypt(KeyId=key_id, Plaintext=b"from frankfurt")
    assert fr.decrypt(CiphertextBlob=made_de["CiphertextBlob"])["Plaintext"] == b"from frankfurt"
    # Deleting the replica's material leaves the primary usable (AWS): only DE waits.
    de.delete_imported_key_material(KeyId=key_id)
    assert de.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    expect("KMSInvalidStateException", de.decrypt, CiphertextBlob=made_de["CiphertextBlob"])
    assert fr.decrypt(CiphertextBlob=made_de["CiphertextBlob"])["Plaintext"] == b"from frankfurt"
    import_into(de, key_id, material)
    assert de.decrypt(CiphertextBlob=made_de["CiphertextBlob"])["Plaintext"] == b"from frankfurt"


def test_list_key_rotations_on_a_replica_lists_its_primarys(server: ServerProcess) -> None:
    fr, de = kms_in(server, FR), kms_in(server, DE)
    key_id = fr.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    fr.rotate_key_on_demand(KeyId=key_id)
    fr.replicate_key(KeyId=key_id, ReplicaRegion=DE)
    here = fr.list_key_rotations(KeyId=key_id)["Rotations"]
    there = de.list_key_rotations(KeyId=key_id)["Rotations"]
    assert len(here) == 1
    assert [(r["KeyMaterialId"], r["RotationType"]) for r in there] == [
        (r["KeyMaterialId"], r["RotationType"]) for r in here
    ]
