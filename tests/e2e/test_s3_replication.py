"""Bucket replication end to end (decision 0112): one ``andromede serve`` declaring two regions,
driven with boto3. A versioned bucket in eu-fr-1 replicates to a versioned bucket in eu-de-1:
small objects under SSE-S3 and SSE-KMS and a multipart upload above the chunk size become
COMPLETED, and the replica, read from the German bucket by the same version id, is the same
bytes with the same ETag and metadata (REPLICA), the SSE-KMS one under the rule's
``ReplicaKmsKeyID`` (increment 3); a delete marker follows; a destination whose
versioning is suspended makes the copy FAILED; the configuration's audit event names both
regions; and every replica's bytes are in the German region's folder. Into another tenant's
bucket (increment 4): an IAM role trusting S3, granted by that tenant's bucket policy, copies a
version the other tenant alone can read. Two-way (decision 0127): a tag change made on a replica
goes back to its source when the replicas' bucket's rule has ``ReplicaModifications``
Enabled, and stays where it was made when Disabled."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from andromede.audit.model import parse_entry
from support.apiclient import RequestsSigV4
from support.server import REGION, ServerProcess, running_server

FR, DE = REGION, "eu-de-1"
MIB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("replication") / "data"
    regions = [{"name": FR, "jurisdiction": "FR"}, {"name": DE, "jurisdiction": "DE"}]
    env = {
        "ANDROMEDE_REGIONS": json.dumps(regions),
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_REPLICATION_INTERVAL": "0.2",
        "ANDROMEDE_REPLICATION_RETRY_BASE": "0.2",
    }
    with running_server(data_dir, extra_env=env) as started:
        yield started


def client(
    server: ServerProcess, region: str, keys: tuple[str, str] | None = None, service: str = "s3"
) -> Any:
    """A boto3 client of ``service`` for the admin tenant, or the tenant of ``keys``."""
    access_key, secret_key = keys or server.credentials()
    make: Any = boto3.client  # the service is a parameter: no one overload of the stubs
    return make(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def versioned_pair(server: ServerProcess) -> tuple[Any, Any, str, str]:
    """Clients of both regions, and a new versioned source (FR) and destination (DE)."""
    fr, de = client(server, FR), client(server, DE)
    source, backup = f"src-{uuid.uuid4().hex[:8]}", f"dst-{uuid.uuid4().hex[:8]}"
    fr.create_bucket(Bucket=source)
    de.create_bucket(Bucket=backup, CreateBucketConfiguration={"LocationConstraint": DE})
    for s3, name in ((fr, source), (de, backup)):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return fr, de, source, backup


def status_of(s3: Any, bucket: str, key: str, version: str, wanted: str) -> str | None:
    """Wait until the version's replication status is ``wanted`` (or 30 s); the last seen."""
    deadline = time.monotonic() + 30
    while True:
        seen = s3.head_object(Bucket=bucket, Key=key, VersionId=version).get("ReplicationStatus")
        if seen == wanted or time.monotonic() > deadline:
            return seen  # type: ignore[no-any-return]
        time.sleep(0.2)


def replication(
    destination: str,
    markers: str = "Enabled",
    replica_key: str | None = None,
    replica_modifications: str | None = None,
) -> dict[str, Any]:
    """One rule over every key; with ``replica_key``, versions under a KMS key are selected
    too and their replicas sealed under it; with ``replica_modifications`` (Enabled or
    Disabled), whether changes made on the bucket's replicas go back (decision 0127)."""
    rule: dict[str, Any] = {
        "ID": "everything",
        "Priority": 1,
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "Destination": {"Bucket": f"arn:aws:s3:::{destination}"},
        "DeleteMarkerReplication": {"Status": markers},
    }
    criteria: dict[str, Any] = {}
    if replica_key is not None:
        criteria["SseKmsEncryptedObjects"] = {"Status": "Enabled"}
        rule["Destination"]["EncryptionConfiguration"] = {"ReplicaKmsKeyID": replica_key}
    if replica_modifications is not None:
        criteria["ReplicaModifications"] = {"Status": replica_modifications}
    if criteria:
        rule["SourceSelectionCriteria"] = criteria
    return {"Role": "arn:aws:iam::000000000000:role/replication", "Rules": [rule]}


@pytest.mark.slow
def test_versions_are_replicated_to_another_region(server: ServerProcess) -> None:
    fr, de, source, backup = versioned_pair(server)
    access_key, secret_key = server.credentials()
    kms = boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=DE,  # a replica key is one of the destination's region (decision 0142)
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )
    replica_key = kms.create_key(Description="replicas")["KeyMetadata"]["Arn"]
    put = fr.put_bucket_replication(
        Bucket=source, ReplicationConfiguration=replication(backup, replica_key=replica_key)
    )
    shown = fr.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]
    assert shown["Rules"][0]["Destination"]["Bucket"] == f"arn:aws:s3:::{backup}"
    assert shown["Rules"][0]["Destination"]["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": replica_key
    }
    assert shown["Role"] == "arn:aws:iam::000000000000:role/replication"

    small = os.urandom(10_000)
    written = {
        "small": (
            fr.put_object(Bucket=source, Key="small", Body=small, Metadata={"a": "1"}),
            small,
        ),
    }
    kms_body = os.urandom(70_000)
    kms = fr.put_object(Bucket=source, Key="kms", Body=kms_body, ServerSideEncryption="aws:kms")
    assert kms["ServerSideEncryption"] == "aws:kms"
    written["kms"] = (kms, kms_body)
    big = os.urandom(12 * MIB)
    path = server.data_dir.parent / "big.bin"
    path.write_bytes(big)
    fr.upload_file(
        str(path), source, "big",
        Config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB),
    )  # fmt: skip
    big_head = fr.head_object(Bucket=source, Key="big")
    written["big"] = (big_head, big)

    for key, (answer, body) in written.items():
        version = answer["VersionId"]
        assert status_of(fr, source, key, version, "COMPLETED") == "COMPLETED", key
        replica = de.get_object(Bucket=backup, Key=key, VersionId=version)
        assert replica["Body"].read() == body, key
        assert replica["ETag"] == answer["ETag"], key
        assert replica["ReplicationStatus"] == "REPLICA", key
        assert replica["ServerSideEncryption"] == answer["ServerSideEncryption"], key
    # The SSE-KMS version's replica is under the rule's key, not the source's.
    assert kms_replica_key(de, backup, written["kms"][0]["VersionId"]) == replica_key
    assert written["kms"][0]["SSEKMSKeyId"] != replica_key
    assert de.head_object(Bucket=backup, Key="small")["Metadata"] == {"a": "1"}
    assert big_head["ETag"].endswith('-3"')
    # The replicas' bytes are in the German region's folder.
    assert any((server.data_dir / f"objects-{DE}").rglob("*"))

    # A tag change of a replicated version reaches its replica (increment 6), as on S3.
    small_version = written["small"][0]["VersionId"]
    fr.put_object_tagging(
        Bucket=source, Key="small", VersionId=small_version,
        Tagging={"TagSet": [{"Key": "retention", "Value": "7y"}]},
    )  # fmt: skip
    assert status_of(fr, source, "small", small_version, "COMPLETED") == "COMPLETED"
    replica_tags = de.get_object_tagging(Bucket=backup, Key="small", VersionId=small_version)
    assert replica_tags["TagSet"] == [{"Key": "retention", "Value": "7y"}]

    # A delete marker follows; deleting a version for good does not.
    marker = fr.delete_object(Bucket=source, Key="small")
    assert marker["DeleteMarker"] is True
    deadline = time.monotonic() + 30
    while True:
        try:
            de.head_object(Bucket=backup, Key="small")
        except ClientError as exc:
            answer = exc.response["ResponseMetadata"]
            assert answer["HTTPStatusCode"] == 404
            # The replicated marker keeps its source's id.
            assert answer["HTTPHeaders"]["x-amz-version-id"] == marker["VersionId"]
            break
        assert time.monotonic() < deadline, "the delete marker was not replicated"
        time.sleep(0.2)

    # The configuration is a data movement the tenant asked for: its audit event names both
    # regions.
    request_id = put["ResponseMetadata"]["RequestId"]
    assert _audit_details(server, request_id) == {"source_region": FR, "destination_regions": DE}


@pytest.mark.slow
def test_objects_there_before_are_copied_when_the_rule_asks(server: ServerProcess) -> None:
    """Increment 7: ``ExistingObjectReplication`` Enabled, as boto3 and Terraform send it."""
    fr, de, source, backup = versioned_pair(server)
    before = {
        f"k{n}": fr.put_object(Bucket=source, Key=f"k{n}", Body=os.urandom(1000))["VersionId"]
        for n in range(3)
    }
    config = replication(backup)
    config["Rules"][0]["ExistingObjectReplication"] = {"Status": "Enabled"}
    fr.put_bucket_replication(Bucket=source, ReplicationConfiguration=config)
    shown = fr.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]
    assert shown["Rules"][0]["ExistingObjectReplication"] == {"Status": "Enabled"}
    for key, version in before.items():
        assert status_of(fr, source, key, version, "COMPLETED") == "COMPLETED", key
        replica = de.head_object(Bucket=backup, Key=key, VersionId=version)
        assert replica["ReplicationStatus"] == "REPLICA"


@pytest.mark.slow
def test_a_destination_with_versioning_suspended_fails_the_copy(server: ServerProcess) -> None:
    fr, de, source, backup = versioned_pair(server)
    fr.put_bucket_replication(Bucket=source, ReplicationConfiguration=replication(backup))
    de.put_bucket_versioning(Bucket=backup, VersioningConfiguration={"Status": "Suspended"})
    version = fr.put_object(Bucket=source, Key="k", Body=b"x")["VersionId"]
    assert status_of(fr, source, "k", version, "FAILED") == "FAILED"
    with pytest.raises(ClientError):
        de.head_object(Bucket=backup, Key="k")
    # The source keeps its versioning while it replicates (S3's InvalidBucketState).
    with pytest.raises(ClientError) as refused:
        fr.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Suspended"})
    assert refused.value.response["Error"]["Code"] == "InvalidBucketState"


@pytest.mark.slow
def test_another_tenant_receives_copies_it_grants(server: ServerProcess) -> None:
    _, key_id, secret = server.create_tenant(f"backup{uuid.uuid4().hex[:8]}")
    fr, iam = client(server, FR), client(server, FR, service="iam")
    partner = client(server, DE, (key_id, secret))
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_name = f"replication-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    role_arn = role["Role"]["Arn"]
    allow = {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete"]}
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="replicate",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{**allow, "Resource": "*"}]}
        ),
    )
    source, backup = f"src-{uuid.uuid4().hex[:8]}", f"their-{uuid.uuid4().hex[:8]}"
    fr.create_bucket(Bucket=source)
    fr.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    partner.create_bucket(Bucket=backup, CreateBucketConfiguration={"LocationConstraint": DE})
    partner.put_bucket_versioning(Bucket=backup, VersioningConfiguration={"Status": "Enabled"})
    configuration = replication(backup)
    configuration["Role"] = role_arn
    with pytest.raises(ClientError) as refused:
        fr.put_bucket_replication(Bucket=source, ReplicationConfiguration=configuration)
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"
    grant = {**allow, "Principal": {"AWS": role_arn}, "Resource": f"arn:aws:s3:::{backup}/*"}
    partner.put_bucket_policy(
        Bucket=backup, Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]})
    )
    fr.put_bucket_replication(Bucket=source, ReplicationConfiguration=configuration)
    version = fr.put_object(Bucket=source, Key="ledger", Body=b"entries")["VersionId"]
    assert status_of(fr, source, "ledger", version, "COMPLETED") == "COMPLETED"
    replica = partner.get_object(Bucket=backup, Key="ledger", VersionId=version)
    assert (replica["Body"].read(), replica["ReplicationStatus"]) == (b"entries", "REPLICA")
    with pytest.raises(ClientError) as denied:
        client(server, DE).get_object(Bucket=backup, Key="ledger")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.slow
def test_a_change_made_on_a_replica_goes_back_when_its_rule_says_so(
    server: ServerProcess,
) -> None:
    """Decision 0127: two-way replication with ``ReplicaModifications`` Enabled on both
    rules; a tag change on the German replica reaches the French version it came from, and
    not with the rule's element Disabled; a V1 rule with the element is refused."""
    fr, de, source, backup = versioned_pair(server)
    for s3, name, destination in ((fr, source, backup), (de, backup, source)):
        config = replication(destination, replica_modifications="Enabled")
        s3.put_bucket_replication(Bucket=name, ReplicationConfiguration=config)
    shown = de.get_bucket_replication(Bucket=backup)["ReplicationConfiguration"]
    assert shown["Rules"][0]["SourceSelectionCriteria"] == {
        "ReplicaModifications": {"Status": "Enabled"}
    }
    version = fr.put_object(Bucket=source, Key="k", Body=b"payload")["VersionId"]
    assert status_of(fr, source, "k", version, "COMPLETED") == "COMPLETED"
    assert status_of(de, backup, "k", version, "REPLICA") == "REPLICA"

    tags = [{"Key": "reviewed", "Value": "berlin"}]
    de.put_object_tagging(Bucket=backup, Key="k", VersionId=version, Tagging={"TagSet": tags})
    deadline = time.monotonic() + 30
    while fr.get_object_tagging(Bucket=source, Key="k", VersionId=version)["TagSet"] != tags:
        assert time.monotonic() < deadline, "the replica's change did not reach its source"
        time.sleep(0.2)
    assert status_of(de, backup, "k", version, "REPLICA") == "REPLICA"
    assert fr.head_object(Bucket=source, Key="k", VersionId=version)["ReplicationStatus"] == (
        "COMPLETED"
    )
    assert len(fr.list_object_versions(Bucket=source)["Versions"]) == 1

    # Disabled on the replicas' bucket's rule: a change made there stays there.
    config = replication(source, replica_modifications="Disabled")
    de.put_bucket_replication(Bucket=backup, ReplicationConfiguration=config)
    other = [{"Key": "reviewed", "Value": "again"}]
    de.put_object_tagging(Bucket=backup, Key="k", VersionId=version, Tagging={"TagSet": other})
    # Nothing queued: the replica is not PENDING, and its source keeps its tags.
    head = de.head_object(Bucket=backup, Key="k", VersionId=version)
    assert head["ReplicationStatus"] == "REPLICA"
    time.sleep(1.0)  # five of the worker's rounds
    assert fr.get_object_tagging(Bucket=source, Key="k", VersionId=version)["TagSet"] == tags

    # A V1 rule (a top-level Prefix) takes no ReplicaModifications, as on S3.
    v1 = {
        "Role": "arn:aws:iam::000000000000:role/replication",
        "Rules": [
            {
                "ID": "v1",
                "Prefix": "",
                "Status": "Enabled",
                "Destination": {"Bucket": f"arn:aws:s3:::{source}"},
                "SourceSelectionCriteria": {"ReplicaModifications": {"Status": "Enabled"}},
            }
        ],
    }
    with pytest.raises(ClientError) as refused:
        de.put_bucket_replication(Bucket=backup, ReplicationConfiguration=v1)
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"


def kms_replica_key(s3: Any, bucket: str, version: str) -> str:
    head = s3.head_object(Bucket=bucket, Key="kms", VersionId=version)
    return head["SSEKMSKeyId"]  # type: ignore[no-any-return]


def _audit_details(server: ServerProcess, request_id: str) -> dict[str, str]:
    """The replication regions of the admin tenant's audit entry of ``request_id``."""
    auth = RequestsSigV4(Credentials(*server.credentials()))
    base = f"{server.api_endpoint}/api/v1/audit/logs/admin"
    deadline = time.monotonic() + 20
    while True:
        size = requests.get(f"{base}/checkpoint", auth=auth, timeout=10).json()["size"]
        for start in range(max(0, size - 400), size, 100):
            page = requests.get(
                f"{base}/entries",
                params={"start": start, "end": min(size, start + 100)},
                auth=auth,
                timeout=10,
            ).json()
            for raw in page["entries"]:
                entry = parse_entry(raw)
                # The request's check of the replica key is an entry of its own (kms:).
                if entry.request_id == request_id and entry.action.startswith("s3:"):
                    return {
                        name: entry.details[name]
                        for name in ("source_region", "destination_regions")
                        if name in entry.details
                    }
        assert time.monotonic() < deadline, "no audit entry for the replication configuration"
        time.sleep(0.2)
