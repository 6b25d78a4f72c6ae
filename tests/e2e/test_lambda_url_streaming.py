"""A ``RESPONSE_STREAM`` function URL end to end (decision 0337), on the session's ``andromede
serve``: a plain HTTP client (``http.client`` reading the chunked body as it comes) gets the
status and headers of the handler's prelude and its first piece while the handler is still
running — the handler, in the server's sandbox, stamps its second piece with the host's clock
as it makes it, after a pause, and the client's clock read when the first piece came is
earlier, so the answer cannot have been gathered first —, then the rest; a handler failing
after its first piece cuts the body, which the client reads as an incomplete answer.

The handler used to wait for a queue message the test sent once it had read the first piece:
twice (a helper's first run, and session 60's clean-clone run) none of the handler's SQS calls
reached the gateway in 120 s and the sandbox timed out; decision 0337's addendum keeps that
open. The clock needs no call out of the sandbox."""

from __future__ import annotations

import http.client
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.lambda_functions import NEEDS_BWRAP, execution_role, python_function
from support.server import ServerProcess

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

SOURCE = """
import time

def handler(event, context):
    return stream(event, context)

def stream(event, context):
    query = event.get("queryStringParameters") or {}
    yield {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Streamed": "yes"},
           "cookies": ["seen=1"]}
    yield "first;"
    time.sleep(2)  # the client has the first piece meanwhile
    if query.get("fail"):
        raise ValueError("failed mid-stream")
    yield "second@%r;" % time.time()
"""


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
    role = execution_role(client_for(server, "iam", *keys), "streamer")
    lam: Any = client_for(server, "lambda", *keys)
    python_function(lam, "streamer", role, SOURCE, Timeout=60)
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
        first_came = time.time()
        rest = answer.read()
        assert rest.startswith(b"second@") and rest.endswith(b";"), rest
        # The handler made its second piece after the client had its first: streamed.
        assert first_came < float(rest[len(b"second@") : -1])
    finally:
        connection.close()

    connection, answer = request("/?fail=1")
    try:
        assert answer.status == 201
        assert _first_piece(answer) == b"first;"
        with pytest.raises(http.client.IncompleteRead):
            answer.read()  # the body ends without its last chunk
    finally:
        connection.close()
    lam.delete_function(FunctionName="streamer")
