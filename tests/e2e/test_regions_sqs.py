"""SQS in a second declared Region (decision 0414), end to end: one ``andromede serve``
declaring eu-fr-1 (the default) and eu-de-1, driven with boto3's ``sqs`` clients of both
Regions and an ``events`` client of eu-de-1.

What it proves: a queue name taken in both Regions is two queues (ARNs of their Regions,
each listed in its own, each with its own messages), and an EventBridge rule of eu-de-1
delivers to eu-de-1's queue, not to the default Region's namesake.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from support.server import REGION, ServerProcess, running_server

FR, DE = REGION, "eu-de-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("sqs-regions") / "data"
    env = {
        "ANDROMEDE_REGIONS": json.dumps(
            [{"name": FR, "jurisdiction": "FR"}, {"name": DE, "jurisdiction": "DE"}]
        ),
        "ANDROMEDE_WORKERS": "1",
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


def bodies(sqs: Any, url: str, *, wait: int = 0) -> list[str]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
    for message in got.get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [m["Body"] for m in got.get("Messages", [])]


def test_a_queue_name_in_two_regions_and_a_rule_of_the_second(server: ServerProcess) -> None:
    fr, de = aws(server, "sqs", FR), aws(server, "sqs", DE)
    fr_url = fr.create_queue(QueueName="orders")["QueueUrl"]
    de_url = de.create_queue(QueueName="orders")["QueueUrl"]
    arn = {}
    for region, client, url in ((FR, fr, fr_url), (DE, de, de_url)):
        found = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arn[region] = found["Attributes"]["QueueArn"]
        assert arn[region].startswith(f"arn:aws:sqs:{region}:")
    de.create_queue(QueueName="only-de")
    assert [u.rsplit("/", 1)[1] for u in de.list_queues()["QueueUrls"]] == ["only-de", "orders"]
    assert [u.rsplit("/", 1)[1] for u in fr.list_queues()["QueueUrls"]] == ["orders"]
    fr.send_message(QueueUrl=fr_url, MessageBody="for fr")
    de.send_message(QueueUrl=de_url, MessageBody="for de")
    assert bodies(de, de_url) == ["for de"]
    assert bodies(fr, fr_url) == ["for fr"]

    # A rule of eu-de-1 delivers to eu-de-1's queue, as its policy lets EventBridge in.
    events = aws(server, "events", DE)
    rule_arn = events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))[
        "RuleArn"
    ]
    assert rule_arn.startswith(f"arn:aws:events:{DE}:")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn[DE],
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    de.set_queue_attributes(QueueUrl=de_url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule="orders", Targets=[{"Id": "q", "Arn": arn[DE]}])
    put = events.put_events(
        Entries=[{"Source": "shop", "DetailType": "order", "Detail": json.dumps({"n": 7})}]
    )
    assert put["FailedEntryCount"] == 0
    deadline = time.monotonic() + 30
    received: list[str] = []
    while not received and time.monotonic() < deadline:
        received = bodies(de, de_url, wait=2)
    (event,) = [json.loads(b) for b in received]
    assert (event["region"], event["detail"]) == (DE, {"n": 7})
    assert bodies(fr, fr_url) == []
