"""Helpers for the IAM/STS end-to-end tests: a fresh tenant per test (made with ``andromede
admin tenant create`` against the running server's data directory), boto3 clients for it, and
TOTP codes computed the RFC 6238 way."""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from andromede.iam import totp
from support.server import ANDROMEDE, REGION, ServerProcess

__all__ = ["Tenant", "client_for", "new_tenant", "totp_code"]


@dataclass(frozen=True)
class Tenant:
    account: str
    access_key_id: str
    secret_access_key: str


def new_tenant(server: ServerProcess, prefix: str = "t") -> Tenant:
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    data_dir = str(server.data_dir)
    completed = subprocess.run(
        [str(ANDROMEDE), "admin", "tenant", "create", name, "--json", "--data-dir", data_dir],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    created = json.loads(completed.stdout)
    return Tenant(
        created["tenant_id"], created["aws_access_key_id"], created["aws_secret_access_key"]
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
