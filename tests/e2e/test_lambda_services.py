"""Lambda invoked by the services end to end (decision 0293), on the session's ``andromede
serve`` (no server of its own): with boto3, a function permitted by AddPermission for
``events.amazonaws.com`` (a rule), ``sns.amazonaws.com`` (a topic) and ``s3.amazonaws.com``
(a bucket) receives a rule's event, a topic's ``lambda`` subscription's message and the
bucket's S3 event, run by the server's bubblewrap sandbox and seen in its CloudWatch Logs
group; S3 refuses the function until its policy lets S3 in. Decision 0304: permitted for
``logs.amazonaws.com`` and a log group, it is a subscription filter's destination (refused
before, in AWS's words) and receives, as AWS's ``awslogs`` payload it decodes, the events
PutLogEvents put into the group."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for, new_tenant
from support.delivery_streams import active_stream
from support.lambda_functions import NEEDS_BWRAP, execution_role, python_function
from support.server import ServerProcess
from support.service_roles import service_role

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

SOURCE = (
    "import base64, gzip, json\n"
    "def handler(event, context):\n"
    "    if 'awslogs' in event:  # a subscription filter's: gzip JSON, base64-encoded\n"
    "        event = json.loads(gzip.decompress(base64.b64decode(event['awslogs']['data'])))\n"
    "    print('EVENT', json.dumps(event))\n"
)


def _sources(events: list[dict[str, Any]]) -> set[str]:
    """Which service each printed event came from."""
    seen = set()
    for event in events:
        if "EVENT " not in event["message"]:
            continue
        body = json.loads(event["message"].split("EVENT ", 1)[1])
        record = (body.get("Records") or [{}])[0]
        if "detail" in body:
            seen.add("events")
        elif body.get("messageType") == "DATA_MESSAGE" and body["logGroup"] == "/app/orders":
            assert [e["message"] for e in body["logEvents"]] == ["ERROR order 42"]
            seen.add("logs")
        elif record.get("EventSource") == "aws:sns":
            seen.add("sns")
        elif record.get("eventSource") == "aws:s3":
            seen.add("s3")
    return seen


def test_rules_topics_and_buckets_invoke_a_permitted_function(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-svc")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    role = execution_role(client_for(server, "iam", *keys), "fn")
    functions: Any = client_for(server, "lambda", *keys)
    arn = python_function(functions, "f", role, SOURCE)["FunctionArn"]
    account = arn.split(":")[4]

    def permit(sid: str, principal: str, source: str) -> None:
        functions.add_permission(FunctionName="f", StatementId=sid, Principal=principal,
            Action="lambda:InvokeFunction", SourceArn=source, SourceAccount=account)  # fmt: skip

    events: Any = client_for(server, "events", *keys)
    rule = events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))["RuleArn"]
    permit("events", "events.amazonaws.com", rule)
    events.put_targets(Rule="r", Targets=[{"Id": "fn", "Arn": arn}])
    events.put_events(Entries=[{"Source": "my.app", "DetailType": "t", "Detail": "{}"}])

    sns: Any = client_for(server, "sns", *keys)
    topic = sns.create_topic(Name="t")["TopicArn"]
    permit("sns", "sns.amazonaws.com", topic)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="hello")

    s3: Any = client_for(server, "s3", *keys)
    bucket = f"fn-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    configuration = {
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
        ]
    }
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=configuration
        )
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    permit("s3", "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    s3.put_object(Bucket=bucket, Key="k.txt", Body=b"x")

    logs: Any = client_for(server, "logs", *keys)
    logs.create_log_group(logGroupName="/app/orders")
    logs.create_log_stream(logGroupName="/app/orders", logStreamName="web")
    subscribe = {"logGroupName": "/app/orders", "filterName": "errors",
                 "filterPattern": "ERROR", "destinationArn": arn}  # fmt: skip
    with pytest.raises(ClientError) as unpermitted:
        logs.put_subscription_filter(**subscribe)
    assert "Could not execute the lambda function" in str(unpermitted.value)
    region = arn.split(":")[3]
    permit("logs", "logs.amazonaws.com", f"arn:aws:logs:{region}:{account}:log-group:/app/orders:*")
    logs.put_subscription_filter(**subscribe)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app/orders", logStreamName="web", logEvents=[
        {"timestamp": now, "message": "ERROR order 42"}, {"timestamp": now, "message": "ok"},
    ])  # fmt: skip

    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while seen != {"events", "sns", "s3", "logs"} and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            seen = _sources(logs.filter_log_events(logGroupName="/aws/lambda/f")["events"])
        except ClientError:  # the group is made by the first invocation
            continue
    assert seen == {"events", "sns", "s3", "logs"}


TRANSFORM = (
    "import base64, json\n"
    "def handler(event, context):\n"
    "    out = []\n"
    "    for r in event['records']:\n"
    "        data = base64.b64decode(r['data'])\n"
    "        doc = json.loads(data)\n"
    "        result = 'ProcessingFailed' if doc.get('bad') else 'Ok'\n"
    "        out.append({'recordId': r['recordId'],\n"
    "                    'result': 'Dropped' if doc.get('drop') else result,\n"
    "                    'data': base64.b64encode(data.upper()).decode(),\n"
    "                    'metadata': {'partitionKeys': {'kind': doc['kind']}}})\n"
    "    return {'records': out}\n"
)


def test_a_firehose_stream_transforms_its_records_with_a_function(server: ServerProcess) -> None:
    """Decision 0315: a delivery stream's Lambda processor upper-cases its records, keys them
    for ``!{partitionKeyFromLambda:kind}``, and a record it answers ProcessingFailed lands
    under ``processing-failed/``, as the stream's role invoking the function; invoked once
    the processor's own 0.2 MB is buffered (decision 0344)."""
    tenant = new_tenant(server, "firehose-fn")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam: Any = client_for(server, "iam", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    arn = python_function(functions, "upper", execution_role(iam, "fn"), TRANSFORM)["FunctionArn"]
    s3: Any = client_for(server, "s3", *keys)
    bucket = f"fh-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    delivery = service_role(
        iam, "delivery", "firehose.amazonaws.com",
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/*"),
        (["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"], arn),
    )  # fmt: skip
    firehose: Any = client_for(server, "firehose", *keys)
    firehose.create_delivery_stream(
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration={
            "RoleARN": delivery,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "kind=!{partitionKeyFromLambda:kind}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 1},
            "DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{
                "Type": "Lambda",
                "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": arn},
                               {"ParameterName": "BufferSizeInMBs", "ParameterValue": "0.2"}],
            }]},
        },
    )  # fmt: skip
    active_stream(firehose, "orders")
    records = [b'{"kind":"a","n":1}\n', b'{"kind":"b","n":2}\n', b'{"kind":"a","bad":1}\n']
    # The processor invokes at its own 0.2 MB, not waiting its 60 s (decision 0344): a
    # record the function drops fills it, after the three.
    filler = json.dumps({"kind": "z", "drop": "x" * 210_000}).encode()
    firehose.put_record_batch(
        DeliveryStreamName="orders", Records=[{"Data": r} for r in [*records, filler]]
    )

    def landed() -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for each in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            parts = each["Key"].split("/")
            folder = "/".join(parts[:2]) if parts[0] == "errors" else parts[0]
            body = s3.get_object(Bucket=bucket, Key=each["Key"])["Body"].read()
            found[folder] = found.get(folder, b"") + body
        return found

    deadline = time.monotonic() + 60
    found = landed()
    while len(found) < 3 and time.monotonic() < deadline:
        time.sleep(1)
        found = landed()
    assert set(found) == {"kind=a", "kind=b", "errors/processing-failed"}, found
    assert found["kind=a"] == b'{"KIND":"A","N":1}\n'
    assert found["kind=b"] == b'{"KIND":"B","N":2}\n'
    (line,) = found["errors/processing-failed"].splitlines()
    error = json.loads(line)
    assert (error["errorCode"], error["lambdaArn"]) == ("Lambda.ProcessingFailed", arn)
    assert base64.b64decode(error["rawData"]) == records[2]
