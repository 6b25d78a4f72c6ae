"""An operator's S3 credentials under an approved access request (decision 0107), in process:
the request's scope is the whole authorisation matrix — read-only reads and lists, read-write
also writes and deletes objects, neither touches a bucket's configuration, a bucket outside
the scope or another tenant's is AccessDenied; a revocation is immediate; the credentials work
on no other API; and every request made with them, reads included, is an event of the
tenant's log naming the operator and the request."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.audit.access import AccessMode, AccessRequest, Actor
from andromede.audit.model import AuditEvent, Outcome, parse_entry
from andromede.iam.errors import InvalidClientTokenId
from support.s3app import Client, in_process_client


class Clock:
    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(tmp_path: Path, clock: Clock) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path, identity_clock=clock) as c:
        for bucket in ("photos", "ledger"):
            assert (await c.request("PUT", f"/{bucket}")).status == 200
            assert (await c.request("PUT", f"/{bucket}/k", b"data")).status == 200
        yield c


async def grant(
    client: Client, mode: AccessMode, buckets: tuple[str, ...] | None
) -> tuple[AccessRequest, Client]:
    """An approved request of the platform's operator, and a client with its credentials."""
    assert client.identity is not None and client.operator_access is not None
    operators = await client.identity.list_operators()
    created = None if operators else await client.identity.bootstrap_operator()
    operator = created.operator if created is not None else operators[0]
    acting = Actor(operator.arn, operator_id=operator.id, operator_name=operator.name)
    root = Actor(f"arn:aws:iam::{client.tenant_id}:root", tenant_id=client.tenant_id)
    service = client.operator_access
    opened = await service.open(
        acting,
        client.tenant_id,
        buckets=buckets,
        mode=mode,
        reason="ticket",
        duration_seconds=600,
        request_id="R",
    )
    approved = await service.approve(root, opened.id, request_id="R")
    assert approved.expires_at is not None
    issued = await client.identity.issue_operator_access_credentials(
        client.tenant_id, operator.id, approved.id, approved.expires_at
    )
    creds = Credentials(issued.access_key_id, issued.secret_access_key, issued.session_token)
    return approved, dataclasses.replace(client, credentials=creds)


async def statuses(operator: Client, calls: list[tuple[str, str, bytes]]) -> list[int]:
    return [(await operator.request(m, p, b)).status for m, p, b in calls]


READS = [
    ("GET", "/photos/k", b""),
    ("HEAD", "/photos/k", b""),
    ("GET", "/photos?list-type=2", b""),
    ("HEAD", "/photos", b""),
    ("GET", "/photos/k?tagging", b""),
]
WRITES = [
    ("PUT", "/photos/new", b"x"),
    ("DELETE", "/photos/k?tagging", b""),
    ("DELETE", "/photos/new", b""),
]
CONFIGURATION = [
    ("GET", "/photos?policy", b""),
    ("PUT", "/photos?policy", b'{"Version":"2012-10-17","Statement":[]}'),
    ("GET", "/photos?versioning", b""),
    ("GET", "/photos?acl", b""),
    ("PUT", "/photos?acl", b""),
    ("DELETE", "/photos", b""),
    ("PUT", "/newbucket", b""),
]


async def test_read_only_reads_and_lists_its_buckets_and_nothing_else(client: Client) -> None:
    _, operator = await grant(client, AccessMode.READ_ONLY, ("photos",))
    assert await statuses(operator, READS) == [200, 200, 200, 200, 200]
    assert (await operator.request("GET", "/photos/k")).body == b"data"
    assert await statuses(operator, WRITES) == [403, 403, 403]
    assert await statuses(operator, CONFIGURATION) == [403] * len(CONFIGURATION)
    # Outside its scope: another bucket of the tenant, and the list of its buckets.
    assert await statuses(operator, [("GET", "/ledger/k", b""), ("GET", "/", b"")]) == [403, 403]
    reply = await operator.request("GET", "/ledger/k")
    assert reply.error_code() == "AccessDenied"


async def test_read_write_writes_and_deletes_objects_but_never_configures(
    client: Client,
) -> None:
    _, operator = await grant(client, AccessMode.READ_WRITE, ("photos",))
    assert await statuses(operator, READS) == [200] * len(READS)
    assert await statuses(operator, WRITES) == [200, 204, 204]
    assert await statuses(operator, CONFIGURATION) == [403] * len(CONFIGURATION)
    assert (await operator.request("PUT", "/ledger/k", b"x")).status == 403
    # A copy reads its source under the same scope.
    copy = {"x-amz-copy-source": "/ledger/k"}
    assert (await operator.request("PUT", "/photos/c", headers=copy)).status == 403


async def test_every_bucket_lists_them_but_never_another_tenants(client: Client) -> None:
    other = await client.other_tenant("other")
    assert (await other.request("PUT", "/theirs")).status == 200
    assert (await other.request("PUT", "/theirs/k", b"secret")).status == 200
    _, operator = await grant(client, AccessMode.READ_WRITE, None)
    assert await statuses(operator, [("GET", "/", b""), ("GET", "/ledger/k", b"")]) == [200, 200]
    assert b"<Name>ledger</Name>" in (await operator.request("GET", "/")).body
    assert b"theirs" not in (await operator.request("GET", "/")).body
    assert await statuses(
        operator,
        [
            ("GET", "/theirs/k", b""),
            ("GET", "/theirs?list-type=2", b""),
            ("PUT", "/theirs/k", b"x"),
            ("DELETE", "/theirs/k", b""),
        ],
    ) == [403, 403, 403, 403]
    assert (await other.request("GET", "/theirs/k")).body == b"secret"


async def test_a_revocation_is_immediate(client: Client) -> None:
    request, operator = await grant(client, AccessMode.READ_ONLY, ("photos",))
    assert (await operator.request("GET", "/photos/k")).status == 200
    assert client.operator_access is not None
    root = Actor(f"arn:aws:iam::{client.tenant_id}:root", tenant_id=client.tenant_id)
    await client.operator_access.revoke(root, request.id, request_id="R")
    assert (await operator.request("GET", "/photos/k")).status == 403


async def tenant_events(client: Client) -> list[AuditEvent]:
    await client.audit.flush()
    head = await client.audit_store.tree_head(client.tenant_id)
    entries = await client.audit_store.entries(client.tenant_id, 0, head.size)
    return [parse_entry(e) for e in entries]


async def test_every_request_is_in_the_tenants_log_reads_and_refusals_too(
    client: Client, clock: Clock
) -> None:
    request, operator = await grant(client, AccessMode.READ_ONLY, ("photos",))
    ids = []
    for method, path in [("GET", "/photos/k"), ("HEAD", "/photos/k"), ("PUT", "/photos/z")]:
        reply = await operator.request(method, path, b"z" if method == "PUT" else b"")
        ids.append(reply.headers["x-amz-request-id"])
    clock.shift = 601  # past the request's end: the credentials have expired
    expired = await operator.request("GET", "/photos/k")
    assert expired.status == 400 and expired.error_code() == "ExpiredToken"
    ids.append(expired.headers["x-amz-request-id"])
    events = {e.request_id: e for e in await tenant_events(client)}
    assert [events[i].action for i in ids] == [
        "s3:GetObject",
        "s3:GetObject",
        "s3:PutObject",
        "s3:GetObject",
    ]
    assert [events[i].outcome for i in ids] == [
        Outcome.SUCCESS,
        Outcome.SUCCESS,
        Outcome.FAILURE,
        Outcome.FAILURE,
    ]
    for i in ids:
        assert events[i].principal == f"arn:andromede:platform::operator/{request.operator_name}"
        assert events[i].details["access_request"] == request.id
        assert events[i].details["operator"] == request.operator_name
    assert events[ids[-1]].details["error"] == "ExpiredToken"


async def test_the_root_users_own_reads_are_not_logged(client: Client) -> None:
    reply = await client.request("GET", "/photos/k")
    assert reply.status == 200
    ids = {e.request_id for e in await tenant_events(client)}
    assert reply.headers["x-amz-request-id"] not in ids


async def test_the_credentials_work_on_no_other_api(client: Client) -> None:
    _, operator = await grant(client, AccessMode.READ_WRITE, None)
    assert client.identity is not None and operator.credentials is not None
    creds = operator.credentials
    with pytest.raises(InvalidClientTokenId):
        await client.identity.resolve_access_key(creds.access_key, creds.token)
    with pytest.raises(InvalidClientTokenId):
        await client.identity.resolve_access_key(creds.access_key, creds.token, allow_operator=True)
    _, principal = await client.identity.resolve_access_key(
        creds.access_key, creds.token, allow_operator_access=True
    )
    assert principal.is_operator_access and principal.tenant_id == client.tenant_id
