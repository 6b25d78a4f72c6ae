"""IAM policies on the management API of a real ``andromede serve`` (decision 0113): the tenant's
root creates an IAM user "auditor" with boto3 and a policy allowing only the trail's download;
the auditor downloads the trail with ``andromede audit download`` (with its key, then with a
session's temporary credentials) and ``andromede audit verify`` accepts it; the same user is
refused the approval of an operator's access request and the usage report, and its refusal is an
entry of the very trail it verified."""

from __future__ import annotations

import configparser
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
from botocore.credentials import Credentials

from andromede.audit.model import Outcome, parse_entry
from support.apiclient import RequestsSigV4
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess

TIMEOUT = 60


def api(
    server: ServerProcess, credentials: tuple[str, str], method: str, path: str, body: Any = None
) -> requests.Response:
    return requests.request(
        method,
        f"{server.api_endpoint}/api/v1{path}",
        json=body,
        auth=RequestsSigV4(Credentials(*credentials)),
        timeout=TIMEOUT,
    )


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return run_command([str(ANDROMEDE), "audit", *args], timeout=TIMEOUT)


def credentials_file(
    path: Path, access_key: str, secret_key: str, session_token: str | None = None
) -> Path:
    parser = configparser.ConfigParser()
    parser["andromede"] = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
    if session_token is not None:
        parser["andromede"]["aws_session_token"] = session_token
    with path.open("w") as out:
        parser.write(out)
    return path


@pytest.mark.slow
def test_an_auditor_downloads_and_verifies_the_trail_and_decides_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    root_key, root_secret = server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=root_key, aws_secret_access_key=root_secret, region_name=REGION
    )
    config = Config(retries={"max_attempts": 1})
    iam = session.client("iam", endpoint_url=server.endpoint, config=config)
    account = session.client(
        "sts", endpoint_url=server.endpoint, config=config
    ).get_caller_identity()["Account"]
    name = f"auditor-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    download_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "andromede:GetAudit*",
                "Resource": f"arn:aws:andromede::{account}:audit-log",
            }
        ],
    }
    iam.put_user_policy(
        UserName=name, PolicyName="download-trail", PolicyDocument=json.dumps(download_only)
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    auditor = (key["AccessKeyId"], key["SecretAccessKey"])
    opened = api(
        server,
        server.operator_credentials(),
        "POST",
        "/access-requests",
        {
            "tenant": "admin",
            "buckets": ["anything"],
            "mode": "read-only",
            "reason": "e2e: the auditor may not approve",
            "duration_seconds": 900,
        },
    )
    assert opened.status_code == 201, opened.text
    request = opened.json()["id"]
    try:
        refused = api(server, auditor, "POST", f"/access-requests/{request}/approve")
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert problem["type"] == "urn:andromede:problem:access-denied"
        assert "andromede:ApproveOperatorAccess" in problem["detail"]
        usage = api(server, auditor, "GET", "/tenants/admin/usage")
        assert usage.status_code == 403, usage.text
        assert api(server, auditor, "GET", f"/access-requests/{request}").status_code == 403

        # The auditor's download, verified offline; the refusal is in it once flushed.
        auditor_file = credentials_file(tmp_path / "auditor-credentials", *auditor)
        trail = tmp_path / "trail.json"
        deadline = time.monotonic() + 20
        while True:
            done = audit(
                "download", "admin", "--output", str(trail), "--endpoint", server.api_endpoint,
                "--credentials-file", str(auditor_file), "--region", REGION,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            entries = [parse_entry(e) for e in json.loads(trail.read_text())["entries"]]
            refusals = [
                e
                for e in entries
                if e.action == "andromede:ApproveOperatorAccess"
                and e.outcome is Outcome.FAILURE
                and e.principal == f"arn:aws:iam::{account}:user/{name}"
            ]
            if refusals or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert refusals, "the refusal never reached the trail"
        assert refusals[0].resource == f"arn:aws:andromede::{account}:operator-access/{request}"
        verified = audit(
            "verify", str(trail), "--public-key", str(server.data_dir / "audit-log.pub")
        )
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("OK: ")
        # The auditor's temporary credentials (GetSessionToken) download it too: the CLI
        # signs the session token.
        issued = session.client(
            "sts",
            endpoint_url=server.endpoint,
            config=config,
            aws_access_key_id=auditor[0],
            aws_secret_access_key=auditor[1],
        ).get_session_token()["Credentials"]
        session_file = credentials_file(
            tmp_path / "session-credentials",
            issued["AccessKeyId"],
            issued["SecretAccessKey"],
            issued["SessionToken"],
        )
        again = tmp_path / "again.json"
        done = audit(
            "download", "admin", "--output", str(again), "--endpoint", server.api_endpoint,
            "--credentials-file", str(session_file), "--region", REGION, "--trusted", str(trail),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        verified = audit(
            "verify", str(again), "--public-key", str(server.data_dir / "audit-log.pub"),
            "--trusted", str(trail),
        )  # fmt: skip
        assert verified.returncode == 0, verified.stderr
        # Still pending: the refusal changed nothing.
        state = api(server, (root_key, root_secret), "GET", f"/access-requests/{request}")
        assert state.json()["state"] == "pending"
    finally:
        api(server, (root_key, root_secret), "POST", f"/access-requests/{request}/refuse")
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=name, PolicyName="download-trail")
        iam.delete_user(UserName=name)
