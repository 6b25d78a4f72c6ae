"""EventBridge end to end (decision 0192): one real ``andromede serve`` driven by boto3's
``events`` client (JSON 1.1, ``AWSEvents.*``), its deliveries read back with boto3's ``sqs``.

A rule on the default bus with a content-filtering pattern sends the events PutEvents puts
to an SQS queue whose policy lets ``events.amazonaws.com`` in (the whole event, in
EventBridge's shape) and to a FIFO queue through an InputTransformer; a queue whose policy
does not let EventBridge in gets nothing, its events going to the target's dead-letter queue
with AWS's attributes; an SNS topic as target passes the event to a queue subscribed raw.
A custom bus gets its own rule. The errors come in EventBridge's words: a missing rule, an
invalid pattern, a rule deleted while it has targets, an ``aws.`` source refused per entry,
``KmsKeyIdentifier`` refused. Listing, paging, tags, TestEventPattern too. An instance run
and stopped on the memory hypervisor sends EC2's "EC2 Instance State-change Notification"
events through a rule. S3's events still reach their rule while the default bus's customer
key is disabled and the customer's own PutEvents fail (decision 0213, session 51). A second
account's PutEvents onto the first's bus (named by ARN) is
refused until the bus's owner grants it with PutPermission, then reaches the owner's rule
(session 48); a rule of the first account sends, as its role, to a bus and a queue of the
second (decision 0273). A custom bus's archive takes its events, and a replay of a window sends them
again to its rule's queue with ``replay-name`` (decision 0196). The first rule also writes
its event into a log group that the account's Logs resource policy opens to EventBridge, in a
stream named after the event's id (decision 0277). A rule whose target is an API
destination (decision 0200) POSTs its transformed events, with the connection's API key, to
an HTTP server the test runs on the loopback, as an IAM role allowed
``events:InvokeApiDestination``; the key is in a Secrets Manager secret EventBridge manages,
deleted with its connection (decision 0204); the same rule writes them into a Kinesis stream
as that role, allowed ``kinesis:PutRecord`` (decision 0238). An EventBridge pipe (boto3's
``pipes``, decision 0258) moves the messages of a queue its filter passes into another, as a
role trusting ``pipes.amazonaws.com``; another starts a STANDARD state machine's execution
(FIRE_AND_FORGET) whose input is the batch, a third has an EXPRESS machine enrich its events
before a queue, and a STANDARD machine is refused as a REQUEST_RESPONSE target (decision
0316). Schedules are tested in
process (``tests/unit/events``): a minute's period is too slow here.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for, new_tenant
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("events") / "data"
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_EVENTS_DELIVERY_RETRY_BASE": "0.05",
        # API destinations on the test's loopback server (decision 0200).
        "ANDROMEDE_EVENTS_API_DESTINATION_ALLOW_HTTP": "true",
        "ANDROMEDE_EVENTS_API_DESTINATION_ALLOW_CIDRS": '["127.0.0.0/8"]',
        # The memory hypervisor: instances' state changes without guests (test_ec2's).
        "ANDROMEDE_HYPERVISOR": "memory",
    }
    with running_server(data_dir, extra_env=env) as started:
        yield started


def clients(server: ServerProcess) -> tuple[Any, Any]:
    credentials = server.credentials()
    return client_for(server, "events", *credentials), client_for(server, "sqs", *credentials)


def queue(sqs: Any, name: str, rule_arn: str | None, **attributes: str) -> tuple[str, str]:
    """A queue (url, arn), its policy letting EventBridge send for ``rule_arn``."""
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    if rule_arn is not None:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def receive(sqs: Any, url: str, wanted: int = 1, wait: float = 15) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while len(got) < wanted and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        got += answer.get("Messages", [])
    return got


def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_rule_to_queues_topic_and_dead_letters(server: ServerProcess) -> None:
    events, sqs = clients(server)
    pattern = {
        "source": ["shop.orders"],
        "detail": {"amount": [{"numeric": [">", 100]}], "currency": [{"anything-but": "XXX"}]},
    }
    rule_arn = events.put_rule(
        Name="big-orders", EventPattern=json.dumps(pattern), Description="orders over 100"
    )["RuleArn"]
    assert rule_arn.endswith(":rule/big-orders")
    account = rule_arn.split(":")[4]
    url, arn = queue(sqs, "big-orders", rule_arn)
    fifo_url, fifo_arn = queue(
        sqs, "big-orders.fifo", rule_arn, FifoQueue="true", ContentBasedDeduplication="false"
    )
    closed_url, closed_arn = queue(sqs, "closed", None)  # no policy: EventBridge kept out
    dlq_url, dlq_arn = queue(sqs, "big-orders-dlq", rule_arn)
    sns = client_for(server, "sns", *server.credentials())
    topic_arn = sns.create_topic(Name="orders-topic")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": topic_arn,
                    }
                ],
            }
        ),
    )
    fanned_url, fanned_arn = queue(sqs, "from-topic", None)
    # A log group target (decision 0277), let in by the account's Logs resource policy.
    logs = client_for(server, "logs", *server.credentials())
    logs.create_log_group(logGroupName="/aws/events/big-orders")
    log_arn = f"arn:aws:logs:{REGION}:{account}:log-group:/aws/events/big-orders"
    logs.put_resource_policy(
        policyName="TrustEventsToStoreLogEvent",
        policyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["events.amazonaws.com"]},
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": f"arn:aws:logs:{REGION}:{account}:log-group:/aws/events/*:*",
                    }
                ],
            }
        ),
    )
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=fanned_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    answer = events.put_targets(
        Rule="big-orders",
        Targets=[
            {"Id": "whole", "Arn": arn},
            {
                "Id": "shaped",
                "Arn": fifo_arn,
                "SqsParameters": {"MessageGroupId": "orders"},
                "InputTransformer": {
                    "InputPathsMap": {"amount": "$.detail.amount", "who": "$.detail.customer"},
                    "InputTemplate": '{"customer": "<who>", "amount": <amount>}',
                },
            },
            {
                "Id": "closed",
                "Arn": closed_arn,
                "DeadLetterConfig": {"Arn": dlq_arn},
                "RetryPolicy": {"MaximumRetryAttempts": 0},
            },
            {"Id": "topic", "Arn": topic_arn, "Input": '{"note": "constant"}'},
            {"Id": "log", "Arn": log_arn},
        ],
    )
    assert answer["FailedEntryCount"] == 0
    put = events.put_events(
        Entries=[
            {
                "Source": "shop.orders",
                "DetailType": "Order Placed",
                "Detail": json.dumps({"amount": 250, "currency": "EUR", "customer": 'Zoé "Z"'}),
                "Resources": ["arn:aws:shop:::order/1"],
            },
            {  # not matched: too small
                "Source": "shop.orders",
                "DetailType": "Order Placed",
                "Detail": json.dumps({"amount": 5, "currency": "EUR"}),
            },
            {"Source": "aws.ec2", "DetailType": "Forged", "Detail": "{}"},
        ]
    )
    assert put["FailedEntryCount"] == 1
    assert put["Entries"][2] == {
        "ErrorCode": "NotAuthorizedForSourceException",
        "ErrorMessage": "Not authorized for the source.",
    }
    event_id = put["Entries"][0]["EventId"]
    [message] = receive(sqs, url)
    event = json.loads(message["Body"])
    assert {k: event[k] for k in ("version", "id", "detail-type", "source", "account")} == {
        "version": "0",
        "id": event_id,
        "detail-type": "Order Placed",
        "source": "shop.orders",
        "account": account,
    }
    assert (event["region"], event["resources"]) == (REGION, ["arn:aws:shop:::order/1"])
    assert event["detail"]["customer"] == 'Zoé "Z"'
    [shaped] = receive(sqs, fifo_url)
    assert json.loads(shaped["Body"]) == {"customer": 'Zoé "Z"', "amount": 250}
    [fanned] = receive(sqs, fanned_url)
    assert json.loads(fanned["Body"]) == {"note": "constant"}
    [dead] = receive(sqs, dlq_url)
    assert json.loads(dead["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == closed_arn
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert receive(sqs, closed_url, wait=1) == []
    assert receive(sqs, url, wait=1) == []  # the small order matched nothing
    logged: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while not logged and time.monotonic() < deadline:
        try:
            logged = logs.get_log_events(
                logGroupName="/aws/events/big-orders", logStreamName=event_id
            )["events"]
        except ClientError:  # the stream is not made yet
            time.sleep(0.2)
    [log_event] = logged  # one stream an event, named after its id
    assert json.loads(log_event["message"])["id"] == event_id

    # Listing and names by target; deletion refused while targets remain.
    listed = events.list_targets_by_rule(Rule="big-orders")["Targets"]
    assert [t["Id"] for t in listed] == ["closed", "log", "shaped", "topic", "whole"]
    assert listed[2]["SqsParameters"] == {"MessageGroupId": "orders"}
    assert events.list_rule_names_by_target(TargetArn=arn)["RuleNames"] == ["big-orders"]
    with pytest.raises(ClientError) as refused:
        events.delete_rule(Name="big-orders")
    assert code(refused) == "ValidationException"
    events.remove_targets(Rule="big-orders", Ids=["whole", "shaped", "closed", "topic", "log"])
    events.delete_rule(Name="big-orders")
    with pytest.raises(ClientError) as missing:
        events.describe_rule(Name="big-orders")
    assert code(missing) == "ResourceNotFoundException"


def test_buses_rules_and_errors(server: ServerProcess) -> None:
    events, sqs = clients(server)
    bus_arn = events.create_event_bus(Name="billing", Tags=[{"Key": "team", "Value": "b"}])[
        "EventBusArn"
    ]
    assert bus_arn.endswith(":event-bus/billing")
    with pytest.raises(ClientError) as exists:
        events.create_event_bus(Name="billing")
    assert code(exists) == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as kms:
        events.create_event_bus(Name="sealed", KmsKeyIdentifier="alias/mine")
    assert code(kms) == "ValidationException"
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert names == ["billing", "default"]
    assert events.describe_event_bus(Name=bus_arn)["Name"] == "billing"
    tags = events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"]
    assert tags == [{"Key": "team", "Value": "b"}]

    # A rule on the custom bus, fed by PutEvents naming the bus by ARN.
    rule_arn = events.put_rule(
        Name="invoices",
        EventBusName="billing",
        EventPattern=json.dumps({"detail-type": [{"prefix": "Invoice"}]}),
        Tags=[{"Key": "k", "Value": "v"}],
    )["RuleArn"]
    assert rule_arn.endswith(":rule/billing/invoices")
    url, arn = queue(sqs, "invoices", rule_arn)
    events.put_targets(Rule="invoices", EventBusName="billing", Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(
        Entries=[
            {"Source": "acc", "DetailType": "Invoice Paid", "Detail": "{}", "EventBusName": bus_arn}
        ]
    )
    events.put_events(Entries=[{"Source": "acc", "DetailType": "Invoice Paid", "Detail": "{}"}])
    assert [json.loads(m["Body"])["detail-type"] for m in receive(sqs, url)] == ["Invoice Paid"]
    assert receive(sqs, url, wait=1) == []  # the default bus's copy matched nothing here
    events.disable_rule(Name="invoices", EventBusName="billing")
    described = events.describe_rule(Name="invoices", EventBusName="billing")
    assert (described["State"], described["EventBusName"]) == ("DISABLED", "billing")
    events.tag_resource(ResourceARN=rule_arn, Tags=[{"Key": "k2", "Value": "v2"}])
    events.untag_resource(ResourceARN=rule_arn, TagKeys=["k"])
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [
        {"Key": "k2", "Value": "v2"}
    ]
    # The default bus takes tags too, as AWS's (decision 0218).
    default_arn = bus_arn.replace(":event-bus/billing", ":event-bus/default")
    events.tag_resource(ResourceARN=default_arn, Tags=[{"Key": "env", "Value": "e2e"}])
    assert events.list_tags_for_resource(ResourceARN=default_arn)["Tags"] == [
        {"Key": "env", "Value": "e2e"}
    ]
    events.untag_resource(ResourceARN=default_arn, TagKeys=["env"])
    assert events.list_tags_for_resource(ResourceARN=default_arn)["Tags"] == []

    # Pages of rules; a schedule on the default bus only.
    for index in range(3):
        events.put_rule(Name=f"page-{index}", ScheduleExpression="rate(5 minutes)")
    first = events.list_rules(NamePrefix="page-", Limit=2)
    assert [r["Name"] for r in first["Rules"]] == ["page-0", "page-1"]
    second = events.list_rules(NamePrefix="page-", Limit=2, NextToken=first["NextToken"])
    assert [r["Name"] for r in second["Rules"]] == ["page-2"] and "NextToken" not in second
    assert second["Rules"][0]["ScheduleExpression"] == "rate(5 minutes)"
    with pytest.raises(ClientError) as on_custom:
        events.put_rule(Name="tick", EventBusName="billing", ScheduleExpression="rate(1 minute)")
    assert code(on_custom) == "ValidationException"
    with pytest.raises(ClientError) as bad_pattern:
        events.put_rule(Name="bad", EventPattern='{"source": "not-an-array"}')
    assert code(bad_pattern) == "InvalidEventPatternException"
    with pytest.raises(ClientError) as lambda_target:
        events.put_targets(
            Rule="page-0",
            Targets=[{"Id": "f", "Arn": f"arn:aws:lambda:{REGION}:123456789012:function:f"}],
        )
    assert code(lambda_target) == "ValidationException"
    event = {
        "id": "1",
        "account": "123456789012",
        "source": "acc",
        "time": "2026-12-05T00:00:00Z",
        "region": REGION,
        "detail-type": "Invoice Paid",
        "detail": {"ip": "10.0.0.7"},
    }
    tested = events.test_event_pattern(
        EventPattern=json.dumps({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}),
        Event=json.dumps(event),
    )
    assert tested["Result"] is True
    with pytest.raises(ClientError) as default:
        events.delete_event_bus(Name="default")
    assert code(default) == "ValidationException"
    events.remove_targets(Rule="invoices", EventBusName="billing", Ids=["q"])
    events.delete_event_bus(Name="billing")
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]


def test_instance_state_changes_reach_a_rule(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    disk = tmp_path_factory.mktemp("image") / "disk.raw"
    disk.write_bytes(os.urandom(64 * 1024))
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name", "events-test",
         "--public", "--json", "--data-dir", str(server.data_dir)],
        timeout=60, check=True,
        env={**os.environ, **server.extra_env},
    )  # fmt: skip
    image_id = json.loads(done.stdout)["image_id"]
    events, sqs = clients(server)
    pattern = {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["running", "stopped"]},
    }
    rule_arn = events.put_rule(Name="instances", EventPattern=json.dumps(pattern))["RuleArn"]
    url, arn = queue(sqs, "instances", rule_arn)
    events.put_targets(Rule="instances", Targets=[{"Id": "q", "Arn": arn}])
    ec2 = client_for(server, "ec2", *server.credentials())
    fast = {"Delay": 1, "MaxAttempts": 60}
    [instance] = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1
    )["Instances"]
    instance_id = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=fast)
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=fast)
    received = sorted(
        (json.loads(m["Body"]) for m in receive(sqs, url, wanted=2)),
        key=lambda event: str(event["detail"]["state"]),
    )
    assert [e["detail"] for e in received] == [
        {"instance-id": instance_id, "state": "running"},
        {"instance-id": instance_id, "state": "stopped"},
    ]
    assert {(e["source"], e["region"]) for e in received} == {("aws.ec2", REGION)}
    assert received[0]["resources"][0].endswith(f":instance/{instance_id}")
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_s3_events_reach_a_rule_on_aws_s3(server: ServerProcess) -> None:
    """Session 48: a bucket's ``EventBridgeConfiguration`` sends its PutObject, in S3's
    EventBridge shape, to the owner's default bus, where a rule on ``aws.s3`` takes it. The
    default bus under a customer key, disabled (decision 0213, session 51): the customer's
    PutEvents fail, S3's events (an AWS service's, not under the bus's key) still arrive."""
    events, sqs = clients(server)
    default_arn = events.describe_event_bus(Name="default")["Arn"]
    kms = client_for(server, "kms", *server.credentials())
    account = default_arn.split(":")[4]
    statements = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:EncryptionContext:aws:events:event-bus:arn": default_arn}
            },
        },
    ]
    key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key_arn = key["KeyMetadata"]["Arn"]
    try:
        _s3_events_under_a_disabled_default_bus_key(server, events, sqs, kms, key_arn)
    finally:
        # The other tests' default bus as it was: its rules, sealed under the key since the
        # key was set (decision 0218), need the key to be re-encrypted back.
        kms.enable_key(KeyId=key_arn)
        events.update_event_bus(Name="default")


def _s3_events_under_a_disabled_default_bus_key(
    server: ServerProcess, events: Any, sqs: Any, kms: Any, key_arn: str
) -> None:
    updated = events.update_event_bus(Name="default", KmsKeyIdentifier=key_arn)
    assert updated["KmsKeyIdentifier"] == key_arn
    assert events.describe_event_bus(Name="default")["KmsKeyIdentifier"] == key_arn
    s3 = client_for(server, "s3", *server.credentials())
    s3.create_bucket(Bucket="eb-bucket")
    s3.put_bucket_notification_configuration(
        Bucket="eb-bucket", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    shown = s3.get_bucket_notification_configuration(Bucket="eb-bucket")
    assert shown["EventBridgeConfiguration"] == {}
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["eb-bucket"]}, "object": {"key": [{"prefix": "in/"}]}},
    }
    rule_arn = events.put_rule(Name="s3-created", EventPattern=json.dumps(pattern))["RuleArn"]
    url, arn = queue(sqs, "s3-created", rule_arn)
    events.put_targets(Rule="s3-created", Targets=[{"Id": "q", "Arn": arn}])
    # The rule is sealed under the key (decision 0218); this gateway matches with what it
    # sealed. Disabled, the key refuses the customers' events and what must open the rule.
    kms.disable_key(KeyId=key_arn)
    entry = {"Source": "shop", "DetailType": "order", "Detail": "{}"}
    refused = events.put_events(Entries=[entry])["Entries"][0]
    assert refused["ErrorCode"] == "AccessDeniedException"
    with pytest.raises(ClientError) as closed:
        events.describe_rule(Name="s3-created")
    assert code(closed) == "AccessDeniedException"
    s3.put_object(Bucket="eb-bucket", Key="out/skip.txt", Body=b"no")
    put = s3.put_object(Bucket="eb-bucket", Key="in/a b.txt", Body=b"hello")
    [message] = receive(sqs, url)
    event = json.loads(message["Body"])
    account = rule_arn.split(":")[4]
    assert (event["source"], event["detail-type"], event["account"]) == (
        "aws.s3",
        "Object Created",
        account,
    )
    assert event["resources"] == ["arn:aws:s3:::eb-bucket"]
    detail = event["detail"]
    assert detail["bucket"] == {"name": "eb-bucket"}
    assert detail["object"]["key"] == "in/a b.txt"
    assert detail["object"]["size"] == 5
    assert detail["object"]["etag"] == put["ETag"].strip('"')
    assert detail["reason"] == "PutObject"
    assert {"request-id", "requester", "source-ip-address", "version"} <= set(detail)
    assert receive(sqs, url, wait=2) == []  # the other key did not match


def test_put_permission_lets_another_account_put_events(server: ServerProcess) -> None:
    """Decision 0192, session 48: refused (AccessDeniedException) before PutPermission, taken
    and routed to the owner's rule after it, refused again after RemovePermission."""
    events, sqs = clients(server)
    bus_arn = events.create_event_bus(Name="partners")["EventBusArn"]
    owner = bus_arn.split(":")[4]
    rule_arn = events.put_rule(
        Name="from-partners", EventBusName="partners", EventPattern='{"source": ["partner"]}'
    )["RuleArn"]
    url, arn = queue(sqs, "from-partners", rule_arn)
    events.put_targets(
        Rule="from-partners", EventBusName="partners", Targets=[{"Id": "q", "Arn": arn}]
    )
    other = new_tenant(server, "events")
    sender = client_for(server, "events", other.access_key_id, other.secret_access_key)
    entry = {"Source": "partner", "DetailType": "hello", "Detail": "{}", "EventBusName": bus_arn}
    with pytest.raises(ClientError) as caught:
        sender.put_events(Entries=[entry])
    assert code(caught) == "AccessDeniedException"
    assert "no resource-based policy allows the events:PutEvents action" in str(caught.value)

    events.put_permission(
        EventBusName="partners",
        Action="events:PutEvents",
        Principal=other.account,
        StatementId="partner",
    )
    policy = json.loads(events.describe_event_bus(Name="partners")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{other.account}:root"}
    answer = sender.put_events(Entries=[entry])
    assert answer["FailedEntryCount"] == 0
    (message,) = receive(sqs, url)
    event = json.loads(message["Body"])
    # On the owner's bus, in the owner's region; its account the sender's, as on AWS.
    assert (event["source"], event["account"], event["id"]) == (
        "partner",
        other.account,
        answer["Entries"][0]["EventId"],
    )
    assert owner != other.account

    events.remove_permission(EventBusName="partners", StatementId="partner")
    with pytest.raises(ClientError) as caught:
        sender.put_events(Entries=[entry])
    assert code(caught) == "AccessDeniedException"


def test_a_bus_policy_on_the_detail_type_fails_only_the_entries_it_refuses(
    server: ServerProcess,
) -> None:
    """Decision 0318: another account's bus whose policy lets the sender put one detail type
    (``events:detail-type``, as AWS gives PutEvents) takes that entry — routed to the owner's
    rule — and fails the other alone, with AWS's ``NotAuthorizedForDetailTypeException``."""
    events, sqs = clients(server)
    bus_arn = events.create_event_bus(Name="typed")["EventBusArn"]
    rule_arn = events.put_rule(
        Name="typed-in", EventBusName="typed", EventPattern='{"source": ["partner"]}'
    )["RuleArn"]
    url, arn = queue(sqs, "typed-in", rule_arn)
    events.put_targets(Rule="typed-in", EventBusName="typed", Targets=[{"Id": "q", "Arn": arn}])
    other = new_tenant(server, "typed")
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{other.account}:root"},
        "Action": "events:PutEvents",
        "Resource": bus_arn,
        "Condition": {"StringEquals": {"events:detail-type": "order placed"}},
    }
    events.put_permission(
        EventBusName="typed",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    sender = client_for(server, "events", other.access_key_id, other.secret_access_key)
    entry = {"Source": "partner", "Detail": "{}", "EventBusName": bus_arn}
    answer = sender.put_events(
        Entries=[{**entry, "DetailType": "order placed"}, {**entry, "DetailType": "refund"}]
    )
    assert answer["FailedEntryCount"] == 1
    taken, refused = answer["Entries"]
    assert refused["ErrorCode"] == "NotAuthorizedForDetailTypeException"
    (message,) = receive(sqs, url)
    event = json.loads(message["Body"])
    assert (event["id"], event["detail-type"]) == (taken["EventId"], "order placed")


def test_a_rule_sends_to_another_accounts_bus_and_queue(server: ServerProcess) -> None:
    """Decision 0273: a rule of the first account sends, as its role (refused at PutTargets
    without one), to a bus of a second account whose policy lets the first in — the bus's
    own rule then hands the event, its id and account those of origin, to a queue — and to a
    queue and a topic of the second account whose policies let the role in; the role's trust
    fenced to the rule by ``aws:SourceAccount`` / ``aws:SourceArn`` (decision 0321)."""
    events, _ = clients(server)
    iam = client_for(server, "iam", *server.credentials())
    other = new_tenant(server, "xacct")
    their_events = client_for(server, "events", other.access_key_id, other.secret_access_key)
    their_sqs = client_for(server, "sqs", other.access_key_id, other.secret_access_key)
    trust: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName="eb-xacct", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    send = {
        "Effect": "Allow",
        "Action": ["events:PutEvents", "sqs:SendMessage", "sns:Publish"],
        "Resource": "*",
    }
    iam.put_role_policy(
        RoleName="eb-xacct",
        PolicyName="send",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [send]}),
    )
    account = role_arn.split(":")[4]
    # Decision 0321: AWS's confused-deputy trust, fenced to the account's rule "to-xacct".
    trust["Statement"][0]["Condition"] = {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:events:*:{account}:rule/to-xacct"},
    }
    iam.update_assume_role_policy(RoleName="eb-xacct", PolicyDocument=json.dumps(trust))
    inbox = their_events.create_event_bus(Name="inbox")["EventBusArn"]
    their_events.put_permission(
        EventBusName="inbox", Action="events:PutEvents", Principal=account, StatementId="s"
    )
    pattern = json.dumps({"source": ["xacct"]})
    rule_in = their_events.put_rule(Name="in", EventBusName="inbox", EventPattern=pattern)
    in_url, in_arn = queue(their_sqs, "xacct-in", rule_in["RuleArn"])
    their_events.put_targets(Rule="in", EventBusName="inbox", Targets=[{"Id": "q", "Arn": in_arn}])
    direct_url, direct_arn = queue(their_sqs, "xacct-direct", None)
    allow_role = {
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": "sqs:SendMessage",
        "Resource": direct_arn,
    }
    their_sqs.set_queue_attributes(
        QueueUrl=direct_url,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [allow_role]})},
    )

    their_sns = client_for(server, "sns", other.access_key_id, other.secret_access_key)
    topic = their_sns.create_topic(Name="xacct-topic")["TopicArn"]
    publish = {**allow_role, "Action": "sns:Publish", "Resource": topic}
    their_sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": [publish]}),
    )
    fanned_url, fanned_arn = queue(their_sqs, "xacct-fanned", None)
    their_sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=fanned_arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    events.put_rule(Name="to-xacct", EventPattern=pattern)
    with pytest.raises(ClientError) as caught:
        events.put_targets(Rule="to-xacct", Targets=[{"Id": "bus", "Arn": inbox}])
    assert code(caught) == "ValidationException"
    assert f"RoleArn is required for target {inbox}" in str(caught.value)
    events.put_targets(
        Rule="to-xacct",
        Targets=[
            {"Id": "bus", "Arn": inbox, "RoleArn": role_arn},
            {"Id": "q", "Arn": direct_arn, "RoleArn": role_arn},
            {"Id": "t", "Arn": topic, "RoleArn": role_arn},
        ],
    )
    answer = events.put_events(Entries=[{"Source": "xacct", "DetailType": "d", "Detail": "{}"}])
    event_id = answer["Entries"][0]["EventId"]
    for url in (in_url, direct_url, fanned_url):
        (message,) = receive(their_sqs, url)
        event = json.loads(message["Body"])
        assert (event["id"], event["account"], event["source"]) == (event_id, account, "xacct")


def test_an_archive_replayed_onto_its_bus(server: ServerProcess) -> None:
    """Decision 0196: a bus's archive takes the events PutEvents puts on it (its pattern's);
    a replay of a window sends those of the window, in time order, to the FilterArns' rule's
    queue with ``replay-name``; they are not archived again. The archive is under a customer
    key whose policy lets ``events.amazonaws.com`` in (decision 0204); one that does not is
    refused. The bus is under that key too (decision 0213): its deliveries still arrive."""
    events, sqs = clients(server)
    bus_arn = events.create_event_bus(Name="archived")["EventBusArn"]
    rule_arn = events.put_rule(
        Name="keep", EventBusName="archived", EventPattern='{"source": ["orders"]}'
    )["RuleArn"]
    url, arn = queue(sqs, "replayed", rule_arn)
    events.put_targets(Rule="keep", EventBusName="archived", Targets=[{"Id": "q", "Arn": arn}])
    # Under a customer's KMS key whose policy lets EventBridge in for the bus (decision 0204).
    kms = client_for(server, "kms", *server.credentials())
    account = bus_arn.split(":")[4]
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}
    closed = kms.create_key(
        Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [{**root, "Action": "kms:*", "Resource": "*"}]}
        )
    )["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as caught:
        events.create_archive(ArchiveName="orders", EventSourceArn=bus_arn, KmsKeyIdentifier=closed)
    assert code(caught) == "ValidationException"
    for_events = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:events:event-bus:arn": bus_arn}},
    }
    key = kms.create_key(
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{**root, "Action": "kms:*", "Resource": "*"}, for_events],
            }
        )
    )["KeyMetadata"]["Arn"]
    # The bus itself under the same key (decision 0213): its deliveries sealed under it.
    updated = events.update_event_bus(
        Name="archived", KmsKeyIdentifier=key, DeadLetterConfig={"Arn": arn}
    )
    assert (updated["KmsKeyIdentifier"], updated["DeadLetterConfig"]) == (key, {"Arn": arn})
    assert events.describe_event_bus(Name="archived")["KmsKeyIdentifier"] == key
    # Its rule and target, made before, re-sealed under the key and read back (decision 0218).
    described_rule = events.describe_rule(Name="keep", EventBusName="archived")
    assert described_rule["EventPattern"] == '{"source": ["orders"]}'
    [target] = events.list_targets_by_rule(Rule="keep", EventBusName="archived")["Targets"]
    assert target == {"Id": "q", "Arn": arn}
    archive_arn = events.create_archive(
        ArchiveName="orders",
        EventSourceArn=bus_arn,
        EventPattern='{"source": ["orders"]}',
        RetentionDays=1,
        KmsKeyIdentifier=key,
    )["ArchiveArn"]
    now = int(time.time())
    entries = [
        {
            "Source": source,
            "DetailType": "order",
            "Detail": json.dumps({"n": n}),
            "Time": now - 120 + 60 * n,
            "EventBusName": "archived",
        }
        for n, source in ((0, "orders"), (1, "orders"), (2, "orders"), (3, "other"))
    ]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    assert len(receive(sqs, url, wanted=3)) == 3  # the live deliveries
    described = events.describe_archive(ArchiveName="orders")
    assert (described["EventCount"], described["State"], described["RetentionDays"]) == (
        3,
        "ENABLED",
        1,
    )
    assert described["KmsKeyIdentifier"] == key
    events.start_replay(
        ReplayName="again",
        EventSourceArn=archive_arn,
        EventStartTime=now - 90,
        EventEndTime=now + 60,
        Destination={"Arn": bus_arn, "FilterArns": [rule_arn]},
    )
    deadline = time.monotonic() + 15
    while (state := events.describe_replay(ReplayName="again")["State"]) != "COMPLETED":
        assert state in ("STARTING", "RUNNING") and time.monotonic() < deadline
        time.sleep(0.1)
    bodies = [json.loads(m["Body"]) for m in receive(sqs, url, wanted=2)]
    assert sorted((b["detail"]["n"], b["replay-name"]) for b in bodies) == [
        (1, "again"),
        (2, "again"),
    ]
    assert events.describe_archive(ArchiveName="orders")["EventCount"] == 3
    assert [
        r["ReplayName"] for r in events.list_replays(EventSourceArn=archive_arn)["Replays"]
    ] == ["again"]
    with pytest.raises(ClientError) as caught:
        events.cancel_replay(ReplayName="again")
    assert code(caught) == "IllegalStatusException"
    events.delete_archive(ArchiveName="orders")
    with pytest.raises(ClientError) as caught:
        events.describe_archive(ArchiveName="orders")
    assert code(caught) == "ResourceNotFoundException"


def test_a_rule_invokes_an_api_destination(server: ServerProcess) -> None:
    received: list[tuple[str, dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        credentials = server.credentials()
        events = client_for(server, "events", *credentials)
        iam = client_for(server, "iam", *credentials)
        made = events.create_connection(
            Name="hooks",
            AuthorizationType="API_KEY",
            AuthParameters={
                "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-secret"}
            },
        )
        assert made["ConnectionState"] == "AUTHORIZED"
        shown = events.describe_connection(Name="hooks")
        assert "k-secret" not in json.dumps(shown, default=str)
        destination = events.create_api_destination(
            Name="orders-hook",
            ConnectionArn=made["ConnectionArn"],
            InvocationEndpoint=f"http://127.0.0.1:{http.server_address[1]}/orders/*",
            HttpMethod="POST",
            InvocationRateLimitPerSecond=10,
        )["ApiDestinationArn"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="invoke-hooks", AssumeRolePolicyDocument=json.dumps(trust))
        # The same role writes the events into a Kinesis stream too (decision 0238).
        kinesis = client_for(server, "kinesis", *credentials)
        kinesis.create_stream(StreamName="orders", ShardCount=1)
        stream = kinesis.describe_stream_summary(StreamName="orders")
        stream_arn = stream["StreamDescriptionSummary"]["StreamARN"]
        put = {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": stream_arn}
        iam.put_role_policy(
            RoleName="invoke-hooks",
            PolicyName="put",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [put]}),
        )
        iam.put_role_policy(
            RoleName="invoke-hooks",
            PolicyName="invoke",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "events:InvokeApiDestination",
                            "Resource": destination,
                        }
                    ],
                }
            ),
        )
        events.put_rule(Name="to-hook", EventPattern=json.dumps({"source": ["shop.hooks"]}))
        events.put_targets(
            Rule="to-hook",
            Targets=[
                {
                    "Id": "hook",
                    "Arn": destination,
                    "RoleArn": role["Role"]["Arn"],
                    "HttpParameters": {"PathParameterValues": ["eu"]},
                    "InputTransformer": {
                        "InputPathsMap": {"id": "$.detail.id"},
                        "InputTemplate": '{"order": <id>}',
                    },
                },
                {
                    "Id": "stream",
                    "Arn": stream_arn,
                    "RoleArn": role["Role"]["Arn"],
                    "KinesisParameters": {"PartitionKeyPath": "$.detail.id"},
                },
            ],
        )
        entry = {"Source": "shop.hooks", "DetailType": "o", "Detail": json.dumps({"id": 7})}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        deadline = time.monotonic() + 15
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        [(path, headers, body)] = received
        assert path == "/orders/eu" and headers["x-api-key"] == "k-secret"
        assert json.loads(body) == {"order": 7}
        iterator = kinesis.get_shard_iterator(
            StreamName="orders", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        while not records and time.monotonic() < deadline:
            records = kinesis.get_records(ShardIterator=iterator)["Records"]
            time.sleep(0 if records else 0.05)
        [record] = records
        assert record["PartitionKey"] == "7"
        assert json.loads(record["Data"])["detail"] == {"id": 7}
        listed = events.list_api_destinations(ConnectionArn=made["ConnectionArn"])
        assert [d["Name"] for d in listed["ApiDestinations"]] == ["orders-hook"]
        # The key lives in a real Secrets Manager secret EventBridge manages (decision 0204).
        secrets = client_for(server, "secretsmanager", *credentials)
        secret = secrets.describe_secret(SecretId=shown["SecretArn"])
        assert secret["OwningService"] == "events"
        assert secret["Name"].startswith("events!connection/hooks/")
        value = json.loads(secrets.get_secret_value(SecretId=shown["SecretArn"])["SecretString"])
        assert value["ApiKeyAuthParameters"]["ApiKeyValue"] == "k-secret"
        with pytest.raises(ClientError) as caught:
            secrets.delete_secret(SecretId=shown["SecretArn"], ForceDeleteWithoutRecovery=True)
        assert code(caught) == "InvalidRequestException"
        events.delete_api_destination(Name="orders-hook")
        events.delete_connection(Name="hooks")
        with pytest.raises(ClientError) as caught:
            secrets.describe_secret(SecretId=shown["SecretArn"])
        assert code(caught) == "ResourceNotFoundException"
    finally:
        http.shutdown()
        http.server_close()
        thread.join()


def test_a_pipe_moves_filtered_messages_between_queues(server: ServerProcess) -> None:
    """EventBridge Pipes (decision 0258) through boto3's ``pipes`` client (restJson1 on the
    same endpoint): an SQS source into an SQS target with a filter, as a role trusting
    ``pipes.amazonaws.com``, its execution logged into a bucket (decision 0268); tagged through
    the ARN in its path, stopped and deleted."""
    credentials = server.credentials()
    pipes = client_for(server, "pipes", *credentials)
    sqs = client_for(server, "sqs", *credentials)
    iam = client_for(server, "iam", *credentials)
    source_url, source = queue(sqs, "pipe-source", None)
    target_url, target = queue(sqs, "pipe-target", None)
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
    role = iam.create_role(RoleName="pipe-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="pipe-role",
        PolicyName="pipe",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Resource": "*",
                        "Action": [
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:GetQueueAttributes",
                            "sqs:SendMessage",
                            "s3:PutObject",
                        ],
                    }
                ],
            }
        ),
    )
    s3 = client_for(server, "s3", *credentials)
    s3.create_bucket(Bucket="pipe-logs")
    account = role["Role"]["Arn"].split(":")[4]
    made = pipes.create_pipe(
        Name="orders",
        Source=source,
        Target=target,
        RoleArn=role["Role"]["Arn"],
        SourceParameters={
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]}
        },
        TargetParameters={"InputTemplate": '{"id": <$.body.id>}'},
        LogConfiguration={
            "Level": "INFO",
            "S3LogDestination": {"BucketName": "pipe-logs", "BucketOwner": account},
        },
        Tags={"team": "shop"},
    )
    assert made["CurrentState"] == "CREATING"
    deadline = time.monotonic() + 15
    while pipes.describe_pipe(Name="orders")["CurrentState"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    sqs.send_message(QueueUrl=source_url, MessageBody=json.dumps({"kind": "order", "id": 7}))
    sqs.send_message(QueueUrl=source_url, MessageBody=json.dumps({"kind": "refund", "id": 8}))
    (message,) = receive(sqs, target_url)
    assert json.loads(message["Body"]) == {"id": 7}
    assert receive(sqs, target_url, wait=2) == []  # the refund was filtered out
    logged = s3.list_objects_v2(Bucket="pipe-logs", Prefix=f"AWSLogs/{account}/EventBridgePipes/")
    assert logged["KeyCount"] >= 1 and logged["Contents"][0]["Key"].endswith(".log.gz")
    assert [p["Name"] for p in pipes.list_pipes(NamePrefix="ord")["Pipes"]] == ["orders"]
    pipes.tag_resource(resourceArn=made["Arn"], tags={"stage": "test"})
    assert pipes.list_tags_for_resource(resourceArn=made["Arn"])["tags"] == {
        "team": "shop",
        "stage": "test",
    }
    with pytest.raises(ClientError) as caught:
        pipes.describe_pipe(Name="nothing")
    assert code(caught) == "NotFoundException"
    assert pipes.stop_pipe(Name="orders")["CurrentState"] == "STOPPING"
    while pipes.describe_pipe(Name="orders")["CurrentState"] != "STOPPED":
        assert time.monotonic() < deadline + 15
        time.sleep(0.2)
    assert pipes.delete_pipe(Name="orders")["CurrentState"] == "DELETING"


def _trusting(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def test_pipes_start_state_machines_and_an_express_one_enriches(server: ServerProcess) -> None:
    """Decision 0316: a queue's batch as the input of a STANDARD machine's execution started
    by the pipe's role (FIRE_AND_FORGET); an EXPRESS machine, run synchronously, making the
    events a queue target receives; a STANDARD machine refused as a REQUEST_RESPONSE
    target."""
    credentials = server.credentials()
    pipes = client_for(server, "pipes", *credentials)
    sqs = client_for(server, "sqs", *credentials)
    iam = client_for(server, "iam", *credentials)
    states = client_for(server, "stepfunctions", *credentials)
    machine_role = iam.create_role(
        RoleName="sfn-pipe-machine", AssumeRolePolicyDocument=_trusting("states.amazonaws.com")
    )["Role"]["Arn"]
    standard = states.create_state_machine(
        name="pipe-standard",
        roleArn=machine_role,
        type="STANDARD",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    each = {
        "StartAt": "E",
        "States": {
            "E": {"Type": "Pass", "End": True, "Parameters": {"id.$": "$.body.id", "ok": True}}
        },
    }
    express = states.create_state_machine(
        name="pipe-enrich", roleArn=machine_role, type="EXPRESS",
        definition=json.dumps({"StartAt": "M", "States": {"M": {
            "Type": "Map", "ItemProcessor": each, "End": True}}}),
    )["stateMachineArn"]  # fmt: skip
    role = iam.create_role(
        RoleName="sfn-pipe", AssumeRolePolicyDocument=_trusting("pipes.amazonaws.com")
    )["Role"]["Arn"]
    actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
               "sqs:SendMessage", "states:StartExecution", "states:StartSyncExecution"]  # fmt: skip
    iam.put_role_policy(
        RoleName="sfn-pipe",
        PolicyName="pipe",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Resource": "*", "Action": actions}],
            }
        ),
    )
    started_url, started = queue(sqs, "sfn-started", None)
    enriched_url, enriched = queue(sqs, "sfn-enriched", None)
    target_url, target = queue(sqs, "sfn-target", None)
    with pytest.raises(ClientError) as caught:
        pipes.create_pipe(Name="sfn-sync", Source=started, Target=standard, RoleArn=role)
    assert code(caught) == "ValidationException"
    assert "STANDARD" in caught.value.response["Error"]["Message"]
    pipes.create_pipe(
        Name="sfn-start",
        Source=started,
        Target=standard,
        RoleArn=role,
        TargetParameters={
            "StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}
        },
    )
    pipes.create_pipe(
        Name="sfn-enrich",
        Source=enriched,
        Target=target,
        RoleArn=role,
        Enrichment=express,
        EnrichmentParameters={"InputTemplate": '{"body": <$.body>}'},
    )
    deadline = time.monotonic() + 15
    for name in ("sfn-start", "sfn-enrich"):
        while pipes.describe_pipe(Name=name)["CurrentState"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    sqs.send_message(QueueUrl=started_url, MessageBody=json.dumps({"n": 1}))
    sqs.send_message(QueueUrl=enriched_url, MessageBody=json.dumps({"id": 3}))
    (message,) = receive(sqs, target_url)
    assert json.loads(message["Body"]) == {"id": 3, "ok": True}
    executions: list[dict[str, Any]] = []
    while not executions:
        assert time.monotonic() < deadline + 15
        executions = states.list_executions(stateMachineArn=standard)["executions"]
        time.sleep(0.2)
    described = states.describe_execution(executionArn=executions[0]["executionArn"])
    (event,) = json.loads(described["input"])  # the batch, one JSON array
    assert json.loads(event["body"]) == {"n": 1} and event["eventSource"] == "aws:sqs"
    for name in ("sfn-start", "sfn-enrich"):
        pipes.delete_pipe(Name=name)


def test_a_distributed_map_over_an_s3_json_array_writes_its_results(
    server: ServerProcess,
) -> None:
    """Decision 0322: a distributed Map reads a JSON array from S3 as the machine's role, runs
    each item as a child execution (one tolerated failure), writes AWS's manifest and result
    files with ResultWriter — read back with boto3 — and DescribeMapRun counts the items;
    decision 0369: ListExecutions(mapRunArn) lists the children, DescribeExecution one."""
    credentials = server.credentials()
    iam = client_for(server, "iam", *credentials)
    s3 = client_for(server, "s3", *credentials)
    states = client_for(server, "stepfunctions", *credentials)
    s3.create_bucket(Bucket="sfn-map-e2e")
    items = [{"id": i, "ok": i != 2} for i in range(5)]
    s3.put_object(Bucket="sfn-map-e2e", Key="in/items.json", Body=json.dumps(items).encode())
    role = iam.create_role(
        RoleName="sfn-map", AssumeRolePolicyDocument=_trusting("states.amazonaws.com")
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName="sfn-map", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]}]}))  # fmt: skip
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "Label": "items", "ToleratedFailureCount": 1,
        "MaxConcurrency": 2,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "JSON"},
                       "Parameters": {"Bucket": "sfn-map-e2e", "Key": "in/items.json"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Default": "Done", "Choices": [
                    {"Variable": "$.ok", "BooleanEquals": False, "Next": "Refuse"}]},
                "Refuse": {"Type": "Fail", "Error": "NotOk", "Cause": "item refused"},
                "Done": {"Type": "Pass", "Parameters": {"seen.$": "$.id"}, "End": True}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Parameters": {"Bucket": "sfn-map-e2e", "Prefix": "out"}}}}}  # fmt: skip
    machine = states.create_state_machine(
        name="sfn-map", roleArn=role, definition=json.dumps(definition)
    )["stateMachineArn"]
    run = states.start_execution(stateMachineArn=machine, input="{}")
    deadline = time.monotonic() + 30
    described = states.describe_execution(executionArn=run["executionArn"])
    while described["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
        described = states.describe_execution(executionArn=run["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    details = output["ResultWriterDetails"]
    assert details["Bucket"] == "sfn-map-e2e" and details["Key"].startswith("out/")
    manifest = json.loads(s3.get_object(Bucket="sfn-map-e2e", Key=details["Key"])["Body"].read())
    assert manifest["MapRunArn"] == output["MapRunArn"]
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    records = json.loads(s3.get_object(Bucket="sfn-map-e2e", Key=succeeded["Key"])["Body"].read())
    assert sorted(json.loads(r["Output"])["seen"] for r in records) == [0, 1, 3, 4]
    (failed,) = manifest["ResultFiles"]["FAILED"]
    (refused,) = json.loads(s3.get_object(Bucket="sfn-map-e2e", Key=failed["Key"])["Body"].read())
    assert refused["Error"] == "NotOk" and json.loads(refused["Input"])["id"] == 2
    map_run = states.describe_map_run(mapRunArn=output["MapRunArn"])
    assert map_run["status"] == "SUCCEEDED" and map_run["maxConcurrency"] == 2
    assert map_run["itemCounts"]["total"] == 5 and map_run["itemCounts"]["succeeded"] == 4
    assert map_run["itemCounts"]["failed"] == 1 and map_run["toleratedFailureCount"] == 1
    listed = states.list_map_runs(executionArn=run["executionArn"])["mapRuns"]
    assert [r["mapRunArn"] for r in listed] == [output["MapRunArn"]]
    # Decision 0369: the children as executions, kept sealed in the metadata database.
    children = states.list_executions(mapRunArn=output["MapRunArn"])["executions"]
    assert len(children) == 5 and {c["mapRunArn"] for c in children} == {output["MapRunArn"]}
    (child,) = [c for c in children if c["status"] == "FAILED"]
    assert ":express:sfn-map/items:" in child["executionArn"]
    refused_child = states.describe_execution(executionArn=child["executionArn"])
    assert refused_child["error"] == "NotOk" and json.loads(refused_child["input"])["id"] == 2
    assert refused_child["mapRunArn"] == output["MapRunArn"]
    with pytest.raises(states.exceptions.InvalidArn):  # AWS keeps no Express history
        states.get_execution_history(executionArn=child["executionArn"])
