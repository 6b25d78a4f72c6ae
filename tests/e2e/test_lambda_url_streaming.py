"""A ``RESPONSE_STREAM`` function URL end to end (decision 0337), on the session's ``andromede
serve``: a plain HTTP client (``http.client`` reading the chunked body as it comes) gets the
status and headers of the handler's prelude and its first piece while the handler is still
running — the handler, in the server's sandbox, then waits for a message the test sends to a
queue only once it has read that piece, so the answer cannot have been gathered first —, then
the rest; a handler failing after its first piece cuts the body, which the client reads as an
incomplete answer.

The handler's SQS calls go out of the sandbox through its API relay after its first piece:
twice in session 60 none of them reached the gateway in 120 s (the bootstrap's relay thread
had died making a connection's threads under the function's 128 MB, decision 0350); a
handler that is never told now says why in its answer instead of timing out."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.lambda_functions import NEEDS_BWRAP, execution_role, python_function
from support.server import ServerProcess

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

SOURCE = """
import os
import boto3
from botocore.config import Config

# A call that hangs is tried again rather than eating the function's time (at most about
# 2 x 10 s a call, a retry included).
sqs = boto3.client("sqs", config=Config(connect_timeout=5, read_timeout=10,
                                        retries={"max_attempts": 1}))

def handler(event, context):
    return stream(event, context)

def stream(event, context):
    query = event.get("queryStringParameters") or {}
    yield {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Streamed": "yes"},
           "cookies": ["seen=1"]}
    yield "first;"
    # Go on only once the test, having read the first piece, says so.
    told = False
    failures = []
    # Given up early enough for the answer, which the test shows, to say why.
    while not told and context.get_remaining_time_in_millis() > 30000:
        try:
            got = sqs.receive_message(QueueUrl=os.environ["GO"], WaitTimeSeconds=1)
        except Exception as exc:
            failures.append(repr(exc))
            continue
        for message in got.get("Messages", []):
            sqs.delete_message(QueueUrl=os.environ["GO"], ReceiptHandle=message["ReceiptHandle"])
            told = True
    if not told:
        yield "never told: %r;" % failures[-3:]
        return
    if query.get("fail"):
        raise ValueError("failed mid-stream")
    yield "second;"
"""
GO_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
            "Resource": "*",
        }
    ],
}


def _first_piece(answer: http.client.HTTPResponse) -> bytes:
    """What the body holds once its first piece has come (read as the chunks arrive)."""
    got = b""
    while not got.endswith(b"first;"):
        more = answer.read1(64)
        assert more, got
        got += more
    return got


def test_a_url_streams_its_answer_as_the_handler_makes_it(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-url-stream")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    sqs: Any = client_for(server, "sqs", *keys)
    go = sqs.create_queue(QueueName="go")["QueueUrl"]
    role = execution_role(client_for(server, "iam", *keys), "streamer", {"go": GO_POLICY})
    lam: Any = client_for(server, "lambda", *keys)
    python_function(lam, "streamer", role, SOURCE, Timeout=120,
                    Environment={"Variables": {"GO": go}})  # fmt: skip
    made = lam.create_function_url_config(
        FunctionName="streamer", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )
    assert made["InvokeMode"] == "RESPONSE_STREAM"
    lam.add_permission(
        FunctionName="streamer", StatementId="public", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip
    host = urlsplit(made["FunctionUrl"]).netloc
    listener = urlsplit(server.endpoint)
    assert listener.hostname is not None and listener.port is not None

    def request(path: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        connection = http.client.HTTPConnection(listener.hostname, listener.port, timeout=120)
        connection.request("GET", path, headers={"Host": host})
        return connection, connection.getresponse()

    connection, answer = request("/")
    try:
        assert answer.status == 201
        assert answer.getheader("Content-Type") == "text/plain"
        assert answer.getheader("X-Streamed") == "yes"
        assert answer.getheader("Set-Cookie") == "seen=1"
        assert answer.getheader("Transfer-Encoding") == "chunked"
        assert _first_piece(answer) == b"first;"
        # The handler is still running: it waits for this message to make the rest.
        sqs.send_message(QueueUrl=go, MessageBody="go")
        assert answer.read() == b"second;"
    finally:
        connection.close()

    connection, answer = request("/?fail=1")
    try:
        assert answer.status == 201
        assert _first_piece(answer) == b"first;"
        sqs.send_message(QueueUrl=go, MessageBody="go")
        with pytest.raises(http.client.IncompleteRead):
            answer.read()  # the body ends without its last chunk
    finally:
        connection.close()
    lam.delete_function(FunctionName="streamer")
