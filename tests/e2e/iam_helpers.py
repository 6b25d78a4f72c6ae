"""Helpers for the IAM/STS end-to-end tests: a fresh tenant per test (made by the operator
through the running server's management API), boto3 clients for it, and TOTP codes computed the
RFC 6238 way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from botocore.config import Config
from botocore.credentials import Credentials

from andromede.iam import totp
from support.apiclient import RequestsSigV4
from support.server import REGION, ServerProcess

__all__ = ["Tenant", "client_for", "new_tenant", "totp_code"]


@dataclass(frozen=True)
class Tenant:
    account: str
    access_key_id: str
    secret_access_key: str


def new_tenant(server: ServerProcess, prefix: str = "t") -> Tenant:
    # Through the API, not `andromede admin tenant create`: a CLI process imports the whole
    # application (seconds on a loaded CI machine) for each of these tests' fresh tenants. The CLI
    # itself is tested in tests/unit/cli and, against a running server, in test_policies.py.
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    response = requests.post(
        f"{server.api_endpoint}/api/v1/tenants",
        json={"name": name},
        auth=RequestsSigV4(Credentials(*server.operator_credentials())),
        timeout=60,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    return Tenant(
        created["tenant"]["id"],
        created["credentials"]["access_key_id"],
        created["credentials"]["secret_access_key"],
    )


def client_for(
    server: ServerProcess,
    service: str,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        region_name=REGION,
    )
    return session.client(
        service,
        endpoint_url=server.endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def totp_code(base32_seed: bytes | str, unix_time: float, offset: int = 0) -> str:
    """The code of the 30-second step of ``unix_time`` (plus ``offset`` steps)."""
    text = base32_seed.decode() if isinstance(base32_seed, bytes) else base32_seed
    seed = totp.seed_from_base32(text)
    return totp.totp(seed, totp.time_step(unix_time) + offset)
