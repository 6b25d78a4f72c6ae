"""Decision 0204: EventBridge's connections keep their credentials in a real Secrets Manager
secret of the account. The EventBridge app built as ``serve`` builds it (``wiring.events`` on
SQLite) next to the in-process Secrets Manager app over the real KMS envelope sealer, both
signed as botocore signs: the secret made by CreateConnection (``events!connection/…``,
``OwningService`` ``events``), its value the AuthParameters, refused to the customer's
changes in Secrets Manager's words, changed by UpdateConnection and DeauthorizeConnection,
deleted by DeleteConnection; the deliveries reading it (and its cache); ``KmsKeyIdentifier``
with the caller's KMS rights and the key's state deciding; a connection of before the
decision read from the events store until its next change moves it into a secret."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import sqlalchemy as sa
from botocore.credentials import Credentials
from botocore.serialize import create_serializer

from andromede.connection_secret_adapters import SecretsManagerConnectionSecrets
from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.eventsapi.app import CONTENT_TYPE
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from support.json_client import JsonReply, signed_json_post
from support.schema import migrated_sqlite
from support.secretsapp import REGION
from support.secretsapp import Harness as SecretsHarness
from support.secretsapp import harness as secrets_harness

MODEL = botocore.session.get_session().get_service_model("events")
SERIALIZER = create_serializer("json")
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
BASIC = {"BasicAuthParameters": {"Username": "ann", "Password": "s3cret"}}
TAG = ("EventBridgeApiDestinations", "true")


@dataclass
class Endpoint:
    port: int = 0
    authorizations: list[str] = field(default_factory=list)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.authorizations.append(self.headers.get("Authorization", ""))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class NoTargets:
    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no queue or topic here")


@dataclass
class Both:
    sm: SecretsHarness
    parts: EventsParts
    db: Database
    credentials: Credentials
    role: str = ""

    async def call(self, action: str, params: dict[str, Any]) -> JsonReply:
        request = SERIALIZER.serialize_to_request(params, MODEL.operation_model(action))
        return await signed_json_post(
            self.parts.api(self.sm.identity, self.sm.audit, None, None),
            f"AWSEvents.{action}",
            request["body"],
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="events",
            region=REGION,
        )

    async def ok(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = await self.call(action, params)
        assert reply.status == 200, reply.body
        answer = reply.json()
        assert set(answer) <= set(MODEL.operation_model(action).output_shape.members), answer
        return answer

    async def fails(self, action: str, params: dict[str, Any], error_type: str) -> str:
        reply = await self.call(action, params)
        assert 400 <= reply.status < 500, reply.body
        fields = reply.error_fields()
        assert fields["__type"] == error_type, reply.body
        return str(fields.get("message", ""))

    async def stored_secret(self, name: str) -> Any:
        table = tables.events_connections
        query = sa.select(table.c.secret).where(table.c.connection_name == name)
        return await self.db.read(lambda conn: conn.execute(query).scalar())

    async def value(self, secret_id: str, **extra: str) -> dict[str, Any]:
        got = await self.sm.ok("GetSecretValue", {"SecretId": secret_id, **extra})
        return dict(json.loads(got["SecretString"]))


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[Both]:
    async for sm in secrets_harness(tmp_path):
        tenant = sm.tenant_id
        role = await sm.identity.create_role(tenant, "invoker", TRUST)
        allow = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": "*"}
            ],
        }
        await sm.identity.put_role_policy(tenant, "invoker", "invoke", json.dumps(allow))
        settings = Settings(
            data_dir=tmp_path,
            region=REGION,
            events_delivery_retry_base=0.01,
            events_api_destination_allow_http=True,
            events_api_destination_allow_cidrs=("127.0.0.0/8",),
            events_connection_secret_cache=3600,
        )
        db = open_database(migrated_sqlite(tmp_path / "meta.db"))
        parts = EventsParts(settings, db, NoTargets(), identity=sm.identity)  # type: ignore[arg-type]
        parts.connections.secrets = SecretsManagerConnectionSecrets(
            sm.secrets,
            REGION,
            cache_ttl=settings.events_connection_secret_cache,
            customer_keys=sm.keys,
        )
        assert sm.credentials is not None
        try:
            yield Both(sm, parts, db, sm.credentials, role.arn)
        finally:
            await db.close()


async def _deliver(both: Both, endpoint: Endpoint, connection_arn: str) -> str:
    """One event through a rule to an API destination on ``connection_arn``: the
    Authorization header the endpoint received."""
    name = connection_arn.split("/")[1]
    made = await both.ok(
        "CreateApiDestination",
        {
            "Name": f"d-{name}-{len(endpoint.authorizations)}",
            "ConnectionArn": connection_arn,
            "InvocationEndpoint": f"http://127.0.0.1:{endpoint.port}/hook",
            "HttpMethod": "POST",
        },
    )
    await both.ok("PutRule", {"Name": "r", "EventPattern": '{"source": ["shop"]}'})
    target = {"Id": "api", "Arn": made["ApiDestinationArn"], "RoleArn": both.role}
    await both.ok("PutTargets", {"Rule": "r", "Targets": [target]})
    entries = [{"Source": "shop", "DetailType": "order", "Detail": "{}"}]
    assert (await both.ok("PutEvents", {"Entries": entries}))["FailedEntryCount"] == 0
    await both.parts.deliveries.drain()
    return endpoint.authorizations[-1]


def _policy(account: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_the_connection_s_secret_is_a_real_managed_secret(
    both: Both, endpoint: Endpoint
) -> None:
    made = await both.ok(
        "CreateConnection", {"Name": "c1", "AuthorizationType": "BASIC", "AuthParameters": BASIC}
    )
    described = await both.ok("DescribeConnection", {"Name": "c1"})
    arn = described["SecretArn"]
    uuid = made["ConnectionArn"].rsplit("/", 1)[1]
    assert arn.startswith(
        f"arn:aws:secretsmanager:{REGION}:{both.sm.tenant_id}:secret:events!connection/c1/{uuid}-"
    )
    assert "KmsKeyIdentifier" not in described
    # In Secrets Manager: described, listed, read by the customer; owned by EventBridge.
    secret = await both.sm.ok("DescribeSecret", {"SecretId": arn})
    assert secret["Name"] == f"events!connection/c1/{uuid}"
    assert secret["OwningService"] == "events"
    assert await both.value(arn) == BASIC
    owned = await both.sm.ok(
        "ListSecrets", {"Filters": [{"Key": "owning-service", "Values": ["events"]}]}
    )
    assert [s["ARN"] for s in owned["SecretList"]] == [arn]
    # Not sealed in the events store any more.
    assert await both.stored_secret("c1") is None
    # The customer cannot change or delete it through Secrets Manager (AWS's refusal).
    for action, params in (
        ("PutSecretValue", {"SecretString": "{}"}),
        ("UpdateSecret", {"Description": "mine"}),
        ("UpdateSecret", {"SecretString": "{}"}),
        ("DeleteSecret", {"ForceDeleteWithoutRecovery": True}),
        ("DeleteSecret", {}),
        ("PutResourcePolicy", {"ResourcePolicy": _policy(both.sm.tenant_id)}),
        ("UpdateSecretVersionStage", {"VersionStage": "X", "MoveToVersionId": "a" * 32}),
    ):
        message = await both.sm.fails(
            action, {"SecretId": arn, **params}, "InvalidRequestException"
        )
        assert "managed by events" in message, (action, message)
    await both.sm.ok("TagResource", {"SecretId": arn, "Tags": [{"Key": "team", "Value": "a"}]})
    # A name the customer gives cannot take EventBridge's prefix.
    await both.sm.fails(
        "CreateSecret", {"Name": "events!connection/x/y", "SecretString": "v"},
        "InvalidParameterException",
    )  # fmt: skip
    # The delivery reads it.
    assert await _deliver(both, endpoint, made["ConnectionArn"]) == _basic("ann", "s3cret")


async def test_update_deauthorize_and_delete_go_through_the_secret(
    both: Both, endpoint: Endpoint
) -> None:
    made = await both.ok(
        "CreateConnection", {"Name": "c2", "AuthorizationType": "BASIC", "AuthParameters": BASIC}
    )
    arn = (await both.ok("DescribeConnection", {"Name": "c2"}))["SecretArn"]
    assert await _deliver(both, endpoint, made["ConnectionArn"]) == _basic("ann", "s3cret")
    await both.ok(
        "UpdateConnection",
        {"Name": "c2", "AuthParameters": {"BasicAuthParameters": {"Password": "n3w"}}},
    )
    assert (await both.ok("DescribeConnection", {"Name": "c2"}))["SecretArn"] == arn
    assert await both.value(arn) == {"BasicAuthParameters": {"Username": "ann", "Password": "n3w"}}
    assert await both.value(arn, VersionStage="AWSPREVIOUS") == BASIC
    # The gateway's cache (an hour here) forgets what its own change replaced.
    assert await _deliver(both, endpoint, made["ConnectionArn"]) == _basic("ann", "n3w")
    deauthorized = await both.ok("DeauthorizeConnection", {"Name": "c2"})
    assert deauthorized["ConnectionState"] == "DEAUTHORIZED"
    assert await both.value(arn) == {}  # the credentials deleted, as AWS does
    await both.ok("UpdateConnection", {"Name": "c2", "AuthParameters": BASIC})
    assert await both.value(arn) == BASIC
    await both.ok("DeleteConnection", {"Name": "c2"})
    await both.sm.fails("DescribeSecret", {"SecretId": arn}, "ResourceNotFoundException")
    # A refused creation (the name taken) leaves no secret behind.
    await both.ok(
        "CreateConnection", {"Name": "c3", "AuthorizationType": "BASIC", "AuthParameters": BASIC}
    )
    await both.fails(
        "CreateConnection",
        {"Name": "c3", "AuthorizationType": "BASIC", "AuthParameters": BASIC},
        "ResourceAlreadyExistsException",
    )
    listed = await both.sm.ok("ListSecrets", {"IncludePlannedDeletion": True})
    assert len(listed["SecretList"]) == 1


async def test_a_customer_key_with_the_caller_s_rights(both: Both, endpoint: Endpoint) -> None:
    untagged = await both.sm.keys.create_key(both.sm.key_caller())
    params = {
        "Name": "k0",
        "AuthorizationType": "BASIC",
        "AuthParameters": BASIC,
        "KmsKeyIdentifier": untagged.key_id,
    }
    message = await both.fails("CreateConnection", params, "ValidationException")
    assert "EventBridgeApiDestinations=true" in message  # as AWS requires
    assert (await both.sm.ok("ListSecrets", {}))["SecretList"] == []
    key = await both.sm.keys.create_key(both.sm.key_caller(), tags=[TAG])
    made = await both.ok(
        "CreateConnection",
        {
            "Name": "k1",
            "AuthorizationType": "BASIC",
            "AuthParameters": BASIC,
            "KmsKeyIdentifier": key.key_id,
        },
    )
    described = await both.ok("DescribeConnection", {"Name": "k1"})
    assert described["KmsKeyIdentifier"] == key.key_id
    secret = await both.sm.ok("DescribeSecret", {"SecretId": described["SecretArn"]})
    assert secret["KmsKeyId"] == key.key_id
    await both.sm.audit.flush()
    records = [e for _, e in await both.sm.audit_store.list_events(None, after_id=0, limit=500)]
    uses = [r for r in records if r.action == "kms:GenerateDataKey" and r.resource == key.arn]
    assert uses and uses[-1].details["invoked_by"] == "secretsmanager.amazonaws.com"
    assert await _deliver(both, endpoint, made["ConnectionArn"]) == _basic("ann", "s3cret")
    # Another key, by alias: the secret moves under it.
    other = await both.sm.keys.create_key(both.sm.key_caller(), tags=[TAG])
    await both.sm.keys.create_alias(both.sm.key_caller(), "alias/conn", other.key_id)
    await both.ok("UpdateConnection", {"Name": "k1", "KmsKeyIdentifier": "alias/conn"})
    assert (await both.ok("DescribeConnection", {"Name": "k1"}))["KmsKeyIdentifier"] == (
        "alias/conn"
    )
    secret = await both.sm.ok("DescribeSecret", {"SecretId": described["SecretArn"]})
    assert secret["KmsKeyId"] == "alias/conn"
    # A disabled key: refused in EventBridge's words, nothing made.
    await both.sm.keys.disable_key(both.sm.key_caller(), key.key_id)
    params = {
        "Name": "k2",
        "AuthorizationType": "BASIC",
        "AuthParameters": BASIC,
        "KmsKeyIdentifier": key.key_id,
    }
    message = await both.fails("CreateConnection", params, "ValidationException")
    assert key.key_id in message and "s3cret" not in message
    await both.fails("DescribeConnection", {"Name": "k2"}, "ResourceNotFoundException")
    # An IAM user allowed EventBridge but no use of the key: AccessDeniedException.
    user = await both.sm.iam_user("eve")
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:*", "Resource": "*"}],
    }
    await both.sm.identity.put_user_policy(both.sm.tenant_id, "eve", "p", json.dumps(allow))
    assert user.credentials is not None
    eve = replace(both, credentials=user.credentials)
    params["KmsKeyIdentifier"] = other.key_id
    message = await eve.fails("CreateConnection", params, "AccessDeniedException")
    assert "KMS" in message
    await both.fails("DescribeConnection", {"Name": "k2"}, "ResourceNotFoundException")


async def test_a_connection_of_before_is_read_from_the_store_until_changed(
    both: Both, endpoint: Endpoint
) -> None:
    service = both.parts.connections
    secrets, service.secrets = service.secrets, None
    made = await both.ok(
        "CreateConnection", {"Name": "old", "AuthorizationType": "BASIC", "AuthParameters": BASIC}
    )
    service.secrets = secrets
    assert await both.stored_secret("old") is not None  # sealed in the events store
    assert (await both.sm.ok("ListSecrets", {}))["SecretList"] == []
    assert await _deliver(both, endpoint, made["ConnectionArn"]) == _basic("ann", "s3cret")
    # Its next change moves the credentials into a secret.
    await both.ok("UpdateConnection", {"Name": "old", "Description": "moved"})
    arn = (await both.ok("DescribeConnection", {"Name": "old"}))["SecretArn"]
    assert await both.value(arn) == BASIC
    assert await both.stored_secret("old") is None
    assert await _deliver(both, endpoint, made["ConnectionArn"]) == _basic("ann", "s3cret")


async def test_kms_key_identifier_is_refused_without_secrets(both: Both) -> None:
    both.parts.connections.secrets = None
    message = await both.fails(
        "CreateConnection",
        {
            "Name": "x",
            "AuthorizationType": "BASIC",
            "AuthParameters": BASIC,
            "KmsKeyIdentifier": "alias/k",
        },
        "ValidationException",
    )
    assert "Secrets Manager" in message


async def test_the_account_s_secrets_quota_applies(both: Both) -> None:
    for n in range(5):  # the harness's secrets_max_secrets
        await both.sm.ok("CreateSecret", {"Name": f"s{n}", "SecretString": "v"})
    params = {"Name": "q", "AuthorizationType": "BASIC", "AuthParameters": BASIC}
    message = await both.fails("CreateConnection", params, "LimitExceededException")
    assert "secret" in message
    await both.fails("DescribeConnection", {"Name": "q"}, "ResourceNotFoundException")
