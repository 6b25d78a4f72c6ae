"""The web console in a real browser: Debian's Chromium driven by Playwright against a real
``andromede serve`` — log in, create a bucket, upload a file, see it listed, download it and
compare the bytes, switch to French, log out; a bucket's notification filters shown and the
default subnet made again from the VPCs page; the account's Block Public Access set from its
page; a secret stored, its value retrieved and the secret deleted from the Secrets pages; a log
group made, a data protection policy put on it and its events read masked, then unmasked
(session 52), and an EventBridge rule made; an Auto Scaling group made with
a mixed instances policy and the policy changed (session 51); a DynamoDB table's items scanned
with a filter and one edited by an update expression (session 54).

The browser, the console user and the signed-in page are tests/support/console_browser.py's
(skipped without Chromium or Playwright, as it says).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from andromede.iam import totp
from e2e.iam_helpers import client_for, new_tenant
from support.console_browser import console_page, console_user, sign_in
from support.rawclient import RawClient
from support.saml import XMLSEC1, IdentityProvider, b64
from support.server import REGION, ServerProcess


def test_log_in_upload_download_switch_language_log_out(
    browser: Any, server: ServerProcess, tmp_path: Path
) -> None:
    tenant = new_tenant(server, "console")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "alice",
        "storage",
        '{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}',
    )
    payload = os.urandom(300 * 1024 + 7)
    upload = tmp_path / "report.bin"
    upload.write_bytes(payload)
    bucket = f"console-{uuid.uuid4().hex[:12]}"

    with console_page(browser, server, accept_downloads=True) as (page, console, reported):
        page.goto(f"{console}/")
        assert page.url == f"{console}/login"
        sign_in(page, console, tenant.account, "alice")

        page.fill("input[name=name]", bucket)
        page.click("#create-bucket")
        page.wait_for_url(f"{console}/buckets")
        page.click(f"text={bucket}")
        page.wait_for_url(f"{console}/buckets/{bucket}")

        page.set_input_files("input[name=file]", str(upload))
        page.click("#upload")
        page.wait_for_url(f"{console}/buckets/{bucket}")
        row = page.locator("tr.object", has_text="report.bin")
        assert row.count() == 1
        assert str(len(payload)) in row.inner_text() and "SSE-S3" in row.inner_text()

        with page.expect_download() as download_info:
            row.locator("a.download").click()
        download = download_info.value
        assert download.suggested_filename == "report.bin"
        assert Path(download.path()).read_bytes() == payload

        # htmx loaded and boosted the menu (its own attribute on the links it handles).
        page.click("nav a[href='/console/buckets']")
        page.wait_for_url(f"{console}/buckets")
        assert page.evaluate("typeof window.htmx") == "object"
        page.goto(f"{console}/buckets/{bucket}")

        page.click("#language-fr")
        page.wait_for_selector("html[lang=fr]")
        assert "Téléverser" in page.content() and "Se déconnecter" in page.content()

        page.click("#logout")
        page.wait_for_url(f"{console}/login")
        page.goto(f"{console}/buckets")
        assert page.url == f"{console}/login"  # the session ended on the server
        assert reported == []
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    assert s3.get_object(Bucket=bucket, Key="report.bin")["Body"].read() == payload


def test_an_iam_user_made_in_the_console_signs_its_own_requests(
    browser: Any, server: ServerProcess
) -> None:
    """IAM through the console: a user created, an access key made (its secret read off the
    page, once) that then signs boto3's calls, and an MFA device assigned from the QR page's
    seed — with no script error or CSP violation on the way (the QR code is inline SVG)."""
    tenant = new_tenant(server, "console-iam")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "admin",
        "iam",
        '{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": ["iam:*", "s3:ListAllMyBuckets"], "Resource": "*"}]}',
    )
    with console_page(browser, server) as (page, console, reported):
        sign_in(page, console, tenant.account, "admin")
        page.click("nav a[href='/console/iam/users']")
        page.wait_for_url(f"{console}/iam/users")
        page.fill("input[name=name]", "builder")
        page.click("#create-user")
        page.wait_for_url(f"{console}/iam/users")
        page.click("text=builder")
        page.wait_for_url(f"{console}/iam/users/builder")

        page.click("#create-access-key")
        page.wait_for_selector("#new-access-key")
        key_id = page.locator("#new-access-key code").first.inner_text()
        secret = page.inner_text("#new-secret")
        page.click("#assign-mfa")
        page.wait_for_selector("#mfa-qr svg")
        assert page.locator("#mfa-qr svg").bounding_box() is not None  # drawn, not blocked
        seed = totp.seed_from_base32(page.inner_text("#mfa-seed"))
        step = totp.time_step(time.time())
        page.fill("input[name=code1]", totp.totp(seed, step - 1))
        page.fill("input[name=code2]", totp.totp(seed, step))
        page.click("#enable-mfa")
        page.wait_for_url(f"{console}/iam/users/builder")
        assert f"arn:aws:iam::{tenant.account}:mfa/builder" in page.content()
        assert secret not in page.content()
        assert reported == [], reported
    builder = client_for(server, "sts", key_id, secret)
    caller = builder.get_caller_identity()
    assert caller["Arn"] == f"arn:aws:iam::{tenant.account}:user/builder"


def test_a_saml_identity_provider_signs_its_user_in(browser: Any, server: ServerProcess) -> None:
    """The IdP's page, another site, posts the Response to the console (as IdPs do); the
    answer sets the session cookie (SameSite=Strict) and moves on from a page of the console's
    own, so that the cookie goes with the next request and the user lands signed in."""
    if XMLSEC1 is None:
        pytest.skip("xmlsec1 is not installed")
    tenant = new_tenant(server, "console-saml")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    idp = IdentityProvider()
    provider = iam.create_saml_provider(Name="corp", SAMLMetadataDocument=idp.metadata())
    provider_arn = provider["SAMLProviderArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithSAML",
            }
        ],
    }
    role = iam.create_role(RoleName="staff", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(
        RoleName="staff",
        PolicyName="list",
        PolicyDocument='{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}',
    )
    signed = b64(idp.response(now=time.time(), roles=[f"{role['Arn']},{provider_arn}"]))
    with console_page(browser, server) as (page, console, _):
        # What an IdP's page does after its own sign-in: a form posted to the service.
        page.set_content(
            f'<form method="post" action="{console}/saml">'
            f'<input type="hidden" name="SAMLResponse" value="{signed}">'
            '<button id="post" type="submit">Continue</button></form>'
        )
        page.click("#post")
        page.wait_for_url(f"{console}/buckets")
        assert "assumed-role/staff/alice" in page.content()


def test_notification_filters_and_create_default_subnet_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """Two of the console's pages as a user sees them: a bucket's notification rule with RGW's
    metadata and tag filters (put with a raw signed request, botocore's model has neither)
    shows each filter (decision 0132, increment 5); the default subnet deleted with boto3, the
    VPCs page offers "Create default subnet", whose click makes one EC2 then lists (decision
    0137) — with no script error or CSP violation on the way."""
    tenant = new_tenant(server, "console-gaps")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "ops",
        "ops",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["s3:*", "sns:*", "ec2:*"], "Resource": "*"}]}',
    )
    sns = client_for(server, "sns", tenant.access_key_id, tenant.secret_access_key)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    ec2 = client_for(server, "ec2", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"console-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    arn = sns.create_topic(Name="events", Attributes={"push-endpoint": "https://hooks.example/"})[
        "TopicArn"
    ]
    configuration = (
        "<NotificationConfiguration><TopicConfiguration><Id>blue-ops</Id>"
        f"<Topic>{arn}</Topic><Event>s3:ObjectCreated:*</Event><Filter>"
        "<S3Key><FilterRule><Name>prefix</Name><Value>logs/</Value></FilterRule></S3Key>"
        "<S3Metadata><FilterRule><Name>x-amz-meta-color</Name><Value>blue</Value></FilterRule>"
        "</S3Metadata><S3Tags><FilterRule><Name>team</Name><Value>ops</Value></FilterRule>"
        "</S3Tags></Filter></TopicConfiguration></NotificationConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(configuration, usedforsecurity=False).digest()).decode()
    raw = RawClient(
        "127.0.0.1", server.port, tenant.access_key_id, tenant.secret_access_key, REGION
    )
    put = raw.request("PUT", f"/{bucket}", "notification=", {"Content-MD5": md5}, configuration)
    assert put.status == 200, put.body
    default_for_az = [{"Name": "default-for-az", "Values": ["true"]}]
    (old,) = ec2.describe_subnets(Filters=default_for_az)["Subnets"]
    ec2.delete_subnet(SubnetId=old["SubnetId"])

    with console_page(browser, server) as (page, console, reported):
        sign_in(page, console, tenant.account, "ops")

        page.goto(f"{console}/buckets/{bucket}/settings")
        row = page.locator("#notification-blue-ops")
        assert row.locator("td.prefix").inner_text() == "logs/"
        assert row.locator("td.metadata").inner_text() == "x-amz-meta-color=blue"
        assert row.locator("td.tags").inner_text() == "team=ops"

        page.goto(f"{console}/vpcs")
        assert page.locator("tr.subnet").count() == 0
        page.click("#create-default-subnet")
        page.wait_for_url(f"{console}/vpcs")
        page.wait_for_selector("tr.subnet")
        assert page.locator("#create-default-subnet").count() == 0

        page.goto(f"{console}/block-public-access")
        assert not page.locator("#switch-BlockPublicPolicy").is_checked()
        page.check("#switch-BlockPublicPolicy")
        page.click("#save-account-block")
        page.wait_for_url(f"{console}/block-public-access")
        assert page.locator("#switch-BlockPublicPolicy").is_checked()
        assert not page.locator("#switch-BlockPublicAcls").is_checked()
        assert reported == [], reported
    (made,) = ec2.describe_subnets(Filters=default_for_az)["Subnets"]
    assert made["SubnetId"] != old["SubnetId"] and made["CidrBlock"] == old["CidrBlock"]
    # The switch the page set is the account's, as S3 Control answers a signed client (0152).
    block = raw.request(
        "GET", "/v20180820/configuration/publicAccessBlock", "",
        {"x-amz-account-id": tenant.account},
    )  # fmt: skip
    assert block.status == 200, block.body
    assert b"<BlockPublicPolicy>true</BlockPublicPolicy>" in block.body
    assert b"<BlockPublicAcls>false</BlockPublicAcls>" in block.body


def test_queue_settings_vpc_endpoint_and_subscription_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """Session 47's forms as a user drives them: a queue's settings saved (a dead-letter queue
    chosen from the account's) and a FIFO queue's throughput refused by SQS's combination
    rule, shown as SQS's error; a Gateway endpoint created from the endpoints page, its route
    tables chosen in a multiple select, then deleted; a queue subscribed to a topic and
    unsubscribed — each checked with boto3, with no script error or CSP violation."""
    tenant = new_tenant(server, "console-47")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "ops",
        "ops",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["sqs:*", "sns:*", "ec2:*", "kms:List*", "s3:ListAllMyBuckets"], '
        '"Resource": "*"}]}',
    )
    sqs = client_for(server, "sqs", tenant.access_key_id, tenant.secret_access_key)
    sns = client_for(server, "sns", tenant.access_key_id, tenant.secret_access_key)
    ec2 = client_for(server, "ec2", tenant.access_key_id, tenant.secret_access_key)
    jobs = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    dead = sqs.create_queue(QueueName="dead")["QueueUrl"]
    sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic_arn = sns.create_topic(Name="events")["TopicArn"]
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    (table,) = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "RouteTables"
    ]
    flow = "session 47 browser flows"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "ops")

        page.goto(f"{console}/queues")
        page.click("#queue-jobs a")
        page.wait_for_url(f"{console}/queues/jobs")
        page.fill("input[name=VisibilityTimeout]", "75")
        page.select_option("select[name=dead_letter_arn]", dead_arn)
        page.fill("input[name=max_receive_count]", "4")
        page.click("#save-queue")
        page.wait_for_url(f"{console}/queues/jobs")
        assert page.input_value("input[name=VisibilityTimeout]") == "75"

        page.goto(f"{console}/queues/orders.fifo")
        page.select_option("select[name=throughput_limit]", "perMessageGroupId")
        page.click("#save-queue")
        page.wait_for_selector("p.error")
        assert "perMessageGroupId is allowed only when" in page.inner_text("p.error")

        page.goto(f"{console}/vpc-endpoints")
        page.select_option("select[name=endpoint_type]", "Gateway")
        page.select_option("select[name=vpc_id]", vpc["VpcId"])
        page.select_option("select[name=route_table_id]", [table["RouteTableId"]])
        page.fill("#create-vpc-endpoint-form input[name=name]", "to-s3")
        page.click("#create-vpc-endpoint")
        page.wait_for_url(f"{console}/vpc-endpoints")
        (made,) = ec2.describe_vpc_endpoints()["VpcEndpoints"]
        assert made["RouteTableIds"] == [table["RouteTableId"]]
        page.click(f"#vpc-endpoint-{made['VpcEndpointId']} a")
        page.wait_for_url(f"{console}/vpc-endpoints/{made['VpcEndpointId']}")
        page.check("input[name=confirm]")
        page.click("button.danger")
        page.wait_for_url(f"{console}/vpc-endpoints")
        assert page.locator("tr.vpc-endpoint").count() == 0

        page.goto(f"{console}/topics")
        page.click("#topic-events a")
        page.wait_for_url(f"{console}/topics/events")
        page.select_option("select[name=queue_arn]", label="jobs")
        page.click("#subscribe")
        page.wait_for_url(f"{console}/topics/events")
        assert page.locator("tr.subscription td.protocol").inner_text() == "sqs"
        (subscribed,) = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        page.check("tr.subscription input[name=confirm]")
        page.click("tr.subscription button.danger")
        page.wait_for_url(f"{console}/topics/events")
        assert "No subscriptions." in page.content()
        # The refused FIFO form's answer (400) is the one resource the browser reports.
        assert [r for r in reported if "status of 400" not in r] == [], reported
    held = sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["All"])["Attributes"]
    assert held["VisibilityTimeout"] == "75"
    assert json.loads(held["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_arn,
        "maxReceiveCount": 4,
    }
    assert subscribed["Protocol"] == "sqs" and subscribed["Endpoint"].endswith(":jobs")
    assert sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"] == []
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []


def test_a_metric_put_with_boto3_is_listed_and_charted_and_alarmed(
    browser: Any, server: ServerProcess
) -> None:
    """A metric put with boto3 (CloudWatch over RPC v2 CBOR) is listed on the Metrics page and
    its chart drawn by the console (GetMetricStatistics over JSON 1.0, in process): as many
    points as datapoints, the statistic changed from the page's form; from the chart, an
    alarm created on it notifying a topic made with boto3, listed on the Alarms page and read
    back with boto3 as typed (decision 0111, session 47: alarms); its state set by hand and
    its history filtered, then a dashboard created with a two-series metric widget and a
    Markdown text widget (session 48); no script error or CSP violation."""
    tenant = new_tenant(server, "console-metrics")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "watcher",
        "metrics",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["cloudwatch:ListMetrics", "cloudwatch:GetMetricStatistics", '
        '"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", '
        '"cloudwatch:DescribeAlarmHistory", "cloudwatch:SetAlarmState", '
        '"cloudwatch:ListTagsForResource", "cloudwatch:TagResource", '
        '"cloudwatch:UntagResource", "cloudwatch:PutDashboard", "cloudwatch:GetDashboard", '
        '"cloudwatch:ListDashboards", "sns:ListTopics", '
        '"s3:ListAllMyBuckets"], "Resource": "*"}]}',
    )
    sns = client_for(server, "sns", tenant.access_key_id, tenant.secret_access_key)
    topic_arn = sns.create_topic(Name="orders-pager")["TopicArn"]
    cloudwatch = client_for(server, "cloudwatch", tenant.access_key_id, tenant.secret_access_key)
    now = int(time.time())
    minute = now - now % 60
    cloudwatch.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {
                "MetricName": "Orders",
                "Dimensions": [{"Name": "Stage", "Value": "prod"}],
                "Timestamp": minute - 60 * back,
                "Value": value,
                "Unit": "Count",
            }
            for back, value in ((2, 4.0), (1, 8.0), (0, 6.0))
        ],
    )
    with console_page(browser, server, timed="metrics browser flow") as (page, console, reported):
        sign_in(page, console, tenant.account, "watcher")
        page.click("header nav >> text=Metrics")
        page.wait_for_url(f"{console}/metrics")
        assert page.locator("h2.metric-namespace").inner_text() == "Shop"
        page.click("tr.metric a")
        page.wait_for_url("**/metrics/graph?**")
        points = page.get_attribute("#metric-chart polyline.series", "points") or ""
        assert len(points.split()) == 3
        assert page.locator("#metric-chart circle.marker").count() == 3
        assert page.locator("#metric-chart text.unit").first.text_content() == "Count"
        page.click("#metric-datapoints summary")  # the table, folded under the chart
        values = page.locator("tr.datapoint td.value").all_inner_texts()
        assert values == ["4", "8", "6"]
        page.select_option("select[name=stat]", "Sum")
        page.select_option("select[name=range]", "1h")
        page.click("#show-metric")
        page.wait_for_url("**stat=Sum**")
        assert page.locator("tr.datapoint td.value").all_text_contents() == ["4", "8", "6"]
        assert "Sum · Period 1 min" in page.inner_text("#metric-summary")
        alarm_started = time.monotonic()
        page.click("#create-alarm-link")
        page.wait_for_url("**/metrics/alarm?**")
        page.fill("input[name=alarm_name]", "orders-high")
        page.fill("input[name=threshold]", "7")
        page.fill("input[name=evaluation_periods]", "3")
        page.fill("input[name=datapoints_to_alarm]", "2")
        page.select_option("select[name=comparison]", "GreaterThanOrEqualToThreshold")
        page.select_option("select[name=topic_arn]", topic_arn)
        page.click("#create-alarm")
        page.wait_for_url(f"{console}/alarms/orders-high")
        assert page.inner_text("#alarm-condition") == "Sum >= 7"
        assert page.locator("#alarm-chart line.threshold").count() == 1
        page.click("header nav >> text=Alarms")
        page.wait_for_url(f"{console}/alarms")
        assert page.locator("tr.alarm a").all_inner_texts() == ["orders-high"]
        assert page.locator("tr.alarm td.state").inner_text() == "Insufficient data"
        alarm = cloudwatch.describe_alarms(AlarmNames=["orders-high"])["MetricAlarms"][0]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
            "Shop", "Orders", "Sum",
        )  # fmt: skip
        assert alarm["Dimensions"] == [{"Name": "Stage", "Value": "prod"}]
        assert (alarm["Period"], alarm["Threshold"], alarm["AlarmActions"]) == (
            60, 7.0, [topic_arn],
        )  # fmt: skip
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 2)
        # Edited from its page: the form pre-filled, saved under the same name.
        page.click("tr.alarm a")
        page.click("#edit-alarm")
        page.wait_for_url("**/metrics/alarm?edit=orders-high")
        assert page.input_value("input[name=threshold]") == "7"
        page.fill("input[name=threshold]", "9")
        page.select_option("select[name=ok_topic_arn]", topic_arn)
        page.click("#save-alarm")
        page.wait_for_url(f"{console}/alarms/orders-high")
        assert page.inner_text("#alarm-condition") == "Sum >= 9"
        alarm = cloudwatch.describe_alarms(AlarmNames=["orders-high"])["MetricAlarms"][0]
        assert (alarm["Threshold"], alarm["OKActions"], alarm["AlarmActions"]) == (
            9.0, [topic_arn], [topic_arn],
        )  # fmt: skip
        # Its state set by hand (SetAlarmState), shown in the history filtered by type.
        session48_started = time.monotonic()
        page.select_option("#alarm-state-form select[name=state]", "ALARM")
        page.fill("#alarm-state-form input[name=reason]", "Drill from the console")
        page.click("#set-state")
        page.wait_for_url(f"{console}/alarms/orders-high")
        assert page.inner_text("#alarm-state strong") == "In alarm"
        assert page.inner_text("#alarm-reason") == "Drill from the console"
        page.select_option("select[name=history_type]", "StateUpdate")
        page.click("#history-filter button")
        page.wait_for_url("**history_type=StateUpdate**")
        kinds = page.locator("tr.history td:nth-child(2)").all_inner_texts()
        assert kinds == ["StateUpdate"]
        alarm = cloudwatch.describe_alarms(AlarmNames=["orders-high"])["MetricAlarms"][0]
        assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "Drill from the console")
        # A dashboard made from the console: one metric widget of two lines drawn as one
        # chart of two series with a legend, and a text widget's Markdown rendered.
        cloudwatch.put_metric_data(
            Namespace="Shop",
            MetricData=[{"MetricName": "Orders", "Dimensions": [{"Name": "Stage",
                         "Value": "test"}], "Timestamp": minute, "Value": 3.0, "Unit": "Count"}],
        )  # fmt: skip
        body = json.dumps({"widgets": [
            {"type": "metric", "x": 0, "y": 0, "width": 24, "height": 6,
             "properties": {"title": "Orders by stage", "region": REGION, "stat": "Sum",
                            "period": 60, "metrics": [["Shop", "Orders", "Stage", "prod"],
                                                      [".", ".", ".", "test"]]}},
            {"type": "text", "x": 0, "y": 6, "width": 24, "height": 2,
             "properties": {"markdown": "## Runbook\n<script>alert(1)</script> **calm**"}},
        ]})  # fmt: skip
        page.click("header nav >> text=Dashboards")
        page.wait_for_url(f"{console}/dashboards")
        page.click("#new-dashboard")
        page.fill("input[name=name]", "shop-ops")
        page.fill("textarea[name=body]", body)
        page.click("#save-dashboard")
        page.wait_for_url(f"{console}/dashboards/shop-ops")
        assert page.locator("#chart-1 polyline.series").count() == 2
        legend = page.locator("#chart-1-legend li").all_inner_texts()
        assert [one.strip() for one in legend] == [
            "Orders prod · Sum (3)", "Orders test · Sum (1)",
        ]  # fmt: skip
        assert page.inner_text(".widget-markdown h4") == "Runbook"
        assert page.inner_text(".widget-markdown strong") == "calm"
        assert "<script>alert(1)</script>" in page.inner_text(".widget-markdown")
        stored = cloudwatch.get_dashboard(DashboardName="shop-ops")["DashboardBody"]
        assert json.loads(stored) == json.loads(body)
        print(f"session 48 browser flow: {time.monotonic() - session48_started:.1f} s")
        assert reported == [], reported
    print(f"alarm browser flow: {time.monotonic() - alarm_started:.1f} s")


def test_a_secret_stored_read_and_deleted_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """Secrets Manager's pages as a user drives them (session 48): a secret stored from
    key/value rows, its value retrieved with the explicit button (a POST, the page answered
    ``no-store``), its rotation refused without a function (the form kept, decision 0306),
    then scheduled for deletion with a 7-day window — each checked with
    boto3, with no script error or CSP violation; and a SecureString parameter put with boto3
    under the same value, shown only once asked (decision 0236)."""
    tenant = new_tenant(server, "console-secrets")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "keeper",
        "secrets",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["secretsmanager:*", "ssm:*", "kms:List*", "kms:Decrypt", '
        '"s3:ListAllMyBuckets"], '
        '"Resource": "*"}]}',
    )
    sm = client_for(server, "secretsmanager", tenant.access_key_id, tenant.secret_access_key)
    value = uuid.uuid4().hex
    ssm = client_for(server, "ssm", tenant.access_key_id, tenant.secret_access_key)
    ssm.put_parameter(Name="db-password", Value=value, Type="SecureString")
    with console_page(browser, server, timed="secrets browser flow") as (page, console, reported):
        retrieved: list[Any] = []
        page.on("response", lambda r: retrieved.append(r) if r.url.endswith("/value") else None)
        sign_in(page, console, tenant.account, "keeper")
        page.click("header nav >> text=Secrets")
        page.wait_for_url(f"{console}/secrets")
        page.fill("#create-secret-form input[name=name]", "prod/api")
        page.fill("#create-secret-form input[name=description]", "the API's token")
        page.fill("#create-secret-form input[name=pair_key_1]", "token")
        page.fill("#create-secret-form input[name=pair_value_1]", value)
        page.click("#create-secret")
        page.wait_for_url(f"{console}/secrets/prod%2Fapi")
        assert "AWSCURRENT" in page.inner_text("#secret-versions")
        assert value not in page.content()
        page.click("#retrieve-value")
        page.wait_for_selector("#secret-value")
        assert json.loads(page.inner_text("#secret-value")) == {"token": value}
        (answer,) = retrieved
        assert answer.request.method == "POST" and answer.headers["cache-control"] == "no-store"
        page.goto(f"{console}/secrets/prod%2Fapi")
        # Rotation (decision 0306): no function chosen, Secrets Manager's refusal, as typed.
        page.fill("#rotation-form input[name=schedule]", "rate(10 days)")
        page.uncheck("#rotation-form input[name=immediately]")
        page.click("#save-rotation")
        assert "(InvalidRequestException)" in page.inner_text("p[role=alert]")
        assert page.input_value("#rotation-form input[name=schedule]") == "rate(10 days)"
        assert not page.is_checked("#rotation-form input[name=immediately]")
        # The refusal's page is a 400, which the browser reports; nothing else may be.
        assert [r for r in reported if "status of 400" not in r] == [], reported
        reported.clear()
        page.fill("#delete-secret-form input[name=days]", "7")
        page.check("#delete-secret-form input[name=confirm]")
        page.click("#delete-secret")
        page.wait_for_url(f"{console}/secrets/prod%2Fapi")
        assert "Marked for deletion on" in page.inner_text("#secret-deleted")
        # A SecureString (decision 0236): hidden until "Show value", decrypted as the user.
        page.goto(f"{console}/parameters/db-password")
        assert value not in page.content()
        page.click("#show-value")
        page.wait_for_selector("#parameter-value")
        assert page.inner_text("#parameter-value") == value
        assert reported == [], reported
    described = sm.describe_secret(SecretId="prod/api")
    assert described["Description"] == "the API's token" and "DeletedDate" in described
    assert sm.list_secrets()["SecretList"] == []  # marked for deletion: not listed by default
    assert server.log_path is not None and value not in server.log_path.read_text()


def test_a_log_group_read_and_a_rule_made_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """CloudWatch Logs' and EventBridge's pages as a user drives them (session 48): a log
    group made from its page, a data protection policy put on it (session 52), events put with
    boto3 (one holding HTML) read on the stream's page as text, an e-mail address masked then
    shown by the "Unmask" toggle, a rule made with an event pattern, an archive's managed rule
    shown without its change forms (decision 0341) — each checked with boto3, with no script
    error or CSP violation."""
    tenant = new_tenant(server, "console-logs")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "watcher",
        "logs",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["logs:*", "events:*", "kms:List*", "sqs:List*", "sns:List*", '
        '"s3:ListAllMyBuckets"], "Resource": "*"}]}',
    )
    logs = client_for(server, "logs", tenant.access_key_id, tenant.secret_access_key)
    events = client_for(server, "events", tenant.access_key_id, tenant.secret_access_key)
    message = '<b id="injected">bold</b> ERROR disk full'
    email = "alice@example.com"
    flow = "logs and rules browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "watcher")
        page.click("header nav >> text=Log groups")
        page.wait_for_url(f"{console}/log-groups")
        page.fill("#create-log-group-form input[name=name]", "/app/web")
        page.select_option("#create-log-group-form select[name=retention]", "14")
        page.click("#create-log-group")
        page.wait_for_url(f"{console}/log-groups/group?name=%2Fapp%2Fweb")
        assert "14 days" in page.inner_text("#log-group-retention")
        # Session 52: a data protection policy put from the group's page (decision 0211).
        page.check("#managed-identifiers input[name=managed_EmailAddress]")
        page.click("#put-protection")
        page.wait_for_selector("#data-protection-managed:has-text('EmailAddress')")
        logs.create_log_stream(logGroupName="/app/web", logStreamName="web-1")
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName="/app/web",
            logStreamName="web-1",
            logEvents=[
                {"timestamp": now, "message": message},
                {"timestamp": now + 1, "message": f"mail {email}"},
            ],
        )
        page.reload()
        page.click("#log-streams >> text=web-1")
        page.wait_for_selector("#log-events")
        assert message in page.inner_text("#log-events")  # shown as text, not markup
        assert page.query_selector("#injected") is None
        shown = page.inner_text("#log-events")
        assert f"mail {'*' * len(email)}" in shown and email not in shown  # masked
        page.click("#log-unmask-toggle")  # the watcher may logs:Unmask (logs:*)
        page.wait_for_selector(f"#log-events:has-text('{email}')")
        page.click("header nav >> text=EventBridge rules")
        page.wait_for_url(f"{console}/event-rules")
        page.fill("#create-rule-form input[name=name]", "uploads")
        page.fill("#create-rule-form textarea[name=pattern]", '{"source": ["aws.s3"]}')
        page.click("#create-rule")
        page.wait_for_url(f"{console}/event-rules/rule?bus=default&name=uploads")
        assert page.inner_text("#event-rule-state") == "ENABLED"
        # Session 50: the rule edited from its page (the form folded under "Edit the rule").
        page.click("#edit-rule summary")
        page.fill("#edit-rule-form input[name=description]", "uploads to S3")
        page.select_option("#edit-rule-form select[name=state]", "DISABLED")
        page.click("#save-rule")
        page.wait_for_selector("#event-rule-state:has-text('DISABLED')")
        # Decision 0341: an archive's managed rule, listed and shown with its ManagedBy and
        # without the forms that would change it.
        bus_arn = events.describe_event_bus()["Arn"]
        events.create_archive(ArchiveName="kept", EventSourceArn=bus_arn)
        page.goto(f"{console}/event-rules")
        assert "managed by" in page.inner_text("#event-rules")
        page.click("#event-rules >> text=Events-Archive-kept")
        page.wait_for_selector("#event-rule-managed-by")
        assert page.inner_text("#event-rule-managed-by") == "prod.vhs.events.aws.internal"
        assert page.is_visible("#managed-rule-note")
        assert page.query_selector("#delete-rule") is None
        assert page.query_selector("#toggle-rule") is None
        assert page.query_selector(".remove-target") is None
        assert len(page.query_selector_all(".event-target")) == 1
        assert reported == [], reported
    group = logs.describe_log_groups(logGroupNamePrefix="/app/web")["logGroups"][0]
    assert group["retentionInDays"] == 14
    kept = logs.get_data_protection_policy(logGroupIdentifier="/app/web")["policyDocument"]
    assert json.loads(kept)["Statement"][0]["DataIdentifier"] == [
        "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
    ]
    rule = events.describe_rule(Name="uploads")
    assert json.loads(rule["EventPattern"]) == {"source": ["aws.s3"]}
    assert rule["State"] == "DISABLED" and rule["Description"] == "uploads to S3"


def test_a_dynamodb_item_scanned_and_edited_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """DynamoDB's table page as a user drives it (decision 0251): "Scan" sent from the items
    form whose Query field is required (the button skips the check), a filter applied, an
    item's "Edit" opening its forms, an update expression sent — checked with boto3, with no
    script error or CSP violation."""
    tenant = new_tenant(server, "console-dynamodb")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "tabler",
        "tables",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["dynamodb:*", "s3:ListAllMyBuckets"], "Resource": "*"}]}',
    )
    dynamodb = client_for(server, "dynamodb", tenant.access_key_id, tenant.secret_access_key)
    dynamodb.create_table(
        TableName="orders",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName="orders")
    for order, total in (("a-1", "10"), ("a-2", "25")):
        dynamodb.put_item(TableName="orders", Item={"id": {"S": order}, "total": {"N": total}})
    with console_page(browser, server, timed="dynamodb browser flow") as (page, console, reported):
        sign_in(page, console, tenant.account, "tabler")
        page.goto(f"{console}/dynamodb/orders")
        page.fill("#items-form input[name=filter]", "#t > :min")
        page.fill("#items-form textarea[name=filter_names]", '{"#t": "total"}')
        page.fill("#items-form textarea[name=filter_values]", '{":min": {"N": "20"}}')
        page.click("#scan")  # the partition value left empty: Scan is not a Query
        page.wait_for_selector("#items-read")
        (only,) = page.query_selector_all("#items-read tr.item")
        assert json.loads(only.query_selector(".item-json").inner_text())["id"] == {"S": "a-2"}
        only.query_selector(".edit-item").click()
        page.wait_for_selector("#update-item-form")
        page.fill("#update-item-form input[name=update_expression]", "SET #t = #t + :inc")
        page.fill("#update-item-form textarea[name=update_names]", '{"#t": "total"}')
        page.fill("#update-item-form textarea[name=update_values]", '{":inc": {"N": "5"}}')
        page.click("#update-item")
        page.wait_for_url(f"{console}/dynamodb/orders?saved=item#items")
        assert reported == [], reported
    item = dynamodb.get_item(TableName="orders", Key={"id": {"S": "a-2"}})["Item"]
    assert item["total"] == {"N": "30"}


def test_a_mixed_instances_policy_made_and_changed_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """Auto Scaling's console pages as a user drives them (session 51, decision 0209): a group
    made, empty, from the create form with two weighted instance type rows, an On-Demand base
    and percentage and a Spot strategy; its policy shown on its page, then changed from the
    page's form — each checked with boto3, with no script error or CSP violation. The user
    may make the account's Auto Scaling service-linked role (decision 0208's addendum)."""
    tenant = new_tenant(server, "console-mixed")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    statements = [
        {"Effect": "Allow", "Action": ["autoscaling:*", "ec2:Describe*", "s3:ListAllMyBuckets"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:AWSServiceName": "autoscaling.amazonaws.com"}}},
    ]  # fmt: skip
    console_user(
        iam, "fleet", "fleet", json.dumps({"Version": "2012-10-17", "Statement": statements})
    )
    ec2 = client_for(server, "ec2", tenant.access_key_id, tenant.secret_access_key)
    template = ec2.create_launch_template(
        LaunchTemplateName="fleet",
        LaunchTemplateData={"ImageId": "ami-0123456789abcdef0", "InstanceType": "t3.nano"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    scaling = client_for(server, "autoscaling", tenant.access_key_id, tenant.secret_access_key)
    flow = "mixed instances browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "fleet")
        page.goto(f"{console}/auto-scaling-groups")
        form = "#create-group-form"
        page.fill(f"{form} input[name=name]", "fleet")
        page.select_option(f"{form} select[name=template]", template)
        page.select_option(f"{form} select[name=version]", "$Latest")
        page.fill(f"{form} input[name=max_size]", "4")
        page.fill(f"{form} input[name=desired]", "0")
        page.fill(f"{form} input[name=override_type_1]", "t3.nano")
        page.fill(f"{form} input[name=override_weight_1]", "1")
        page.fill(f"{form} input[name=override_type_2]", "t3.micro")
        page.fill(f"{form} input[name=override_weight_2]", "2")
        page.fill(f"{form} input[name=on_demand_base]", "1")
        page.fill(f"{form} input[name=on_demand_percentage]", "25")
        page.select_option(f"{form} select[name=spot_strategy]", "capacity-optimized")
        page.check(f"{form} input[name=capacity_rebalance]")
        page.click("#create-group")
        page.wait_for_url(f"{console}/auto-scaling-groups/fleet")
        shown = page.inner_text("#mixed-policy")
        assert "t3.micro" in shown and "capacity-optimized" in shown
        mixed = "#mixed-form"
        page.fill(f"{mixed} input[name=override_type_2]", "")
        page.fill(f"{mixed} input[name=override_weight_1]", "")
        page.fill(f"{mixed} input[name=override_weight_2]", "")
        page.fill(f"{mixed} input[name=on_demand_percentage]", "50")
        page.select_option(f"{mixed} select[name=spot_strategy]", "lowest-price")
        page.fill(f"{mixed} input[name=spot_pools]", "3")
        page.click("#set-mixed")
        page.wait_for_url(f"{console}/auto-scaling-groups/fleet")
        assert page.inner_text("#mixed-policy .on-demand-percentage") == "50"
        assert reported == [], reported
    [group] = scaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    policy = group["MixedInstancesPolicy"]
    assert policy["LaunchTemplate"]["Overrides"] == [{"InstanceType": "t3.nano"}]
    distribution = policy["InstancesDistribution"]
    assert (distribution["OnDemandBaseCapacity"], distribution["SpotInstancePools"]) == (1, 3)
    assert distribution["OnDemandPercentageAboveBaseCapacity"] == 50
    assert group["CapacityRebalance"] is True  # the change form holds the box ticked
    scaling.delete_auto_scaling_group(AutoScalingGroupName="fleet")
