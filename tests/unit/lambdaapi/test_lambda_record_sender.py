"""Decision 0311's one sender, as ``serve`` wires it for stream mappings: a batch's OnFailure
record sent through SQS's real API as the function's role (so the queue's own policy decides
too: a queue denying the role keeps nothing), and a role that may not send audited as a
refusal on the function's account, as an asynchronous invocation's is."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from andromede.function_deliveries import RecordSender, api_channels
from andromede.function_sources import FunctionRoles
from andromede.function_streams import FailureDestinations, StreamAccess
from andromede.functions.mapping_streams import STREAM_DEFAULTS
from andromede.functions.mappings import EventSourceMapping
from andromede.settings import Settings
from andromede.sqsapi.app import SqsApp
from support.lambda_mappings import mapping_world
from support.lambdaapp import REGION
from support.pipesapp import allow

RECORD: dict[str, Any] = {
    "requestContext": {"requestId": "r-1", "condition": "RetryAttemptsExhausted"},
    "version": "1.0",
}


async def test_a_stream_record_through_the_sqs_api_as_the_role(tmp_path: Path) -> None:
    async for world in mapping_world(tmp_path):
        lam = world.lam
        settings = Settings(data_dir=tmp_path, region=REGION)
        apis: dict[str, Any] = {"sqs": SqsApp(world.queues, lam.identity, lam.audit, settings)}
        roles = FunctionRoles(lam.identity, REGION)
        access = StreamAccess(roles, lambda: None, lambda: None)
        failures = FailureDestinations(
            roles, access, None, None, RecordSender(roles, api_channels(apis), lam.audit)
        )
        queue = await world.queue("failed")
        closed = await world.queue("closed", {"Policy": json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage",
                "Resource": "*"}],
        })})  # fmt: skip
        sent = {}
        for name, policy, target in (
            ("sender", allow("sqs:SendMessage"), queue),
            ("mute", allow("sqs:Get*"), queue),
            ("denied", allow("sqs:SendMessage"), closed),
        ):
            mapping = EventSourceMapping(
                uuid=f"00000000-0000-0000-0000-00000000000{len(sent)}", tenant_id=lam.tenant_id,
                function_name="consumer", qualifier=None,
                function_arn=f"arn:aws:lambda:{REGION}:{lam.tenant_id}:function:consumer",
                source_arn=f"arn:aws:kinesis:{REGION}:{lam.tenant_id}:stream/s",
                source_kind="kinesis", state="Enabled", last_modified=0,
                parameters=STREAM_DEFAULTS | {"DestinationConfig": {
                    "OnFailure": {"Destination": target}}},
                created=0,
            )  # fmt: skip
            role = await world.reader_role(name, policy)
            now = dt.datetime.now(dt.UTC)
            sent[name] = await failures.send(mapping, role, RECORD, "shardId-0", "{}", now)
        assert sent == {"sender": True, "mute": False, "denied": False}
        assert await world.visible("closed") == []
        (body,) = await world.visible("failed")
        assert json.loads(body) == RECORD
        await lam.audit.flush()
        listed = await lam.audit_store.list_events(None, after_id=0, limit=500)
        refused = [
            e.principal for _, e in listed
            if e.action == "sqs:SendMessage" and e.outcome.value == "failure"
            and (e.details or {}).get("invoked_by") == "lambda.amazonaws.com"
        ]  # fmt: skip
        assert sorted(refused) == [
            f"arn:aws:iam::{lam.tenant_id}:role/{name}" for name in ("denied", "mute")
        ]
