"""Decision 0186's session-50 addendum: StartLiveTail on the wire — its refusals in Logs'
words with a request id, per-group authorisation and its audit, and the answer an event
stream (initial-response, sessionStart, sessionUpdate with the events put meanwhile, then
SessionTimeoutException) that botocore's decoder reads; the session's place freed when the
client goes, even before the stream started."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.eventstream import EventStreamBuffer

from andromede.logs.filter import compile_pattern
from andromede.logs.model import InputEvent
from andromede.logsapi.app import CONTENT_TYPE
from andromede.logsapi.live_tail import live_tail_answer
from support.kmskit import REGION
from support.logsapp import NOW, Harness, LogsWorld, harness_over, logs_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w")


@pytest.fixture
async def logs(world: LogsWorld, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await harness_over(world, tmp_path)
    try:
        await harness.ok("CreateLogGroup", {"logGroupName": "g"})
        await harness.ok("CreateLogGroup", {"logGroupName": "h"})
        await harness.ok("CreateLogStream", {"logGroupName": "g", "logStreamName": "s"})
        yield harness
    finally:
        await harness.audit.close()
        await harness.billing.close()


def arn(logs: Harness, group: str) -> str:
    return f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:{group}"


@pytest.mark.parametrize(
    ("params", "error_type"),
    [
        ({}, "InvalidParameterException"),
        ({"logGroupIdentifiers": []}, "InvalidParameterException"),
        ({"logGroupIdentifiers": [f"g{n}" for n in range(11)]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": ["ARN:g:*"]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": ["nope"]}, "ResourceNotFoundException"),
        (
            {"logGroupIdentifiers": ["g"], "logStreamNames": ["s"], "logStreamNamePrefixes": ["s"]},
            "InvalidParameterException",
        ),
        ({"logGroupIdentifiers": ["g", "h"], "logStreamNames": ["s"]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": ["g"], "logStreamNames": ["a:b"]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": ["g"], "logEventFilterPattern": "x" * 1025},
         "InvalidParameterException"),
        ({"logGroupIdentifiers": ["g"], "logEventFilterPattern": "%regex%"},
         "InvalidParameterException"),
        ({"logGroupIdentifiers": [{"x": 1}]}, "InvalidParameterException"),
    ],
)  # fmt: skip
async def test_refusals_in_logs_words(
    logs: Harness, params: dict[str, Any], error_type: str
) -> None:
    params = {
        **params,
        "logGroupIdentifiers": [
            arn(logs, "g") + ":*" if i == "ARN:g:*" else i
            for i in params.get("logGroupIdentifiers", [])
        ],
    } if "logGroupIdentifiers" in params else params  # fmt: skip
    reply = await logs.call("StartLiveTail", params)
    assert (reply.status, reply.error_fields()["__type"]) == (400, error_type), reply.body
    assert reply.headers["x-amzn-requestid"]


async def streamed(
    logs: Harness, params: dict[str, Any], gone_after: float | None = None
) -> tuple[int, dict[str, str], bytes]:
    """StartLiveTail through the app as a server calls it: ``receive`` answers
    ``http.disconnect`` once the answer is complete — or, with ``gone_after``, when the
    client goes after that many seconds."""
    body = json.dumps(params).encode()
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9000/",
        data=body,
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": "Logs_20140328.StartLiveTail"},
    )
    assert logs.credentials is not None
    SigV4Auth(logs.credentials, "logs", REGION).add_auth(request)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "scheme": "http",
        "client": ("127.0.0.1", 50000),
        "headers": [(k.lower().encode(), str(v).encode()) for k, v in request.headers.items()]
        + [(b"host", b"127.0.0.1:9000")],
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    done = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if gone_after is None:
            await done.wait()
        else:
            await asyncio.sleep(gone_after)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await logs.app(scope, receive, send)
    headers = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def messages(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    return [
        (m.headers.get(":event-type") or m.headers[":exception-type"], json.loads(m.payload))
        for m in buffer
    ]


async def test_a_session_streams_the_events_put_meanwhile(logs: Harness, world: LogsWorld) -> None:
    call = asyncio.create_task(
        streamed(
            logs, {"logGroupIdentifiers": [arn(logs, "g"), "h"], "logEventFilterPattern": "ERROR"}
        )
    )
    await asyncio.sleep(0.08)
    await world.service.put_events(
        logs.tenant_id,
        "g",
        "s",
        [InputEvent(NOW - 5, "ERROR disk full"), InputEvent(NOW - 4, "INFO fine")],
    )
    status, headers, body = await call
    assert status == 200
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    found = messages(body)
    assert found[0] == ("initial-response", {})
    kind, start = found[1]
    assert kind == "sessionStart" and start["logGroupIdentifiers"] == [arn(logs, "g"), "h"]
    assert start["requestId"] == headers["x-amzn-requestid"]
    assert start["logEventFilterPattern"] == "ERROR" and len(start["sessionId"]) == 32
    updates = [payload for kind, payload in found if kind == "sessionUpdate"]
    assert updates and all(u["sessionMetadata"] == {"sampled": False} for u in updates)
    results = [r for u in updates for r in u["sessionResults"]]
    assert [(r["logGroupIdentifier"], r["logStreamName"], r["message"]) for r in results] == [
        (arn(logs, "g"), "s", "ERROR disk full")
    ]
    assert results[0]["timestamp"] == NOW - 5 and results[0]["ingestionTime"] > 0
    assert found[-1][0] == "SessionTimeoutException" and "0.3 seconds" in found[-1][1]["message"]
    assert (
        logs.app.live_tails is not None and logs.app.live_tails.open_sessions(logs.tenant_id) == 0
    )


async def test_a_client_going_ends_the_session_at_once(logs: Harness) -> None:
    status, _, body = await streamed(logs, {"logGroupIdentifiers": ["g"]}, gone_after=0.05)
    assert status == 200
    kinds = [kind for kind, _ in messages(body)]
    assert kinds[:2] == ["initial-response", "sessionStart"]
    assert "SessionTimeoutException" not in kinds  # ended by the client, not the time
    assert (
        logs.app.live_tails is not None and logs.app.live_tails.open_sessions(logs.tenant_id) == 0
    )


async def test_authorised_per_group_and_audited(logs: Harness) -> None:
    user = await logs.iam_user("dev")
    reply = await user.call("StartLiveTail", {"logGroupIdentifiers": ["g"]})
    fields = reply.error_fields()
    assert fields["__type"] == "AccessDeniedException" and "logs:StartLiveTail" in fields["message"]
    assert (await logs.call("StartLiveTail", {"logGroupIdentifiers": ["g"]})).status == 200
    await logs.audit.flush()
    events = [e for _, e in await logs.audit_store.list_events(None, after_id=0, limit=100)]
    audited = [(e.action, e.resource, e.outcome.value) for e in events]
    assert ("logs:StartLiveTail", arn(logs, "g"), "failure") in audited
    assert ("logs:StartLiveTail", arn(logs, "g"), "success") in audited


async def test_a_stream_never_started_frees_its_place(logs: Harness) -> None:
    tails = logs.app.live_tails
    assert tails is not None
    session = await tails.open(logs.tenant_id, [("g", "g")], None, None, compile_pattern(""))
    answer = live_tail_answer(session, "r", lambda: asyncio.sleep(0))  # type: ignore[arg-type,return-value]
    assert tails.open_sessions(logs.tenant_id) == 1
    del answer
    gc.collect()
    assert tails.open_sessions(logs.tenant_id) == 0
