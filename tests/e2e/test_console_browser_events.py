"""EventBridge's global endpoints in the console (decision 0366) in a real browser: Debian's
Chromium driven by Playwright, with tests/support/console_browser.py's browser, user and
page (skipped without Chromium or Playwright), against an ``andromede serve`` of its own
declaring two Regions (the session's declares one, and an endpoint fails over to a second).
An IAM user reaches the endpoints from the rules page, makes one over a bus of one name in
both Regions (made with boto3) and a Route 53 health check, sees its EndpointId, URL and
state, sees the events' Region turn to the secondary once the check is inverted, turns
replication on with a role and deletes it — each checked with boto3, with no script error or
CSP violation. Decision 0406: another user picks eu-de-1 in the connections page's Region
chooser, makes a connection and an API destination there, sees them absent from the
default Region's page and from its ListConnections, and deletes them in eu-de-1. Decision
0419: a queue and a rule sending to it made in eu-de-1 through the queues' and the rules'
pages' choosers, absent from the default Region, deleted there."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from e2e.iam_helpers import client_for, new_tenant
from support.console_browser import console_page, console_user, sign_in
from support.server import REGION, ServerProcess, running_server

pytestmark = [pytest.mark.e2e]

SECONDARY = "eu-de-1"


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("endpoints") / "data"
    regions = [{"name": REGION}, {"name": SECONDARY}]
    env = {"ANDROMEDE_REGIONS": json.dumps(regions), "ANDROMEDE_WORKERS": "1"}
    with running_server(data_dir, extra_env=env) as server:
        yield server


def _events(server: ServerProcess, region: str, keys: tuple[str, str]) -> Any:
    # Route 53's and EventBridge's models want Regions of 9 characters at least; this
    # deployment's are shorter, which only botocore's own validation minds (decision 0355).
    return boto3.client(
        "events",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )


def _until(check: Any, what: str, seconds: float = 60, on_timeout: Any = None) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, (what, on_timeout() if on_timeout else None)
        time.sleep(0.5)


def test_a_global_endpoint_made_failed_over_and_deleted_in_the_browser(
    browser: Any, two_regions: ServerProcess, tmp_path: Path
) -> None:
    server = two_regions
    tenant = new_tenant(server, "console-endpoints")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam = client_for(server, "iam", *keys)
    allowed = ["events:*", "route53:*", "iam:ListRoles", "iam:PassRole", "s3:ListAllMyBuckets"]
    statement = {"Effect": "Allow", "Action": allowed, "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    console_user(iam, "ops", "endpoints", document)
    suffix = uuid.uuid4().hex[:8]
    bus = f"orders-{suffix}"
    home, other = _events(server, REGION, keys), _events(server, SECONDARY, keys)
    bus_arn = home.create_event_bus(Name=bus)["EventBusArn"]
    other.create_event_bus(Name=bus)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }  # fmt: skip
    role = iam.create_role(RoleName=f"replication-{suffix}",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]  # fmt: skip
    route53 = client_for(server, "route53", *keys)
    check = route53.create_health_check(
        CallerReference=f"ge-{suffix}",
        HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": REGION, "Name": f"no-alarm-{suffix}"},
            "InsufficientDataHealthStatus": "Healthy",
        },
    )["HealthCheck"]["Id"]
    check_arn = f"arn:aws:route53:::healthcheck/{check}"

    flow = "global endpoint browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "ops")
        page.goto(f"{console}/event-rules")
        page.click("#event-endpoints-link")
        page.wait_for_url(f"{console}/event-endpoints")
        assert "No global endpoints yet." in page.inner_text("main")
        page.fill("#create-endpoint-form input[name=name]", f"checkout-{suffix}")
        page.select_option("#endpoint-bus", bus_arn)
        page.select_option("#endpoint-secondary", SECONDARY)
        page.select_option("#endpoint-health-check", check_arn)
        page.uncheck("#endpoint-replication")
        page.click("#create-endpoint")
        page.wait_for_url(f"{console}/event-endpoints/checkout-{suffix}")
        made = home.describe_endpoint(Name=f"checkout-{suffix}")
        assert made["ReplicationConfig"] == {"State": "DISABLED"}
        assert page.inner_text("#endpoint-state") == "ACTIVE"
        assert page.inner_text("#endpoint-id") == made["EndpointId"]
        assert page.inner_text("#endpoint-url") == made["EndpointUrl"]
        assert page.inner_text("#endpoint-routing") == f"the primary Region ({REGION})"

        # The check inverted once a round has observed it: events now go to the secondary.
        _until(
            lambda: route53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"],
            "the gateway's rounds never checked the health check",
        )
        route53.update_health_check(HealthCheckId=check, Inverted=True)

        def failed_over() -> bool:
            page.reload()
            return page.inner_text("#endpoint-routing") == f"the secondary Region ({SECONDARY})"

        _until(
            failed_over,
            "the page never showed the failover",
            on_timeout=lambda: (
                page.inner_text("#event-endpoint"),
                route53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"],
            ),
        )
        assert page.inner_text("#endpoint-health") == "Unhealthy"

        page.check("#failover-form #endpoint-replication")
        page.select_option("#failover-form #endpoint-role", role)
        page.click("#update-endpoint")
        page.wait_for_selector("#endpoint-replication-state:has-text('ENABLED')")
        edited = home.describe_endpoint(Name=f"checkout-{suffix}")
        assert edited["ReplicationConfig"] == {"State": "ENABLED"} and edited["RoleArn"] == role

        page.check("form.inline input[name=confirm]")
        page.click("form.inline button.danger")
        page.wait_for_url(f"{console}/event-endpoints")
        assert home.list_endpoints()["Endpoints"] == []
        assert reported == [], reported


def test_a_connection_and_an_api_destination_in_another_region_in_the_browser(
    browser: Any, two_regions: ServerProcess
) -> None:
    server = two_regions
    tenant = new_tenant(server, "console-connections")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam = client_for(server, "iam", *keys)
    allowed = ["events:*", "secretsmanager:*", "kms:ListAliases", "kms:ListKeys",
               "s3:ListAllMyBuckets"]  # fmt: skip
    statement = {"Effect": "Allow", "Action": allowed, "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    console_user(iam, "ops", "connections", document)
    suffix = uuid.uuid4().hex[:8]
    name, hook = f"partner-{suffix}", f"hook-{suffix}"
    home, other = _events(server, REGION, keys), _events(server, SECONDARY, keys)

    with console_page(browser, server, timed="regional connections flow") as (
        page, console, reported,
    ):  # fmt: skip
        sign_in(page, console, tenant.account, "ops")
        page.goto(f"{console}/event-connections")
        page.select_option("#region-choice", SECONDARY)
        page.click("#choose-region")
        page.wait_for_url(f"{console}/event-connections?region={SECONDARY}")
        assert page.inner_text("#region-shown") == SECONDARY
        form = "#create-connection-form-api_key"
        page.fill(f"{form} input[name=name]", name)
        page.fill(f"{form} input[name=api_key_name]", "x-api-key")
        page.fill(f"{form} input[name=api_key_value]", f"key-{suffix}")
        page.click("#create-api_key-connection")
        page.wait_for_url(f"{console}/event-connections?region={SECONDARY}")
        page.wait_for_selector(f"#connection-{name}")
        made = other.describe_connection(Name=name)
        assert f":events:{SECONDARY}:" in made["ConnectionArn"]
        assert [c["Name"] for c in home.list_connections()["Connections"]] == []

        form = "#create-destination-form"
        page.fill(f"{form} input[name=name]", hook)
        page.select_option(f"{form} select[name=connection_arn]", made["ConnectionArn"])
        page.fill(f"{form} input[name=endpoint]", "https://hooks.example.com/orders")
        page.click("#create-destination")
        page.wait_for_url(f"{console}/event-connections?region={SECONDARY}")
        page.wait_for_selector(f"#destination-{hook}")
        assert other.describe_api_destination(Name=hook)["ConnectionArn"] == made["ConnectionArn"]
        assert home.list_api_destinations()["ApiDestinations"] == []

        # The default Region's page: neither is there.
        page.select_option("#region-choice", REGION)
        page.click("#choose-region")
        page.wait_for_url(f"{console}/event-connections?region={REGION}")
        assert page.locator(f"#connection-{name}").count() == 0
        assert page.locator(f"#destination-{hook}").count() == 0
        assert "No connections yet." in page.inner_text("main")

        # Deleted in eu-de-1, each after its ticked box.
        page.goto(f"{console}/event-connections?region={SECONDARY}")
        for row in (f"#destination-{hook}", f"#connection-{name}"):
            deletion = page.locator(f"{row} form.inline:has(input[name=confirm])")
            deletion.locator("input[name=confirm]").check()
            deletion.locator("button.danger").click()
            page.wait_for_url(f"{console}/event-connections?region={SECONDARY}")
            page.wait_for_selector(row, state="detached")
        assert other.list_api_destinations()["ApiDestinations"] == []
        assert other.list_connections()["Connections"] == []
        assert reported == [], reported


def test_a_queue_and_a_rule_in_another_region_in_the_browser(
    browser: Any, two_regions: ServerProcess
) -> None:
    """Decision 0419: the queues' and the rules' Region choosers; a queue made in eu-de-1,
    a rule there sending to it, both absent from the default Region."""
    server = two_regions
    tenant = new_tenant(server, "console-regional-rules")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam = client_for(server, "iam", *keys)
    allowed = ["events:*", "sqs:*", "kms:ListAliases", "kms:ListKeys", "s3:ListAllMyBuckets"]
    statement = {"Effect": "Allow", "Action": allowed, "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    console_user(iam, "ops", "rules", document)
    suffix = uuid.uuid4().hex[:8]
    queue, rule = f"orders-{suffix}", f"big-{suffix}"
    home, other = _events(server, REGION, keys), _events(server, SECONDARY, keys)
    queues_home, queues_other = (
        boto3.client(
            "sqs", endpoint_url=server.endpoint, region_name=region,
            aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
            config=Config(retries={"max_attempts": 1}),
        )
        for region in (REGION, SECONDARY)
    )  # fmt: skip

    with console_page(browser, server, timed="regional queue and rule flow") as (
        page, console, reported,
    ):  # fmt: skip
        sign_in(page, console, tenant.account, "ops")
        page.goto(f"{console}/queues")
        page.select_option("#region-choice", SECONDARY)
        page.click("#choose-region")
        page.wait_for_url(f"{console}/queues?region={SECONDARY}")
        page.fill("#create-queue-form input[name=name]", queue)
        page.click("#create-queue")
        page.wait_for_url(f"{console}/queues?region={SECONDARY}")
        page.wait_for_selector(f"#queue-{queue}")
        url = queues_other.get_queue_url(QueueName=queue)["QueueUrl"]
        arn = queues_other.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        assert f":sqs:{SECONDARY}:" in arn
        assert queues_home.list_queues().get("QueueUrls", []) == []

        page.goto(f"{console}/event-rules")
        page.select_option("#region-choice", SECONDARY)
        page.click("#choose-region")
        page.wait_for_url(f"{console}/event-rules?region={SECONDARY}")
        page.fill("#create-rule-form input[name=name]", rule)
        page.fill("#create-rule-form textarea[name=pattern]", '{"source": ["shop"]}')
        page.click("#create-rule")
        page.wait_for_url(f"{console}/event-rules/rule?bus=default&name={rule}&region={SECONDARY}")
        page.select_option("#put-target-form select[name=target_arn]", arn)
        page.click("#put-target")
        page.wait_for_url(f"{console}/event-rules/rule?bus=default&name={rule}&region={SECONDARY}")
        page.wait_for_selector("#event-targets")
        targets = other.list_targets_by_rule(Rule=rule)["Targets"]
        assert [t["Arn"] for t in targets] == [arn]
        assert [r["Name"] for r in home.list_rules()["Rules"]] == []

        # The default Region's pages: neither is there.
        page.goto(f"{console}/event-rules")
        assert page.locator(f"text={rule}").count() == 0
        page.goto(f"{console}/queues")
        assert page.locator(f"#queue-{queue}").count() == 0

        # Deleted in eu-de-1: the rule's target, the rule, then the queue.
        page.goto(f"{console}/event-rules/rule?bus=default&name={rule}&region={SECONDARY}")
        page.click("#event-targets button.remove-target")
        page.wait_for_url(f"{console}/event-rules/rule?bus=default&name={rule}&region={SECONDARY}")
        page.click("#delete-rule-form button")
        page.wait_for_url(f"{console}/event-rules?region={SECONDARY}")
        assert other.list_rules()["Rules"] == []
        page.goto(f"{console}/queues?region={SECONDARY}")
        deletion = page.locator(f"#queue-{queue} form.inline:has(input[name=confirm])")
        deletion.locator("input[name=confirm]").check()
        deletion.locator("button.danger").click()
        page.wait_for_url(f"{console}/queues?region={SECONDARY}")
        page.wait_for_selector(f"#queue-{queue}", state="detached")
        assert queues_other.list_queues().get("QueueUrls", []) == []
        assert reported == [], reported
