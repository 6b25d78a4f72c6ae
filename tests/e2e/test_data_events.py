"""Data events on a real ``andromede serve`` (decision 0109): with the bucket's setting off, a
boto3 GET leaves no event; turned on through the management API, a GET and a HEAD are entries
of the tenant's log, which ``andromede audit download`` fetches and ``verify`` accepts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests
from botocore.credentials import Credentials

from andromede.audit.model import parse_entry
from e2e.helpers import REGION, boto3_client
from e2e.test_audit_trail import andromede, verify, wait_for_requests
from support.apiclient import RequestsSigV4
from support.server import ServerProcess


def set_data_reads(server: ServerProcess, bucket: str, read: bool) -> str:
    """Turn the bucket's data-read events on or off; the request id of the change."""
    reply = requests.put(
        f"{server.api_endpoint}/api/v1/tenants/admin/buckets/{bucket}/data-events",
        json={"read": read},
        auth=RequestsSigV4(Credentials(*server.credentials())),
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"bucket": bucket, "read": read, "write": True}
    return reply.headers["x-request-id"]


@pytest.mark.slow
def test_a_get_is_an_event_only_once_the_bucket_asks(server: ServerProcess, tmp_path: Path) -> None:
    s3 = boto3_client(server)
    name = f"events-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"4 KiB" * 800)
    unlogged = s3.get_object(Bucket=name, Key="k")
    unlogged["Body"].read()
    turned_on = set_data_reads(server, name, True)
    got = s3.get_object(Bucket=name, Key="k")
    assert got["Body"].read() == b"4 KiB" * 800
    head = s3.head_object(Bucket=name, Key="k")
    ids = {
        "get": got["ResponseMetadata"]["RequestId"],
        "head": head["ResponseMetadata"]["RequestId"],
    }
    turned_off = set_data_reads(server, name, False)
    after = s3.get_object(Bucket=name, Key="k")
    after["Body"].read()
    written = s3.delete_object(Bucket=name, Key="k")["ResponseMetadata"]["RequestId"]
    # The delete, after the last GET, in the log: every event before it is there too.
    wait_for_requests(server, {*ids.values(), turned_on, turned_off, written})

    trail = tmp_path / "trail.json"
    done = andromede(
        "download", "admin", "--output", str(trail), "--endpoint", server.api_endpoint,
        "--credentials-file", str(server.credentials_file), "--region", REGION,
        "--page-size", "200",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    checked = verify(server, trail)
    assert checked.returncode == 0, checked.stderr
    entries = {
        entry.request_id: entry
        for entry in (parse_entry(e) for e in json.loads(trail.read_text())["entries"])
    }
    unlogged_id = unlogged["ResponseMetadata"]["RequestId"]
    after_id = after["ResponseMetadata"]["RequestId"]
    assert unlogged_id not in entries and after_id not in entries
    get, logged_head = entries[ids["get"]], entries[ids["head"]]
    assert (get.action, get.details["operation"]) == ("s3:GetObject", "GetObject")
    assert (logged_head.action, logged_head.details["operation"]) == ("s3:GetObject", "HeadObject")
    assert get.resource == logged_head.resource == f"arn:aws:s3:::{name}/k"
    assert get.outcome.value == logged_head.outcome.value == "success"
    assert get.details["bytes_sent"] == str(4000)
    assert get.principal is not None and get.principal.endswith(":root")
    assert (
        entries[turned_on].action == entries[turned_off].action == "andromede:PutBucketDataEvents"
    )
    assert entries[written].action == "s3:DeleteObject"
    s3.delete_bucket(Bucket=name)
