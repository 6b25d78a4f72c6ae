"""EventBridge Pipes in a second declared Region (decision 0408), end to end: one ``andromede
serve`` declaring eu-fr-1 (the default) and eu-de-1, driven with boto3's ``pipes``,
``dynamodb``, ``events`` and ``iam`` clients in eu-de-1.

What it proves: a pipe of eu-de-1 (its ARN of eu-de-1, not listed in eu-fr-1) reads a DynamoDB
table's stream of eu-de-1 and sends each change to an API destination of eu-de-1 — found,
authorised and called with that Region's connection (its API key, not the default Region's
namesake's) on a loopback HTTP receiver; an API destination of the default Region is refused
as the pipe's target (``ValidationException``), as AWS refuses another Region's ARN.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.server import REGION, ServerProcess, running_server

FR, DE = REGION, "eu-de-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("pipes-regions") / "data"
    env = {
        "ANDROMEDE_REGIONS": json.dumps(
            [{"name": FR, "jurisdiction": "FR"}, {"name": DE, "jurisdiction": "DE"}]
        ),
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_PIPES_POLL_INTERVAL": "0.2",
        # API destinations on the test's loopback receiver.
        "ANDROMEDE_EVENTS_API_DESTINATION_ALLOW_HTTP": "true",
        "ANDROMEDE_EVENTS_API_DESTINATION_ALLOW_CIDRS": '["127.0.0.0/8"]',
    }
    with running_server(data_dir, extra_env=env) as running:
        yield running


def aws(server: ServerProcess, service: str, region: str) -> Any:
    access_key, secret_key = server.credentials()
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A loopback HTTP server recording each POST's API key and body."""
    received: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.headers.get("x-api-key", ""), body.decode()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}", received
    finally:
        http.shutdown()
        http.server_close()
        thread.join()


def _destination(events: Any, name: str, key: str, endpoint: str) -> str:
    auth = {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": key}}
    connection = events.create_connection(
        Name=name, AuthorizationType="API_KEY", AuthParameters=auth
    )["ConnectionArn"]
    return str(
        events.create_api_destination(
            Name=name,
            ConnectionArn=connection,
            InvocationEndpoint=f"{endpoint}/changes",
            HttpMethod="POST",
        )["ApiDestinationArn"]
    )


def _pipe_role(iam: Any, name: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pipes.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    allowed = {
        "Effect": "Allow",
        "Action": [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "events:InvokeApiDestination",
        ],
        "Resource": "*",
    }
    iam.put_role_policy(
        RoleName=name,
        PolicyName="pipe",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allowed]}),
    )
    return str(role["Role"]["Arn"])


def test_a_pipe_of_another_region_calls_its_regions_api_destination(
    server: ServerProcess, receiver: tuple[str, list[tuple[str, str]]]
) -> None:
    endpoint, received = receiver
    suffix = uuid.uuid4().hex[:8]
    name = f"changes-{suffix}"
    # One name in each Region, each its own key: the pipe must use eu-de-1's.
    home_destination = _destination(aws(server, "events", FR), name, f"fr-{suffix}", endpoint)
    destination = _destination(aws(server, "events", DE), name, f"de-{suffix}", endpoint)
    assert destination.split(":")[3] == DE and home_destination.split(":")[3] == FR
    dynamodb = aws(server, "dynamodb", DE)
    table = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    stream = table["LatestStreamArn"]
    assert stream.split(":")[3] == DE
    role = _pipe_role(aws(server, "iam", FR), name)
    pipes, home_pipes = aws(server, "pipes", DE), aws(server, "pipes", FR)
    source = {"DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 1}}
    with pytest.raises(ClientError) as refused:
        pipes.create_pipe(
            Name=name,
            Source=stream,
            Target=home_destination,
            RoleArn=role,
            SourceParameters=source,
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    made = pipes.create_pipe(
        Name=name, Source=stream, Target=destination, RoleArn=role, SourceParameters=source
    )
    assert made["Arn"] == f"arn:aws:pipes:{DE}:{made['Arn'].split(':')[4]}:pipe/{name}"
    assert name in [p["Name"] for p in pipes.list_pipes()["Pipes"]]
    assert name not in [p["Name"] for p in home_pipes.list_pipes()["Pipes"]]
    deadline = time.monotonic() + 60
    while pipes.describe_pipe(Name=name)["CurrentState"] != "RUNNING":
        assert time.monotonic() < deadline, "the pipe of eu-de-1 never settled RUNNING"
        time.sleep(0.2)
    dynamodb.put_item(TableName=name, Item={"id": {"S": f"order-{suffix}"}})
    deadline = time.monotonic() + 60  # the runner's passes back off while the stream is idle
    while not received and time.monotonic() < deadline:
        time.sleep(0.2)
    assert received, "the API destination of eu-de-1 was never invoked by the pipe"
    api_key, body = received[0]
    assert api_key == f"de-{suffix}"
    record = json.loads(body)
    assert record["eventName"] == "INSERT" and record["awsRegion"] == DE
    assert record["eventSourceARN"] == stream
    assert record["dynamodb"]["Keys"] == {"id": {"S": f"order-{suffix}"}}
    assert pipes.delete_pipe(Name=name)["CurrentState"] == "DELETING"
