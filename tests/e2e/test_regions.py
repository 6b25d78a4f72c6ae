"""Regions end to end: two ``andromede serve`` gateways on one data folder (local backend), one
serving eu-fr-1 and eu-de-1, the other eu-es-1, driven with boto3 and the admin command line.

What it proves: a bucket's LocationConstraint picks its region and every blob of its objects
(PutObject, multipart, copies) lands in that region's folder only; a client signing for another
region is redirected by botocore itself (AuthorizationHeaderMalformed naming the region); a
bucket of a region this gateway does not serve answers 301 PermanentRedirect naming the region
and its endpoint, where another gateway serves it; the tenant allow-list refuses a region; the
residency report says where each bucket's bytes are. EventBridge (decision 0349): a rule of
eu-de-1 sends its events to a bus of eu-fr-1, whose rule hands them to a queue there; decision
0397: a scheduled rule of eu-de-1 fires there, an archive of its bus is replayed there;
decision 0400: a rule of eu-de-1 invokes an API destination of eu-de-1 (its connection's secret
in eu-de-1's Secrets Manager) on a local HTTP receiver.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, free_port, running_server

FR, DE, ES = REGION, "eu-de-1", "eu-es-1"
_BLOB = re.compile(r"[0-9a-f]{32}")


@dataclass
class Gateways:
    main: ServerProcess  # serves eu-fr-1 (the default) and eu-de-1
    spain: ServerProcess  # serves eu-es-1 only
    env: dict[str, str]


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    data_dir = tmp_path_factory.mktemp("regions") / "data"
    spain_port = free_port()
    regions = [
        {"name": FR, "jurisdiction": "FR"},
        {"name": DE, "jurisdiction": "DE"},
        {"name": ES, "jurisdiction": "ES", "endpoint": f"http://127.0.0.1:{spain_port}"},
    ]
    env = {
        "ANDROMEDE_REGIONS": json.dumps(regions),
        "ANDROMEDE_WORKERS": "1",
        # API destinations on the test's loopback receiver (decision 0400).
        "ANDROMEDE_EVENTS_API_DESTINATION_ALLOW_HTTP": "true",
        "ANDROMEDE_EVENTS_API_DESTINATION_ALLOW_CIDRS": '["127.0.0.0/8"]',
        # A scheduled rule's slot is found within a second of its end, not ten (decision 0412):
        # its rate is still counted from the rule's creation, a minute at least, as AWS does.
        "ANDROMEDE_EVENTS_SCHEDULE_INTERVAL": "1",
    }
    main_env = {**env, "ANDROMEDE_SERVED_REGIONS": json.dumps([FR, DE])}
    with running_server(data_dir, extra_env=main_env) as main:
        spain = ServerProcess(
            data_dir=data_dir,
            port=spain_port,
            extra_env={**env, "ANDROMEDE_SERVED_REGIONS": json.dumps([ES])},
        )
        spain.start()
        try:
            yield Gateways(main, spain, env)
        finally:
            spain.stop()


def client(server: ServerProcess, region: str) -> Any:
    access_key, secret_key = server.credentials()
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def blobs(data_dir: Path, region: str) -> set[str]:
    folder = data_dir / ("objects" if region == FR else f"objects-{region}")
    if not folder.exists():
        return set()
    return {p.name for p in folder.rglob("*") if p.is_file() and _BLOB.fullmatch(p.name)}


def admin(gateways: Gateways, *args: str) -> str:
    result = run_command(
        [str(ANDROMEDE), "admin", *args, "--data-dir", str(gateways.main.data_dir)],
        env={**os.environ, **gateways.env, "ANDROMEDE_REGION": FR},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def new_bucket(s3: Any, region: str | None) -> str:
    name = f"reg-{uuid.uuid4().hex[:12]}"
    if region is None:
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return name


def test_each_buckets_bytes_stay_in_its_region(gateways: Gateways, tmp_path: Path) -> None:
    data_dir = gateways.main.data_dir
    s3 = client(gateways.main, FR)
    french, german = new_bucket(s3, None), new_bucket(s3, DE)
    assert s3.get_bucket_location(Bucket=french)["LocationConstraint"] == FR
    assert s3.get_bucket_location(Bucket=german)["LocationConstraint"] == DE
    before_fr, before_de = blobs(data_dir, FR), blobs(data_dir, DE)

    # A client configured for eu-fr-1 writes into the eu-de-1 bucket: botocore follows the
    # AuthorizationHeaderMalformed answer (which names eu-de-1) and signs again for it.
    s3.put_object(Bucket=german, Key="small", Body=b"guten tag")
    big = tmp_path / "big"
    big.write_bytes(os.urandom(11 * 1024 * 1024))
    s3.upload_file(
        str(big),
        german,
        "big",
        Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20),
    )
    s3.put_object(Bucket=french, Key="source", Body=b"bonjour" * 3000)
    s3.copy_object(Bucket=german, Key="copied", CopySource={"Bucket": french, "Key": "source"})

    new_fr = blobs(data_dir, FR) - before_fr
    new_de = blobs(data_dir, DE) - before_de
    assert len(new_fr) == 1  # the source object, and nothing of the German bucket
    # three parts, the copy re-written in eu-de-1; the small object lives in its metadata row
    # (decision 0028: the database shares the host of every region's folder)
    assert len(new_de) == 3 + 1
    german_client = client(gateways.main, DE)
    assert german_client.get_object(Bucket=german, Key="small")["Body"].read() == b"guten tag"
    copied = german_client.get_object(Bucket=german, Key="copied")["Body"].read()
    assert copied == b"bonjour" * 3000
    downloaded = tmp_path / "down"
    german_client.download_file(german, "big", str(downloaded))
    assert downloaded.read_bytes() == big.read_bytes()
    listed = {b["Name"]: b.get("BucketRegion") for b in s3.list_buckets()["Buckets"]}
    assert (listed[french], listed[german]) == (FR, DE)

    report = json.loads(admin(gateways, "residency", "report", "--json"))
    rows = {row["bucket"]: row for row in report["buckets"]}
    assert (rows[german]["region"], rows[german]["jurisdiction"]) == (DE, "DE")
    assert rows[german]["location"] == str(data_dir / f"objects-{DE}")
    assert (rows[german]["objects"], rows[german]["bytes"]) == (3, 9 + (11 << 20) + 21000)
    assert rows[german]["inline_max_bytes"] == 16384
    assert (rows[french]["jurisdiction"], rows[french]["objects"]) == ("FR", 1)


def test_a_bucket_served_elsewhere_redirects_to_its_gateway(gateways: Gateways) -> None:
    data_dir = gateways.main.data_dir
    before = {region: blobs(data_dir, region) for region in (FR, DE, ES)}
    spanish = new_bucket(client(gateways.spain, ES), ES)
    hola = b"hola" * 5000  # past the inline limit: a blob, in eu-es-1's folder
    client(gateways.spain, ES).put_object(Bucket=spanish, Key="k", Body=hola)
    assert len(blobs(data_dir, ES) - before[ES]) == 1
    assert (blobs(data_dir, FR), blobs(data_dir, DE)) == (before[FR], before[DE])
    main = client(gateways.main, ES)
    with pytest.raises(ClientError) as caught:
        main.get_object(Bucket=spanish, Key="k")
    error = caught.value.response
    assert error["Error"]["Code"] == "PermanentRedirect"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 301
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == ES
    assert error["Error"]["Endpoint"] == f"127.0.0.1:{gateways.spain.port}"
    with pytest.raises(ClientError) as head:
        main.head_bucket(Bucket=spanish)
    assert head.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == ES
    # Any gateway tells where a bucket is; its own gateway serves it.
    assert main.get_bucket_location(Bucket=spanish)["LocationConstraint"] == ES
    got = client(gateways.spain, ES).get_object(Bucket=spanish, Key="k")["Body"].read()
    assert got == hola
    # And the gateway serving eu-es-1 creates no bucket in the regions it does not serve.
    with pytest.raises(ClientError) as refused:
        new_bucket(client(gateways.spain, ES), FR)
    assert refused.value.response["Error"]["Code"] == "IllegalLocationConstraintException"


def test_the_tenant_allow_list_refuses_other_regions(gateways: Gateways) -> None:
    tenants = json.loads(admin(gateways, "tenant", "list", "--json"))
    tenant = tenants[0]["name"]
    admin(gateways, "tenant", "regions", tenant, "--allow", FR)
    try:
        s3 = client(gateways.main, FR)
        with pytest.raises(ClientError) as refused:
            new_bucket(s3, DE)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert s3.get_bucket_location(Bucket=new_bucket(s3, FR))["LocationConstraint"] == FR
    finally:
        admin(gateways, "tenant", "regions", tenant, "--all")
    assert new_bucket(client(gateways.main, FR), DE)


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


def test_a_rule_of_one_region_sends_to_a_bus_of_another(gateways: Gateways) -> None:
    """Decision 0349, with boto3 in each Region: eu-de-1's bus ``orders`` and eu-fr-1's are
    two buses; a rule of eu-de-1 whose target is eu-fr-1's ``central`` bus (a role required,
    as AWS requires one for another Region) sends the event there, where ``central``'s rule
    puts it into a queue: the event itself, its id and Region of origin."""
    fr_events, de_events = aws(gateways.main, "events", FR), aws(gateways.main, "events", DE)
    iam, sqs = aws(gateways.main, "iam", FR), aws(gateways.main, "sqs", FR)
    suffix = uuid.uuid4().hex[:8]
    for events in (fr_events, de_events):
        events.create_event_bus(Name=f"orders-{suffix}")
    assert fr_events.describe_event_bus(Name=f"orders-{suffix}")["Arn"].split(":")[3] == FR
    assert de_events.describe_event_bus(Name=f"orders-{suffix}")["Arn"].split(":")[3] == DE

    central = fr_events.create_event_bus(Name=f"central-{suffix}")["EventBusArn"]
    pattern = json.dumps({"source": [f"shop-{suffix}"]})
    rule_in = fr_events.put_rule(Name="in", EventBusName=f"central-{suffix}", EventPattern=pattern)
    url = sqs.create_queue(QueueName=f"central-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    allow = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_in["RuleArn"]}},
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    fr_events.put_targets(
        Rule="in", EventBusName=f"central-{suffix}", Targets=[{"Id": "q", "Arn": queue_arn}]
    )

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
    role = iam.create_role(RoleName=f"eb-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))
    send = {"Effect": "Allow", "Action": "events:PutEvents", "Resource": central}
    iam.put_role_policy(
        RoleName=f"eb-{suffix}",
        PolicyName="send",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [send]}),
    )
    de_events.put_rule(Name=f"out-{suffix}", EventPattern=pattern)
    with pytest.raises(ClientError) as caught:
        de_events.put_targets(Rule=f"out-{suffix}", Targets=[{"Id": "fr", "Arn": central}])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    de_events.put_targets(
        Rule=f"out-{suffix}",
        Targets=[{"Id": "fr", "Arn": central, "RoleArn": role["Role"]["Arn"]}],
    )

    entry = {"Source": f"shop-{suffix}", "DetailType": "order", "Detail": '{"n": 1}'}
    event_id = de_events.put_events(Entries=[entry])["Entries"][0]["EventId"]
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60  # the delivery worker of either gateway may take it
    while not bodies and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        bodies += [json.loads(m["Body"]) for m in answer.get("Messages", [])]
    assert bodies, "the event never reached eu-fr-1's queue"
    assert {(b["id"], b["region"], b["source"]) for b in bodies} == {
        (event_id, DE, f"shop-{suffix}")
    }


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    """A queue of the default Region that EventBridge's rules may send to: (URL, ARN)."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    allow = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return url, arn


def _received_ids(sqs: Any, url: str, wanted: str, deadline: float) -> set[str]:
    """The event ids the queue holds by ``deadline``, polled until ``wanted`` is among them
    (at least once: an id may come twice)."""
    seen: set[str] = set()
    while wanted not in seen and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        seen |= {json.loads(m["Body"])["id"] for m in answer.get("Messages", [])}
    return seen


def test_a_global_endpoint_fails_over_when_its_health_check_fails(gateways: Gateways) -> None:
    """Decision 0355, with boto3 against the real serve: a bus of one name in eu-de-1 (the
    primary) and eu-fr-1 (the secondary), a rule on each feeding a queue (eu-de-1's through
    a bus of eu-fr-1: another Region's rules have only buses as targets, decision 0349), a
    Route 53 health check the test turns unhealthy (``Inverted`` once the gateway's round
    has checked it). Events put through the endpoint reach the primary's queue, then the
    secondary's once the check fails."""
    suffix = uuid.uuid4().hex[:8]
    # Route 53's model wants Regions of 9 characters at least (us-east-1); this
    # deployment's are shorter, which only botocore's own validation minds.
    lenient = Config(retries={"max_attempts": 1}, parameter_validation=False)
    access_key, secret_key = gateways.main.credentials()
    fr_events, de_events = (
        boto3.client(
            "events",
            endpoint_url=gateways.main.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=lenient,
        )
        for region in (FR, DE)
    )
    iam, sqs = aws(gateways.main, "iam", FR), aws(gateways.main, "sqs", FR)
    route53 = aws(gateways.main, "route53", FR)
    bus = f"ge-{suffix}"
    arns = [e.create_event_bus(Name=bus)["EventBusArn"] for e in (de_events, fr_events)]
    relay_bus = fr_events.create_event_bus(Name=f"from-de-{suffix}")["EventBusArn"]
    pattern = json.dumps({"source": [f"shop-{suffix}"]})
    primary_url, primary_arn = _queue(sqs, f"primary-{suffix}")
    secondary_url, secondary_arn = _queue(sqs, f"secondary-{suffix}")
    for on, arn in ((f"from-de-{suffix}", primary_arn), (bus, secondary_arn)):
        fr_events.put_rule(Name="q", EventBusName=on, EventPattern=pattern)
        fr_events.put_targets(Rule="q", EventBusName=on, Targets=[{"Id": "q", "Arn": arn}])
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }  # fmt: skip
    role = iam.create_role(RoleName=f"ge-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))
    send = {"Effect": "Allow", "Action": "events:PutEvents", "Resource": relay_bus}
    iam.put_role_policy(
        RoleName=f"ge-{suffix}",
        PolicyName="send",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [send]}),
    )
    de_events.put_rule(Name="relay", EventBusName=bus, EventPattern=pattern)
    relay = {"Id": "fr", "Arn": relay_bus, "RoleArn": role["Role"]["Arn"]}
    de_events.put_targets(Rule="relay", EventBusName=bus, Targets=[relay])

    check = route53.create_health_check(
        CallerReference=f"ge-{suffix}",
        HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": FR, "Name": f"no-alarm-{suffix}"},
            "InsufficientDataHealthStatus": "Healthy",
        },
    )["HealthCheck"]
    made = de_events.create_endpoint(
        Name=f"ge-{suffix}",
        RoutingConfig={
            "FailoverConfig": {
                "Primary": {"HealthCheck": f"arn:aws:route53:::healthcheck/{check['Id']}"},
                "Secondary": {"Route": FR},
            }
        },
        ReplicationConfig={"State": "DISABLED"},
        EventBuses=[{"EventBusArn": arn} for arn in arns],
    )
    assert made["State"] == "ACTIVE"
    endpoint_id = de_events.describe_endpoint(Name=f"ge-{suffix}")["EndpointId"]
    listed = fr_events.list_endpoints(HomeRegion=DE, NamePrefix=f"ge-{suffix}")["Endpoints"]
    assert [e["EndpointId"] for e in listed] == [endpoint_id]

    schemes: list[str] = []  # botocore signs a PutEvents naming an endpoint with SigV4a

    def note_scheme(request: Any, **_: Any) -> None:
        value = request.headers.get("Authorization", b"")
        text = value.decode() if isinstance(value, bytes) else str(value)
        schemes.append(text.split(" ", 1)[0])

    fr_events.meta.events.register("before-send.events.PutEvents", note_scheme)
    entry = {"Source": f"shop-{suffix}", "DetailType": "order", "Detail": '{"n": 1}'}
    first = fr_events.put_events(Entries=[entry], EndpointId=endpoint_id)["Entries"][0]
    assert schemes == ["AWS4-ECDSA-P256-SHA256"]
    seen = _received_ids(sqs, primary_url, first["EventId"], time.monotonic() + 90)
    assert first["EventId"] in seen, "the event never reached the primary's queue"

    # The check turns unhealthy once a round has checked it (before, Route 53 answers an
    # unchecked check healthy): wait for its first observation, then invert it.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = route53.get_health_check_status(HealthCheckId=check["Id"])
        if status["HealthCheckObservations"]:
            break
        time.sleep(0.5)
    route53.update_health_check(HealthCheckId=check["Id"], Inverted=True)
    second = fr_events.put_events(Entries=[entry], EndpointId=endpoint_id)["Entries"][0]
    seen = _received_ids(sqs, secondary_url, second["EventId"], time.monotonic() + 90)
    assert second["EventId"] in seen, "the event never reached the secondary's queue"
    assert second["EventId"] not in _received_ids(
        sqs, primary_url, second["EventId"], time.monotonic() + 3
    )
    de_events.delete_endpoint(Name=f"ge-{suffix}")


def test_a_scheduled_rule_and_a_replay_of_another_region(gateways: Gateways) -> None:
    """Decision 0397, with boto3 against the real serve: a ``rate(1 minute)`` rule of
    eu-de-1 fires there (its Scheduled Event of eu-de-1, sent on to a bus of eu-fr-1 whose
    rule puts it into a queue); an archive of eu-de-1's default bus keeps an event put there,
    is listed in eu-de-1 only, and its replay puts the event back on eu-de-1's bus, whose
    rule sends it on again with its ``replay-name``."""
    suffix = uuid.uuid4().hex[:8]
    fr_events, de_events = aws(gateways.main, "events", FR), aws(gateways.main, "events", DE)
    # Made first: its first period, a minute, runs while the rest is set up (its target is
    # put long before it ends).
    tick = de_events.put_rule(Name=f"tick-{suffix}", ScheduleExpression="rate(1 minute)")
    iam, sqs = aws(gateways.main, "iam", FR), aws(gateways.main, "sqs", FR)
    central = fr_events.create_event_bus(Name=f"sched-{suffix}")["EventBusArn"]
    url, queue_arn = _queue(sqs, f"sched-{suffix}")
    every = json.dumps({"source": ["aws.events", f"shop-{suffix}"]})
    fr_events.put_rule(Name="q", EventBusName=f"sched-{suffix}", EventPattern=every)
    fr_events.put_targets(
        Rule="q", EventBusName=f"sched-{suffix}", Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }  # fmt: skip
    role = iam.create_role(RoleName=f"sch-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))
    send = {"Effect": "Allow", "Action": "events:PutEvents", "Resource": central}
    iam.put_role_policy(
        RoleName=f"sch-{suffix}",
        PolicyName="send",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [send]}),
    )
    relay = {"Id": "fr", "Arn": central, "RoleArn": role["Role"]["Arn"]}
    assert tick["RuleArn"].split(":")[3] == DE
    de_events.put_targets(Rule=f"tick-{suffix}", Targets=[relay])

    de_bus = de_events.describe_event_bus()["Arn"]
    archive = de_events.create_archive(
        ArchiveName=f"a-{suffix}",
        EventSourceArn=de_bus,
        EventPattern=json.dumps({"source": [f"shop-{suffix}"]}),
    )
    assert archive["ArchiveArn"].split(":")[3] == DE
    names = [
        a["ArchiveName"] for a in fr_events.list_archives(NamePrefix=f"a-{suffix}")["Archives"]
    ]
    assert names == []
    de_events.put_rule(
        Name=f"out-{suffix}", EventPattern=json.dumps({"source": [f"shop-{suffix}"]})
    )
    de_events.put_targets(Rule=f"out-{suffix}", Targets=[relay])
    before = time.time() - 60
    entry = {"Source": f"shop-{suffix}", "DetailType": "order", "Detail": '{"n": 1}'}
    event_id = de_events.put_events(Entries=[entry])["Entries"][0]["EventId"]

    bodies: list[dict[str, Any]] = []

    def receive_until(done: Any, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
            bodies.extend(json.loads(m["Body"]) for m in answer.get("Messages", []))

    def put_back() -> list[dict[str, Any]]:
        return [b for b in bodies if b.get("replay-name") == f"again-{suffix}"]

    receive_until(lambda: any(b["id"] == event_id for b in bodies), 60)
    assert any(b["id"] == event_id and b["region"] == DE for b in bodies)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # archived in the call; counted once committed
        held = de_events.describe_archive(ArchiveName=f"a-{suffix}")
        if held["EventCount"] >= 1:
            break
        time.sleep(0.5)
    assert held["EventCount"] == 1
    replay = de_events.start_replay(
        ReplayName=f"again-{suffix}",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=before,
        EventEndTime=time.time() + 60,
        Destination={"Arn": de_bus},
    )
    assert replay["ReplayArn"].split(":")[3] == DE
    receive_until(lambda: put_back(), 90)
    assert [(b["id"], b["region"]) for b in put_back()][:1] == [(event_id, DE)]
    assert de_events.describe_replay(ReplayName=f"again-{suffix}")["State"] in (
        "RUNNING",
        "COMPLETED",
    )
    assert fr_events.list_replays(NamePrefix=f"again-{suffix}")["Replays"] == []

    # The schedule's first period ends a minute after the rule was made (150 s: the
    # dispatcher's pass, the delivery's, a loaded machine).
    def scheduled() -> list[dict[str, Any]]:
        return [b for b in bodies if b.get("detail-type") == "Scheduled Event"]

    receive_until(lambda: scheduled(), 150)
    assert scheduled(), "eu-de-1's scheduled rule never fired"
    first = scheduled()[0]
    assert (first["source"], first["region"], first["resources"]) == (
        "aws.events",
        DE,
        [tick["RuleArn"]],
    )
    de_events.remove_targets(Rule=f"tick-{suffix}", Ids=["fr"])
    de_events.delete_rule(Name=f"tick-{suffix}")


def test_an_api_destination_of_another_region(gateways: Gateways) -> None:
    """Decision 0400, with boto3 in eu-de-1: a connection and an API destination of eu-de-1
    (their ARNs of eu-de-1, not listed in eu-fr-1), the connection's secret in eu-de-1's
    Secrets Manager; a rule of eu-de-1 invokes the destination on a local HTTP receiver with
    the connection's key, whichever gateway's delivery worker takes it."""
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
        fr_events, de_events = aws(gateways.main, "events", FR), aws(gateways.main, "events", DE)
        iam = aws(gateways.main, "iam", FR)
        suffix = uuid.uuid4().hex[:8]
        key = {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": suffix}}
        made = de_events.create_connection(
            Name=f"hooks-{suffix}", AuthorizationType="API_KEY", AuthParameters=key
        )
        assert made["ConnectionArn"].split(":")[3] == DE
        names = [c["Name"] for c in fr_events.list_connections()["Connections"]]
        assert f"hooks-{suffix}" not in names
        secret_arn = de_events.describe_connection(Name=f"hooks-{suffix}")["SecretArn"]
        assert secret_arn.split(":")[3] == DE
        secret = aws(gateways.main, "secretsmanager", DE).describe_secret(SecretId=secret_arn)
        assert secret["OwningService"] == "events"
        destination = de_events.create_api_destination(
            Name=f"hook-{suffix}",
            ConnectionArn=made["ConnectionArn"],
            InvocationEndpoint=f"http://127.0.0.1:{http.server_address[1]}/orders",
            HttpMethod="POST",
        )["ApiDestinationArn"]
        assert destination.split(":")[3] == DE
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
        role = iam.create_role(
            RoleName=f"hook-{suffix}", AssumeRolePolicyDocument=json.dumps(trust)
        )
        invoke = {"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": "*"}
        iam.put_role_policy(
            RoleName=f"hook-{suffix}",
            PolicyName="invoke",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [invoke]}),
        )
        pattern = json.dumps({"source": [f"shop-{suffix}"]})
        de_events.put_rule(Name=f"hook-{suffix}", EventPattern=pattern)
        target = {"Id": "hook", "Arn": destination, "RoleArn": role["Role"]["Arn"]}
        de_events.put_targets(Rule=f"hook-{suffix}", Targets=[target])
        entry = {"Source": f"shop-{suffix}", "DetailType": "order", "Detail": '{"n": 1}'}
        event_id = de_events.put_events(Entries=[entry])["Entries"][0]["EventId"]
        deadline = time.monotonic() + 60  # the delivery worker of either gateway may take it
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert received, "the API destination of eu-de-1 was never invoked"
        api_key, body = received[0]
        assert api_key == suffix
        event = json.loads(body)
        assert (event["id"], event["region"]) == (event_id, DE)
    finally:
        http.shutdown()
        http.server_close()
        thread.join()
