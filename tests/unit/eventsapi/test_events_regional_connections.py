"""Decision 0400: EventBridge's connections and API destinations in a Region other than the
default — in process, built as ``serve`` builds EventBridge (``wiring.events`` on SQLite,
the connections' credentials in the in-process Secrets Manager over the real KMS envelope
sealer, ``under_customer_keys``), called with botocore's SigV4 in each Region. A connection
of one name in two Regions is two connections (each its Region's ARN, listed there only),
each one's secret made in its own Region's Secrets Manager; an API destination names its own
Region's connection only; a rule of eu-de-1 invokes eu-de-1's destination with eu-de-1's
credentials (the invoker choosing the Region from the target's ARN); update, deauthorize and
delete keep to their Region; an OAuth connection of eu-de-1 authorized there by its first
token."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.db.database import Database, open_database
from andromede.eventsapi.app import CONTENT_TYPE, EventsApp
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from support.json_client import signed_json_post
from support.regional_events import TRUST
from support.schema import migrated_sqlite
from support.secretsapp import REGION as HOME
from support.secretsapp import Harness as SecretsHarness
from support.secretsapp import harness as secrets_harness

OTHER = "eu-de-1"
PATTERN = json.dumps({"source": ["shop"]})
TOKEN = json.dumps({"access_token": "tok", "expires_in": 3600}).encode()


def _basic(user: str, password: str) -> dict[str, Any]:
    return {"BasicAuthParameters": {"Username": user, "Password": password}}


def _header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Receiver:
    """A local HTTP endpoint: the path and Authorization header of each request."""

    port: int = 0
    received: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.received.append((self.path, self.headers.get("Authorization", "")))
            # An OAuth authorization endpoint at /token, an API elsewhere.
            answer = TOKEN if self.path == "/token" else b"{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

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


class NoQueues:
    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no queue or topic here")


@dataclass
class World:
    sm: SecretsHarness
    parts: EventsParts
    app: EventsApp
    db: Database
    credentials: Credentials
    role: str

    async def call(
        self, region: str, action: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        reply = await signed_json_post(
            self.app,
            f"AWSEvents.{action}",
            params,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="events",
            region=region,
        )
        return reply.status, reply.json()

    async def ok(self, region: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        status, answer = await self.call(region, action, params)
        assert status == 200, answer
        return answer

    async def refused(self, region: str, action: str, params: dict[str, Any]) -> tuple[str, str]:
        status, answer = await self.call(region, action, params)
        assert status == 400, answer
        return str(answer["__type"]), str(answer.get("message", ""))

    def arn(self, region: str, resource: str) -> str:
        return f"arn:aws:events:{region}:{self.sm.tenant_id}:{resource}"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for sm in secrets_harness(tmp_path, regions=(OTHER,)):
        tenant = sm.tenant_id
        role = await sm.identity.create_role(tenant, "invoker", TRUST)
        allow = {"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": "*"}
        policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
        await sm.identity.put_role_policy(tenant, "invoker", "invoke", policy)
        settings = Settings(
            data_dir=tmp_path,
            region=HOME,
            regions=[{"name": HOME}, {"name": OTHER}],
            events_delivery_retry_base=0.01,
            events_api_destination_allow_http=True,
            events_api_destination_allow_cidrs=("127.0.0.0/8",),
        )
        db = open_database(migrated_sqlite(tmp_path / "meta.db"))
        events_keys = KeyService(LocalKeyFileProvider(tmp_path / "events-keys"))
        try:
            parts = EventsParts(settings, db, NoQueues(), identity=sm.identity)  # type: ignore[arg-type]
            parts.under_customer_keys(sm.secrets, events_keys, sm.keys)
            app = parts.api(sm.identity, sm.audit, None, None)
            assert sm.credentials is not None
            yield World(sm, parts, app, db, sm.credentials, role.arn)
        finally:
            events_keys.close()
            await db.close()


async def test_connections_and_destinations_are_each_regions_own(
    world: World, receiver: Receiver
) -> None:
    made = {
        region: await world.ok(
            region,
            "CreateConnection",
            {"Name": "c", "AuthorizationType": "BASIC", "AuthParameters": _basic(region, "pw")},
        )
        for region in (HOME, OTHER)
    }
    for region in (HOME, OTHER):
        arn = made[region]["ConnectionArn"]
        assert arn.startswith(world.arn(region, "connection/c/"))
        uuid = arn.rsplit("/", 1)[1]
        described = await world.ok(region, "DescribeConnection", {"Name": "c"})
        assert (described["ConnectionArn"], described["ConnectionState"]) == (arn, "AUTHORIZED")
        # The secret is of the connection's Region, in that Region's Secrets Manager.
        secret_arn = described["SecretArn"]
        assert secret_arn.startswith(
            f"arn:aws:secretsmanager:{region}:{world.sm.tenant_id}:secret:"
            f"events!connection/c/{uuid}-"
        )
        sm = world.sm.in_region(region)
        secret = await sm.ok("DescribeSecret", {"SecretId": secret_arn})
        assert secret["Name"] == f"events!connection/c/{uuid}"
        assert secret["OwningService"] == "events"
        value = await sm.ok("GetSecretValue", {"SecretId": secret_arn})
        assert json.loads(value["SecretString"]) == _basic(region, "pw")
        listed = (await world.ok(region, "ListConnections", {}))["Connections"]
        assert [(c["Name"], c["ConnectionArn"]) for c in listed] == [("c", arn)]

    # An API destination names a connection of its own Region only.
    endpoint = f"http://127.0.0.1:{receiver.port}/hook"
    other_connection = made[OTHER]["ConnectionArn"]
    code, _ = await world.refused(
        OTHER,
        "CreateApiDestination",
        {
            "Name": "d",
            "ConnectionArn": made[HOME]["ConnectionArn"],
            "InvocationEndpoint": endpoint,
            "HttpMethod": "POST",
        },
    )
    assert code == "ValidationException"
    created = await world.ok(
        OTHER,
        "CreateApiDestination",
        {
            "Name": "d",
            "ConnectionArn": other_connection,
            "InvocationEndpoint": endpoint,
            "HttpMethod": "POST",
        },
    )
    destination = created["ApiDestinationArn"]
    assert destination.startswith(world.arn(OTHER, "api-destination/d/"))
    assert (await world.ok(HOME, "ListApiDestinations", {}))["ApiDestinations"] == []
    code, _ = await world.refused(HOME, "DescribeApiDestination", {"Name": "d"})
    assert code == "ResourceNotFoundException"
    listed = (await world.ok(OTHER, "ListApiDestinations", {}))["ApiDestinations"]
    assert [(d["Name"], d["ApiDestinationArn"]) for d in listed] == [("d", destination)]
    described = await world.ok(OTHER, "DescribeApiDestination", {"Name": "d"})
    assert described["ConnectionArn"] == other_connection

    # A rule of eu-de-1 invokes it with eu-de-1's credentials.
    async def deliver() -> tuple[str, str]:
        entries = [{"Source": "shop", "DetailType": "order", "Detail": "{}"}]
        assert (await world.ok(OTHER, "PutEvents", {"Entries": entries}))["FailedEntryCount"] == 0
        await world.parts.deliveries.drain()
        return receiver.received.pop()

    await world.ok(OTHER, "PutRule", {"Name": "r", "EventPattern": PATTERN})
    target = {"Id": "api", "Arn": destination, "RoleArn": world.role}
    await world.ok(OTHER, "PutTargets", {"Rule": "r", "Targets": [target]})
    assert await deliver() == ("/hook", _header(OTHER, "pw"))

    # Update, deauthorize, delete: eu-de-1's only.
    await world.ok(
        OTHER,
        "UpdateConnection",
        {"Name": "c", "AuthParameters": {"BasicAuthParameters": {"Password": "new"}}},
    )
    assert await deliver() == ("/hook", _header(OTHER, "new"))
    await world.ok(
        OTHER, "UpdateApiDestination", {"Name": "d", "InvocationEndpoint": f"{endpoint}2"}
    )
    assert await deliver() == ("/hook2", _header(OTHER, "new"))
    await world.ok(OTHER, "DeauthorizeConnection", {"Name": "c"})
    states = {
        region: (await world.ok(region, "DescribeConnection", {"Name": "c"}))["ConnectionState"]
        for region in (HOME, OTHER)
    }
    assert states == {HOME: "AUTHORIZED", OTHER: "DEAUTHORIZED"}
    other_secret = (await world.ok(OTHER, "DescribeConnection", {"Name": "c"}))["SecretArn"]
    await world.ok(OTHER, "DeleteApiDestination", {"Name": "d"})
    await world.ok(OTHER, "DeleteConnection", {"Name": "c"})
    assert (await world.ok(OTHER, "ListConnections", {}))["Connections"] == []
    await world.sm.in_region(OTHER).fails(
        "DescribeSecret", {"SecretId": other_secret}, "ResourceNotFoundException"
    )
    home = (await world.ok(HOME, "ListConnections", {}))["Connections"]
    assert [c["ConnectionArn"] for c in home] == [made[HOME]["ConnectionArn"]]
    home_secret = (await world.ok(HOME, "DescribeConnection", {"Name": "c"}))["SecretArn"]
    await world.sm.ok("DescribeSecret", {"SecretId": home_secret})


async def test_a_destination_of_another_region_is_not_invoked_here(world: World) -> None:
    """A rule names an API destination of its own Region (AWS's rule, a target of another
    Region refused); the default Region's connections answer no ARN of eu-de-1's."""
    await world.ok(
        OTHER,
        "CreateConnection",
        {"Name": "c", "AuthorizationType": "BASIC", "AuthParameters": _basic("u", "p")},
    )
    await world.ok(HOME, "PutRule", {"Name": "r", "EventPattern": PATTERN})
    foreign = {"Id": "api", "Arn": world.arn(OTHER, "api-destination/d/x"), "RoleArn": world.role}
    code, message = await world.refused(HOME, "PutTargets", {"Rule": "r", "Targets": [foreign]})
    assert code == "ValidationException"
    assert "must be of this Region" in message
    assert (await world.ok(HOME, "ListConnections", {}))["Connections"] == []
    code, _ = await world.refused(HOME, "DescribeConnection", {"Name": "c"})
    assert code == "ResourceNotFoundException"


async def test_an_oauth_connection_is_authorized_in_its_region(
    world: World, receiver: Receiver
) -> None:
    """The invoker writes an OAuth connection's state through the connection's Region: its
    first token authorizes eu-de-1's connection (the default Region's namesake untouched)."""
    base = f"http://127.0.0.1:{receiver.port}"
    oauth = {
        "OAuthParameters": {
            "AuthorizationEndpoint": f"{base}/token",
            "HttpMethod": "POST",
            "ClientParameters": {"ClientID": "id", "ClientSecret": "secret"},
        }
    }
    made = {
        region: await world.ok(
            region,
            "CreateConnection",
            {"Name": "o", "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": oauth},
        )
        for region in (HOME, OTHER)
    }
    assert {r: m["ConnectionState"] for r, m in made.items()} == {
        HOME: "AUTHORIZING",
        OTHER: "AUTHORIZING",
    }
    created = await world.ok(
        OTHER,
        "CreateApiDestination",
        {
            "Name": "d",
            "ConnectionArn": made[OTHER]["ConnectionArn"],
            "InvocationEndpoint": f"{base}/hook",
            "HttpMethod": "POST",
        },
    )
    await world.ok(OTHER, "PutRule", {"Name": "r", "EventPattern": PATTERN})
    target = {"Id": "api", "Arn": created["ApiDestinationArn"], "RoleArn": world.role}
    await world.ok(OTHER, "PutTargets", {"Rule": "r", "Targets": [target]})
    entries = [{"Source": "shop", "DetailType": "order", "Detail": "{}"}]
    assert (await world.ok(OTHER, "PutEvents", {"Entries": entries}))["FailedEntryCount"] == 0
    await world.parts.deliveries.drain()
    assert [path for path, _ in receiver.received] == ["/token", "/hook"]
    assert receiver.received[-1][1] == "Bearer tok"
    states = {
        region: (await world.ok(region, "DescribeConnection", {"Name": "o"}))["ConnectionState"]
        for region in (HOME, OTHER)
    }
    assert states == {HOME: "AUTHORIZING", OTHER: "AUTHORIZED"}
