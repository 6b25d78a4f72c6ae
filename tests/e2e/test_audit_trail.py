"""The audit trail of a real ``andromede serve``: S3 and IAM actions of the admin tenant end up
in its transparency log; ``andromede audit download`` fetches the trail and ``andromede audit
verify`` accepts it with the published key, and refuses every tampering: one byte of an entry,
one byte of the signature, a dropped entry, two entries swapped, a history rewritten under a
trusted checkpoint."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from andromede.audit.model import parse_entry
from andromede.audit.note import Checkpoint, open_note, parse_verifier_key
from andromede.audit.signing import FileLogSigningKey
from e2e.helpers import REGION, boto3_client
from support.apiclient import RequestsSigV4
from support.launcher import run_command
from support.server import ANDROMEDE, ServerProcess

TIMEOUT = 60


def andromede(*args: str) -> subprocess.CompletedProcess[str]:
    return run_command([str(ANDROMEDE), "audit", *args], timeout=TIMEOUT)


def download(server: ServerProcess, output: Path, *extra: str) -> None:
    done = andromede(
        "download", "admin", "--output", str(output), "--endpoint", server.api_endpoint,
        "--credentials-file", str(server.credentials_file), "--region", REGION,
        "--page-size", "4", *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def verify(server: ServerProcess, trail: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    public_key = server.data_dir / "audit-log.pub"
    return andromede("verify", str(trail), "--public-key", str(public_key), *extra)


def wait_for_requests(server: ServerProcess, request_ids: set[str]) -> int:
    """Until every one of these requests is in the admin tenant's log (flushed in batches);
    the log's size then."""
    from botocore.credentials import Credentials

    auth = RequestsSigV4(Credentials(*server.credentials()))
    base = f"{server.api_endpoint}/api/v1/audit/logs/admin"
    deadline = time.monotonic() + 20
    while True:
        size = requests.get(f"{base}/checkpoint", auth=auth, timeout=10).json()["size"]
        seen: set[str] = set()
        for start in range(max(0, size - 200), size, 100):
            page = requests.get(
                f"{base}/entries",
                params={"start": start, "end": min(size, start + 100)},
                auth=auth,
                timeout=10,
            ).json()
            seen |= {parse_entry(e).request_id for e in page["entries"]}
        if request_ids <= seen:
            return int(size)
        assert time.monotonic() < deadline, request_ids - seen
        time.sleep(0.2)


def act(server: ServerProcess) -> set[str]:
    """Some S3 and IAM actions of the admin tenant's root; their request ids."""
    s3 = boto3_client(server)
    name = f"trail-{uuid.uuid4().hex[:10]}"
    ids = {s3.create_bucket(Bucket=name)["ResponseMetadata"]["RequestId"]}
    ids.add(s3.put_object(Bucket=name, Key="k", Body=b"x")["ResponseMetadata"]["RequestId"])
    ids.add(s3.delete_object(Bucket=name, Key="k")["ResponseMetadata"]["RequestId"])
    ids.add(s3.delete_bucket(Bucket=name)["ResponseMetadata"]["RequestId"])
    access_key, secret_key = server.credentials()
    iam = boto3.client(
        "iam", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip
    user = f"u{uuid.uuid4().hex[:8]}"
    ids.add(iam.create_user(UserName=user)["ResponseMetadata"]["RequestId"])
    ids.add(iam.delete_user(UserName=user)["ResponseMetadata"]["RequestId"])
    return ids


def tampered(trail: Path, out: Path, change: Any) -> Path:
    content = json.loads(trail.read_text())
    change(content)
    out.write_text(json.dumps(content))
    return out


def flip(text: str, position: int) -> str:
    replacement = "A" if text[position] != "A" else "B"
    return text[:position] + replacement + text[position + 1 :]


@pytest.mark.slow
def test_a_downloaded_trail_verifies_and_every_tampering_is_caught(
    server: ServerProcess, tmp_path: Path
) -> None:
    wait_for_requests(server, act(server))
    first = tmp_path / "first.json"
    download(server, first)
    done = verify(server, first)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: ")
    content = json.loads(first.read_text())
    actions = {parse_entry(e).action for e in content["entries"]}
    assert {"s3:CreateBucket", "s3:PutObject", "iam:CreateUser"} <= actions
    assert len(content["entries"]) > 4  # several pages

    def entry_byte(c: dict[str, Any]) -> None:
        c["entries"][3] = flip(c["entries"][3], 30)

    def signature_byte(c: dict[str, Any]) -> None:
        note: str = c["checkpoint"]
        c["checkpoint"] = flip(note, len(note) - 10)

    def dropped(c: dict[str, Any]) -> None:
        del c["entries"][2]

    def reordered(c: dict[str, Any]) -> None:
        c["entries"][1], c["entries"][2] = c["entries"][2], c["entries"][1]

    for change, reason in [
        (entry_byte, "do not hash to the checkpoint's root"),
        (signature_byte, "does not verify with the public key"),
        (dropped, "entries were dropped or added"),
        (reordered, "do not hash to the checkpoint's root"),
    ]:
        bad = tampered(first, tmp_path / f"{change.__name__}.json", change)
        done = verify(server, bad)
        assert done.returncode == 1, (change.__name__, done.stdout)
        assert reason in " ".join(done.stderr.split()), (change.__name__, done.stderr)

    # Later: the log only grew since the trusted first download, with the proof served.
    wait_for_requests(server, act(server))
    second = tmp_path / "second.json"
    download(server, second, "--trusted", str(first))
    assert "consistency" in json.loads(second.read_text())
    done = verify(server, second, "--trusted", str(first))
    assert done.returncode == 0, done.stderr
    assert "extending" in done.stdout

    # A history rewritten and signed with the very key (an operator holding it) still fails
    # against what the tenant kept: the first checkpoint commits to the first entries.
    name, _ = parse_verifier_key((server.data_dir / "audit-log.pub").read_text())
    key = FileLogSigningKey.load_or_create(server.data_dir / "keys" / "audit-log.key", name)
    origin = f"{name}/{content['log']}"
    forged_entries = json.loads(second.read_text())["entries"]
    forged_entries[0] = forged_entries[0].replace('"outcome":"success"', '"outcome":"failure"')
    from andromede.audit.merkle import leaf_hash, root_hash

    forged_root = root_hash([leaf_hash(e.encode()) for e in forged_entries])
    forged = {
        "format": content["format"],
        "log": content["log"],
        "checkpoint": key.sign(Checkpoint(origin, len(forged_entries), forged_root).text(), origin),
        "entries": forged_entries,
    }
    assert Checkpoint.parse(open_note(forged["checkpoint"], origin, key.public_key)).size > 0
    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged))
    assert verify(server, forged_path).returncode == 0  # alone, a signed rewrite looks fine...
    done = verify(server, forged_path, "--trusted", str(first))
    assert done.returncode == 1  # ...but not beside the checkpoint the tenant kept
    assert "rewritten" in done.stderr
    assert base64.b64decode(json.loads(first.read_text())["checkpoint"].split("\n")[2])
