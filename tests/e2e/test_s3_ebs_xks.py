"""S3 objects and EBS volumes under KMS keys of external key stores (decision 0094), end to
end: a real ``andromede serve`` (one worker, memory hypervisor), a real ``andromede
xks-proxy`` on SoftHSM2 (tests/support/xks.py), boto3.

Every data key (object, part, DSSE layer, bucket key, volume) is wrapped under the key's ring
and then by the proxy; the proxy's audit log shows each use with its ``kmsOperation``,
``kmsKeyArn`` and who asked (``awsPrincipalArn``, ``kmsRequestId``: the S3 or EC2 caller and
their request). A canary stored under an XKS key is nowhere on either side's disk. Two servers
shared by the module, and one of the canary test's own (searched after it stopped too). Of
the two: one with the data-key cache (a GET after a PUT, or a second GET, calls no proxy; one
proxy call per bucket key), one without (each use reaches the proxy, so the customer's
kill switch — disabling or deleting the key in the HSM, stopping the proxy — shows at once)."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for
from e2e.test_ec2 import ec2_client
from e2e.test_kms_api import kms_client, new_tenant
from e2e.test_kms_xks import connected_store, server_env, xks_key
from probe.test_encryption_at_rest import encodings, hits
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, running_server
from support.xks import RunningXksProxy, running_xks_proxy

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
FAST = {"Delay": 1, "MaxAttempts": 60}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningXksProxy]:
    with running_xks_proxy(tmp_path_factory.mktemp("xks-proxy"), region=REGION) as running:
        yield running


def _server(
    tmp_path_factory: pytest.TempPathFactory, proxy: RunningXksProxy, name: str, ttl: str
) -> Iterator[ServerProcess]:
    env = {
        **server_env(proxy),
        "ANDROMEDE_WORKERS": "1",  # one data-key cache, so the proxy calls can be counted
        "ANDROMEDE_HYPERVISOR": "memory",
        "ANDROMEDE_DATA_KEY_CACHE_TTL": ttl,
    }
    with running_server(tmp_path_factory.mktemp(name) / "data", extra_env=env) as server:
        yield server


@pytest.fixture(scope="module")
def cached(
    tmp_path_factory: pytest.TempPathFactory, proxy: RunningXksProxy
) -> Iterator[ServerProcess]:
    yield from _server(tmp_path_factory, proxy, "xks-cached", "300")


@pytest.fixture(scope="module")
def uncached(
    tmp_path_factory: pytest.TempPathFactory, proxy: RunningXksProxy
) -> Iterator[ServerProcess]:
    yield from _server(tmp_path_factory, proxy, "xks-uncached", "0")


def s3_client(server: ServerProcess, credentials: tuple[str, str] | None = None) -> Any:
    access_key, secret_key = credentials or server.credentials()
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def new_key(server: ServerProcess, proxy: RunningXksProxy, label: str) -> tuple[str, str, str]:
    kms = kms_client(server, *server.credentials())
    stores = kms.describe_custom_key_stores()["CustomKeyStores"]
    store_id = stores[0]["CustomKeyStoreId"] if stores else connected_store(kms, proxy, "hsm")
    return xks_key(kms, proxy, store_id, f"{label}-{uuid.uuid4().hex[:6]}")


def proxy_uses(proxy: RunningXksProxy, external: str) -> list[tuple[str, str, str | None]]:
    return [
        (r["operation"], r.get("kmsOperation", ""), r.get("kmsKeyArn"))
        for r in proxy.audit_records()
        if r.get("externalKeyId") == external and r["operation"] in ("Encrypt", "Decrypt")
    ]


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return str(caught.value.response["Error"]["Code"])


def sse(arn: str) -> dict[str, str]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn}


def test_objects_parts_and_copies_under_an_xks_key(
    cached: ServerProcess, proxy: RunningXksProxy
) -> None:
    _, arn, external = new_key(cached, proxy, "objects")
    s3 = s3_client(cached)
    s3.create_bucket(Bucket="xks-objects")
    body = os.urandom(300_000)
    put = s3.put_object(Bucket="xks-objects", Key="big", Body=body, **sse(arn))
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", arn)
    assert proxy_uses(proxy, external) == [("Encrypt", "GenerateDataKey", arn)]
    got = s3.get_object(Bucket="xks-objects", Key="big")
    assert got["Body"].read() == body and got["SSEKMSKeyId"] == arn
    ranged = s3.get_object(Bucket="xks-objects", Key="big", Range="bytes=100000-100099")
    assert ranged["Body"].read() == body[100000:100100]
    assert s3.head_object(Bucket="xks-objects", Key="big")["ServerSideEncryption"] == "aws:kms"
    # The key made for the PUT is in the cache: neither GET asked the proxy.
    assert [u for u in proxy_uses(proxy, external) if u[0] == "Decrypt"] == []

    upload = s3.create_multipart_upload(Bucket="xks-objects", Key="multi", **sse(arn))
    parts = [os.urandom(5 * MIB), b"the last part"]
    etags = [
        s3.upload_part(
            Bucket="xks-objects", Key="multi", UploadId=upload["UploadId"], PartNumber=n, Body=p
        )["ETag"]
        for n, p in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket="xks-objects",
        Key="multi",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    whole = b"".join(parts)
    assert s3.get_object(Bucket="xks-objects", Key="multi")["Body"].read() == whole

    # Copies both ways between the XKS key and an ordinary KMS key.
    kms = kms_client(cached, *cached.credentials())
    plain_arn = kms.create_key()["KeyMetadata"]["Arn"]
    source = {"Bucket": "xks-objects", "Key": "big"}
    s3.copy_object(Bucket="xks-objects", Key="out", CopySource=source, **sse(plain_arn))
    s3.copy_object(
        Bucket="xks-objects",
        Key="in",
        CopySource={"Bucket": "xks-objects", "Key": "out"},
        **sse(arn),
    )
    assert s3.get_object(Bucket="xks-objects", Key="out")["SSEKMSKeyId"] == plain_arn
    back = s3.get_object(Bucket="xks-objects", Key="in")
    assert (back["Body"].read(), back["SSEKMSKeyId"]) == (body, arn)
    part_copy = s3.create_multipart_upload(Bucket="xks-objects", Key="pc", **sse(arn))
    copied = s3.upload_part_copy(
        Bucket="xks-objects",
        Key="pc",
        UploadId=part_copy["UploadId"],
        PartNumber=1,
        CopySource=source,
    )
    s3.complete_multipart_upload(
        Bucket="xks-objects",
        Key="pc",
        UploadId=part_copy["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}]},
    )
    assert s3.get_object(Bucket="xks-objects", Key="pc")["Body"].read() == body
    uses = proxy_uses(proxy, external)
    assert all(arn_ == arn for _, _, arn_ in uses)
    assert {op for _, op, _ in uses} <= {"GenerateDataKey", "Decrypt"}

    # Another tenant can use neither the key nor the objects.
    intruder = s3_client(cached, new_tenant_credentials(cached))
    intruder.create_bucket(Bucket="xks-intruder")
    assert error_code(
        intruder.put_object, Bucket="xks-intruder", Key="k", Body=b"x", **sse(arn)
    ) in ("KMS.NotFoundException", "AccessDenied")
    assert error_code(intruder.get_object, Bucket="xks-objects", Key="big") == "AccessDenied"


def new_tenant_credentials(server: ServerProcess) -> tuple[str, str]:
    """The root credentials of a fresh tenant (those its KMS client signs with)."""
    _, client = new_tenant(server)
    signing = client._request_signer._credentials
    return signing.access_key, signing.secret_key


def test_a_bucket_default_with_a_bucket_key_calls_the_proxy_once_per_bucket_key(
    cached: ServerProcess, proxy: RunningXksProxy
) -> None:
    _, arn, external = new_key(cached, proxy, "bucket-key")
    s3 = s3_client(cached)
    s3.create_bucket(Bucket="xks-bucket-key")
    s3.put_bucket_encryption(
        Bucket="xks-bucket-key",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    bodies = {f"o{n}": os.urandom(2000 + n) for n in range(6)}
    for name, body in bodies.items():
        put = s3.put_object(Bucket="xks-bucket-key", Key=name, Body=body)
        assert (put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == (arn, True)
    for name, body in bodies.items():
        assert s3.get_object(Bucket="xks-bucket-key", Key=name)["Body"].read() == body
    assert proxy_uses(proxy, external) == [("Encrypt", "GenerateDataKey", arn)]


def test_the_customers_kill_switch(uncached: ServerProcess, proxy: RunningXksProxy) -> None:
    _, arn, external = new_key(uncached, proxy, "kill")
    s3 = s3_client(uncached)
    s3.create_bucket(Bucket="xks-kill")
    s3.put_object(Bucket="xks-kill", Key="k", Body=b"payroll", **sse(arn))
    assert s3.get_object(Bucket="xks-kill", Key="k")["Body"].read() == b"payroll"
    assert proxy_uses(proxy, external)[-1] == ("Decrypt", "Decrypt", arn)  # no cache here
    proxy.disable_key(external)
    assert error_code(s3.get_object, Bucket="xks-kill", Key="k") == "KMS.KMSInvalidStateException"
    assert error_code(s3.put_object, Bucket="xks-kill", Key="new", Body=b"x", **sse(arn)) == (
        "KMS.KMSInvalidStateException"
    )
    proxy.enable_key(external)
    assert s3.get_object(Bucket="xks-kill", Key="k")["Body"].read() == b"payroll"
    proxy.stop()
    try:
        started = time.monotonic()
        assert (
            error_code(s3.get_object, Bucket="xks-kill", Key="k") == "KMS.KMSInvalidStateException"
        )
        assert time.monotonic() - started < 10.0
    finally:
        proxy.start()
    assert s3.get_object(Bucket="xks-kill", Key="k")["Body"].read() == b"payroll"
    proxy.delete_key(external)  # crypto-shredded in the customer's HSM: gone for good
    assert error_code(s3.get_object, Bucket="xks-kill", Key="k") == "KMS.KMSInvalidStateException"


def test_volumes_under_an_xks_key_need_the_proxy_to_attach(
    uncached: ServerProcess, proxy: RunningXksProxy, tmp_path: Path
) -> None:
    _, arn, external = new_key(uncached, proxy, "volume")
    disk = tmp_path / "disk.raw"
    disk.write_bytes(os.urandom(64 * 1024))
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name", "xks-test",
         "--public", "--json", "--data-dir", str(uncached.data_dir)],
        timeout=120, check=True,
        env={**os.environ, **uncached.extra_env},
    )  # fmt: skip
    image_id = str(json.loads(done.stdout)["image_id"])
    ec2 = ec2_client(uncached)
    zone = f"{REGION}a"
    volume = ec2.create_volume(Size=1, AvailabilityZone=zone, KmsKeyId=arn)
    assert (volume["Encrypted"], volume["KmsKeyId"]) == (True, arn)
    assert proxy_uses(proxy, external) == [("Encrypt", "GenerateDataKeyWithoutPlaintext", arn)]
    # Made on the EC2 caller's behalf, in their request: the proxy is told so.
    who = caller_arn(uncached, uncached.credentials())
    [made] = proxy_records(proxy, external, "Encrypt")
    assert (made["awsPrincipalArn"], made["kmsRequestId"]) == (
        who,
        volume["ResponseMetadata"]["RequestId"],
    )
    assert made["kmsViaService"] == f"ec2.{REGION}.amazonaws.com"
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    instance_id = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    attached = ec2.attach_volume(
        VolumeId=volume["VolumeId"], InstanceId=instance_id, Device="/dev/sdf"
    )
    assert proxy_uses(proxy, external)[-1] == ("Decrypt", "Decrypt", arn)
    opened = proxy_records(proxy, external, "Decrypt")[-1]
    assert (opened["awsPrincipalArn"], opened["kmsRequestId"]) == (
        who,
        attached["ResponseMetadata"]["RequestId"],
    )
    ec2.detach_volume(VolumeId=volume["VolumeId"])
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume["VolumeId"]], WaiterConfig=FAST)
    proxy.disable_key(external)
    with pytest.raises(ClientError) as raised:
        ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=instance_id, Device="/dev/sdg")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    assert raised.value.response["Error"]["Code"] == "IncorrectState"
    proxy.enable_key(external)
    ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=instance_id, Device="/dev/sdg")
    ec2.terminate_instances(InstanceIds=[instance_id])


def caller_arn(server: ServerProcess, credentials: tuple[str, str]) -> str:
    return str(client_for(server, "sts", *credentials).get_caller_identity()["Arn"])


def proxy_records(proxy: RunningXksProxy, external: str, operation: str) -> list[dict[str, Any]]:
    return [
        r
        for r in proxy.audit_records()
        if r.get("externalKeyId") == external and r["operation"] == operation
    ]


def test_the_proxys_log_names_who_asked(uncached: ServerProcess, proxy: RunningXksProxy) -> None:
    _, arn, external = new_key(uncached, proxy, "who")
    root = uncached.credentials()
    s3 = s3_client(uncached)
    s3.create_bucket(Bucket="xks-who")
    put = s3.put_object(Bucket="xks-who", Key="k", Body=b"ledger", **sse(arn))
    [made] = proxy_records(proxy, external, "Encrypt")
    assert made["awsPrincipalArn"] == caller_arn(uncached, root)
    assert made["kmsRequestId"] == put["ResponseMetadata"]["RequestId"]
    # An IAM user of the account, allowed to read, GETs it: the proxy's Decrypt names them.
    iam = client_for(uncached, "iam", *root)
    name = f"reader-{uuid.uuid4().hex[:6]}"
    user_arn = iam.create_user(UserName=name)["User"]["Arn"]
    reads = {"Effect": "Allow", "Action": ["s3:GetObject", "kms:Decrypt"], "Resource": "*"}
    iam.put_user_policy(
        UserName=name,
        PolicyName="read",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [reads]}),
    )
    access = iam.create_access_key(UserName=name)["AccessKey"]
    reader = s3_client(uncached, (access["AccessKeyId"], access["SecretAccessKey"]))
    deadline = time.monotonic() + 30
    while True:  # the new access key reaches the server's identity cache
        try:
            got = reader.get_object(Bucket="xks-who", Key="k")
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert got["Body"].read() == b"ledger"
    opened = proxy_records(proxy, external, "Decrypt")[-1]
    assert opened["awsPrincipalArn"] == user_arn
    assert opened["kmsRequestId"] == got["ResponseMetadata"]["RequestId"]
    assert opened["kmsViaService"] == f"s3.{REGION}.amazonaws.com"


def test_dsse_kms_under_an_xks_key(cached: ServerProcess, proxy: RunningXksProxy) -> None:
    _, arn, external = new_key(cached, proxy, "dsse")
    s3 = s3_client(cached)
    s3.create_bucket(Bucket="xks-dsse")
    for name, body in (("small", b"two layers"), ("large", os.urandom(400_000))):
        put = s3.put_object(
            Bucket="xks-dsse",
            Key=name,
            Body=body,
            ServerSideEncryption="aws:kms:dsse",
            SSEKMSKeyId=arn,
        )
        assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms:dsse", arn)
        got = s3.get_object(Bucket="xks-dsse", Key=name)
        assert (got["Body"].read(), got["ServerSideEncryption"]) == (body, "aws:kms:dsse")
    ranged = s3.get_object(Bucket="xks-dsse", Key="large", Range="bytes=200000-200009")
    assert ranged["ContentLength"] == 10
    # Each layer's data key is two-layer: two proxy Encrypts per object.
    assert proxy_uses(proxy, external) == [("Encrypt", "GenerateDataKey", arn)] * 4


def test_no_plaintext_at_rest_under_an_xks_key(tmp_path: Path, proxy: RunningXksProxy) -> None:
    """A canary in objects (single PUT, small and large, multipart, under a bucket key, DSSE)
    and in their user metadata under an XKS key: no byte of it, raw, hex or base64, in the
    server's data folder (database, WAL, blobs, keys) and log, nor in the proxy's folder (its
    audit log, its token), while the server runs and after it stopped."""
    canary = os.urandom(12).hex().encode()
    needles = encodings(canary)
    body = os.urandom(100_000) + canary + os.urandom(200_000)
    metadata = {"secret": canary.decode()}
    data_dir = tmp_path / "data"
    env = {**server_env(proxy), "ANDROMEDE_WORKERS": "1"}
    with running_server(data_dir, extra_env=env) as server:
        _, arn, _ = new_key(server, proxy, "canary")
        s3 = s3_client(server)
        s3.create_bucket(Bucket="xks-canary")
        stored = {"single": body, "small": canary * 10, "dsse": body}
        for name in ("single", "small"):
            s3.put_object(
                Bucket="xks-canary", Key=name, Body=stored[name], Metadata=metadata, **sse(arn)
            )
        s3.put_object(
            Bucket="xks-canary",
            Key="dsse",
            Body=body,
            Metadata=metadata,
            ServerSideEncryption="aws:kms:dsse",
            SSEKMSKeyId=arn,
        )
        upload = s3.create_multipart_upload(
            Bucket="xks-canary", Key="multi", Metadata=metadata, **sse(arn)
        )
        parts = [canary * (5 * MIB // len(canary) + 1), body]
        etags = [
            s3.upload_part(
                Bucket="xks-canary",
                Key="multi",
                UploadId=upload["UploadId"],
                PartNumber=n,
                Body=p,
            )["ETag"]
            for n, p in enumerate(parts, start=1)
        ]
        s3.complete_multipart_upload(
            Bucket="xks-canary",
            Key="multi",
            UploadId=upload["UploadId"],
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
            },
        )
        stored["multi"] = b"".join(parts)
        s3.create_bucket(Bucket="xks-canary-bk")
        s3.put_bucket_encryption(
            Bucket="xks-canary-bk",
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        for name in ("bk-single", "bk-small"):
            content = body if name == "bk-single" else canary * 10
            put = s3.put_object(Bucket="xks-canary-bk", Key=name, Body=content, Metadata=metadata)
            assert put["BucketKeyEnabled"] is True
            got = s3.get_object(Bucket="xks-canary-bk", Key=name)
            assert (got["Body"].read(), got["Metadata"]) == (content, metadata)
        for name, content in stored.items():
            got = s3.get_object(Bucket="xks-canary", Key=name)
            assert (got["Body"].read(), got["Metadata"]) == (content, metadata)
            assert got["SSEKMSKeyId"] == arn
        assert hits(data_dir, needles) == []  # the WAL still holds the latest writes here
        assert hits(proxy.audit_log.parent, needles) == []
        log_path = server.log_path
    assert hits(data_dir, needles) == []
    assert log_path is not None and canary not in log_path.read_bytes()
    assert hits(proxy.audit_log.parent, needles) == []
    # The check can fail: the canary is found where it is written in clear.
    (data_dir / "control").write_bytes(b"x" + base64.b64encode(b"\0" + canary) + b"x")
    assert hits(data_dir, needles) != []
