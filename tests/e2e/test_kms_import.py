"""Imported key material (bring your own key) against a real ``andromede serve``, as AWS's
guide does it: the aws CLI asks for the wrapping key and import token, the ``openssl``
command line makes and wraps the material (RSAES-OAEP, and RSA-OAEP + AES key wrap), the aws
CLI imports it. Then S3 objects under that key: deleting the material stops their reads at once
with AWS's S3 error, and importing the same material again brings them back."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.test_kms_api import kms_client
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


def openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("openssl not installed")
    subprocess.run([binary, *args], check=True, capture_output=True, timeout=60)


def oaep_sha256(public: Path, plaintext: Path, out: Path) -> None:
    openssl(
        "pkeyutl", "-encrypt", "-in", str(plaintext), "-out", str(out),
        "-inkey", str(public), "-keyform", "DER", "-pubin",
        "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
        "-pkeyopt", "rsa_mgf1_md:sha256",
    )  # fmt: skip


class Importer:
    """AWS's documented import procedure, step by step, with the aws CLI and openssl."""

    def __init__(self, server: ServerProcess, work: Path) -> None:
        self.aws = aws_cli(server, work)
        self.work = work

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.aws(*args).stdout)

    def parameters(self, key_id: str, algorithm: str) -> tuple[Path, Path]:
        answer = self.cli_json(
            "kms", "get-parameters-for-import", "--key-id", key_id,
            "--wrapping-algorithm", algorithm, "--wrapping-key-spec", "RSA_3072",
        )  # fmt: skip
        public, token = self.work / "WrappingPublicKey.bin", self.work / "ImportToken.bin"
        public.write_bytes(base64.b64decode(answer["PublicKey"]))
        token.write_bytes(base64.b64decode(answer["ImportToken"]))
        return public, token

    def wrap(self, public: Path, algorithm: str, material: Path) -> Path:
        encrypted = self.work / "EncryptedKeyMaterial.bin"
        if algorithm == "RSAES_OAEP_SHA_256":
            oaep_sha256(public, material, encrypted)
            return encrypted
        # RSA_AES_KEY_WRAP_SHA_256: a fresh AES key wraps the material (RFC 5649), RSA-OAEP
        # wraps the AES key, and the two are concatenated.
        aes_key = self.work / "aes-key.bin"
        openssl("rand", "-out", str(aes_key), "32")
        wrapped_material = self.work / "material-wrapped.bin"
        openssl(
            "enc", "-id-aes256-wrap-pad", "-K", aes_key.read_bytes().hex(), "-iv", "A65959A6",
            "-in", str(material), "-out", str(wrapped_material),
        )  # fmt: skip
        wrapped_key = self.work / "aes-key-wrapped.bin"
        oaep_sha256(public, aes_key, wrapped_key)
        encrypted.write_bytes(wrapped_key.read_bytes() + wrapped_material.read_bytes())
        return encrypted

    def import_material(self, key_id: str, material: Path, algorithm: str, *expiry: str) -> Any:
        return json.loads(self.attempt_import(key_id, material, algorithm, *expiry).stdout)

    def attempt_import(
        self, key_id: str, material: Path, algorithm: str, *expiry: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        public, token = self.parameters(key_id, algorithm)
        encrypted = self.wrap(public, algorithm, material)
        return self.aws(
            "kms", "import-key-material", "--key-id", key_id,
            "--encrypted-key-material", f"fileb://{encrypted}",
            "--import-token", f"fileb://{token}",
            *(expiry or ("--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")),
            check=check,
        )  # fmt: skip


def test_bring_your_own_key_with_the_aws_cli_and_openssl(
    server: ServerProcess, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    importer = Importer(server, tmp_path)
    kms = kms_client(server, *server.credentials())
    created = importer.cli_json(
        "kms", "create-key", "--origin", "EXTERNAL", "--description", "our own key"
    )["KeyMetadata"]
    key_id = created["KeyId"]
    assert (created["Origin"], created["KeyState"], created["Enabled"]) == (
        "EXTERNAL",
        "PendingImport",
        False,
    )
    material = tmp_path / "PlaintextKeyMaterial.bin"
    openssl("rand", "-out", str(material), "32")

    valid_to = (datetime.now(UTC) + timedelta(days=200)).replace(microsecond=0)
    imported = importer.import_material(
        key_id, material, "RSAES_OAEP_SHA_256",
        "--expiration-model", "KEY_MATERIAL_EXPIRES", "--valid-to", valid_to.isoformat(),
    )  # fmt: skip
    assert imported["KeyId"] == created["Arn"]
    material_id = imported["KeyMaterialId"]
    assert len(material_id) == 64
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (described["KeyState"], described["ExpirationModel"]) == (
        "Enabled",
        "KEY_MATERIAL_EXPIRES",
    )
    assert described["CurrentKeyMaterialId"] == material_id
    assert described["ValidTo"] == valid_to

    s3.put_object(
        Bucket=bucket, Key="ledger", Body=b"ours alone", ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_id,
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="ledger")["Body"].read() == b"ours alone"
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"direct")["CiphertextBlob"]

    deleted = importer.cli_json("kms", "delete-imported-key-material", "--key-id", key_id)
    assert deleted["KeyMaterialId"] == material_id
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key="ledger")
    assert refused.value.response["Error"]["Code"] == "KMS.KMSInvalidStateException"
    with pytest.raises(ClientError) as refused:
        kms.decrypt(CiphertextBlob=blob)
    assert refused.value.response["Error"]["Code"] == "KMSInvalidStateException"
    with pytest.raises(ClientError) as refused:
        s3.put_object(
            Bucket=bucket, Key="later", Body=b"x", ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key_id,
        )  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "KMS.KMSInvalidStateException"

    other = tmp_path / "other-material.bin"
    openssl("rand", "-out", str(other), "32")
    wrong = importer.attempt_import(key_id, other, "RSAES_OAEP_SHA_256", check=False)
    assert wrong.returncode != 0 and "IncorrectKeyMaterialException" in wrong.stderr

    again = importer.import_material(key_id, material, "RSA_AES_KEY_WRAP_SHA_256")
    assert again["KeyMaterialId"] == material_id
    assert s3.get_object(Bucket=bucket, Key="ledger")["Body"].read() == b"ours alone"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"direct"
    assert "ValidTo" not in kms.describe_key(KeyId=key_id)["KeyMetadata"]


def test_imported_material_rotates_on_demand_with_the_aws_cli_and_openssl(
    server: ServerProcess, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    """AWS's procedure for rotating an imported key (decision 0085): new material imported as
    NEW_KEY_MATERIAL waits in PENDING_ROTATION, RotateKeyOnDemand makes it current, what the
    first material encrypted still decrypts; deleting the older material suspends the key
    until that same material is imported again."""
    importer = Importer(server, tmp_path)
    kms = kms_client(server, *server.credentials())
    key_id = importer.cli_json("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    for material in (first, second):
        openssl("rand", "-out", str(material), "32")
    first_id = importer.import_material(key_id, first, "RSAES_OAEP_SHA_256")["KeyMaterialId"]
    s3.put_object(
        Bucket=bucket, Key="before", Body=b"first material", ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_id,
    )  # fmt: skip
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"direct")["CiphertextBlob"]

    second_id = importer.import_material(
        key_id, second, "RSA_AES_KEY_WRAP_SHA_256",
        "--import-type", "NEW_KEY_MATERIAL", "--key-material-description", "2027 rotation",
        "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE",
    )["KeyMaterialId"]  # fmt: skip
    assert second_id != first_id
    listed = importer.cli_json(
        "kms", "list-key-rotations", "--key-id", key_id, "--include-key-material",
        "ALL_KEY_MATERIAL",
    )["Rotations"]  # fmt: skip
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in listed] == [
        (first_id, "CURRENT", "IMPORTED"),
        (second_id, "PENDING_ROTATION", "IMPORTED"),
    ]
    assert listed[1]["KeyMaterialDescription"] == "2027 rotation"
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []  # none completed yet
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == first_id

    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == second_id
    (rotation,) = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert (rotation["KeyMaterialId"], rotation["KeyMaterialState"], rotation["RotationType"]) == (
        second_id,
        "CURRENT",
        "ON_DEMAND",
    )
    s3.put_object(
        Bucket=bucket, Key="after", Body=b"second material", ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_id,
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="before")["Body"].read() == b"first material"
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"second material"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"direct"

    deleted = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=first_id)
    assert deleted["KeyMaterialId"] == first_id
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    for object_key in ("before", "after"):
        with pytest.raises(ClientError) as refused:
            s3.get_object(Bucket=bucket, Key=object_key)
        assert refused.value.response["Error"]["Code"] == "KMS.KMSInvalidStateException"
    back = importer.import_material(
        key_id, first, "RSAES_OAEP_SHA_256", "--key-material-id", first_id,
        "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE",
    )  # fmt: skip
    assert back["KeyMaterialId"] == first_id
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert s3.get_object(Bucket=bucket, Key="before")["Body"].read() == b"first material"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"direct"


def test_import_errors_are_kms_errors(server: ServerProcess, tmp_path: Path) -> None:
    kms = kms_client(server, *server.credentials())
    generated = kms.create_key()["KeyMetadata"]["KeyId"]
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]

    def code(call: Any, **kwargs: Any) -> str:
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == 400, caught.value.response
        return str(caught.value.response["Error"]["Code"])

    params = {"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}
    assert code(kms.get_parameters_for_import, KeyId=generated, **params) == (
        "UnsupportedOperationException"
    )
    assert code(
        kms.get_parameters_for_import,
        KeyId=external,
        WrappingAlgorithm="RSAES_PKCS1_V1_5",
        WrappingKeySpec="RSA_2048",
    ) == ("UnsupportedOperationException")
    answer = kms.get_parameters_for_import(KeyId=external, **params)
    token = answer["ImportToken"]
    assert code(
        kms.import_key_material,
        KeyId=external,
        ImportToken=token[:-1] + bytes([token[-1] ^ 1]),
        EncryptedKeyMaterial=b"x" * 256,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    ) == ("InvalidImportTokenException")
    assert code(
        kms.import_key_material,
        KeyId=external,
        ImportToken=token,
        EncryptedKeyMaterial=b"x" * 256,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    ) == ("InvalidCiphertextException")
    assert code(  # KEY_MATERIAL_EXPIRES, the default, needs ValidTo
        kms.import_key_material,
        KeyId=external,
        ImportToken=token,
        EncryptedKeyMaterial=b"x" * 256,
    ) == ("ValidationException")
    assert code(kms.encrypt, KeyId=external, Plaintext=b"x") == "KMSInvalidStateException"
    assert code(kms.enable_key, KeyId=external) == "KMSInvalidStateException"
    assert code(kms.create_key, Origin="AWS_CLOUDHSM") == "UnsupportedOperationException"


def test_an_imported_signing_key_signs_what_openssl_verifies(
    server: ServerProcess, tmp_path: Path
) -> None:
    # A release key made offline with openssl moves into the KMS, and keeps verifying with
    # the public key its owner always had.
    importer = Importer(server, tmp_path)
    key_id = importer.cli_json(
        "kms", "create-key", "--origin", "EXTERNAL", "--key-spec", "ECC_NIST_P256",
        "--key-usage", "SIGN_VERIFY",
    )["KeyMetadata"]["KeyId"]  # fmt: skip
    pem = tmp_path / "release-key.pem"
    openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(pem)
    )  # fmt: skip
    public = tmp_path / "release-key.pub.pem"
    openssl("pkey", "-in", str(pem), "-pubout", "-out", str(public))
    # AWS's guide: the material is the private key as unencrypted PKCS#8 DER.
    private = tmp_path / "release-key.der"
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", str(pem), "-outform", "DER", "-out", str(private))
    sec1 = tmp_path / "release-key.sec1.der"
    openssl("pkey", "-in", str(pem), "-outform", "DER", "-out", str(sec1))
    refused = importer.attempt_import(key_id, sec1, "RSA_AES_KEY_WRAP_SHA_256", check=False)
    assert refused.returncode != 0 and "IncorrectKeyMaterialException" in refused.stderr
    importer.import_material(key_id, private, "RSA_AES_KEY_WRAP_SHA_256")
    message = tmp_path / "release.txt"
    message.write_bytes(b"release 4.2")
    signed = importer.cli_json(
        "kms", "sign", "--key-id", key_id, "--message", f"fileb://{message}",
        "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256",
    )  # fmt: skip
    signature = tmp_path / "release.sig"
    signature.write_bytes(base64.b64decode(signed["Signature"]))
    openssl("dgst", "-sha256", "-verify", str(public), "-signature", str(signature), str(message))
