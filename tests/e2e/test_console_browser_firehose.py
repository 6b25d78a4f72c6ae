"""A Firehose stream's processors and bucket changed from its console page (decision 0359) in
a real browser: Debian's Chromium driven by Playwright against the session's ``andromede
serve``, with tests/support/console_browser.py's browser, user and page (skipped without
Chromium or Playwright). A user whose IAM allows Firehose asks DELIMITED de-aggregation
without a delimiter (Firehose's refusal shown, the form as typed), then with a tab and a
delimiter appended, then moves the stream into another bucket — each checked with boto3, with
no script error or CSP violation."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from e2e.iam_helpers import Tenant, client_for, new_tenant
from support.console_browser import console_page, console_user, sign_in
from support.delivery_streams import active_stream, delivered_bodies
from support.server import REGION, ServerProcess
from support.service_roles import service_role

pytestmark = [pytest.mark.e2e]

_DEMO_FIELDS = {"ticker_symbol", "sector", "change", "price"}  # the console's demo records
_CONSOLE_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
    '"Action": ["firehose:*", "s3:ListAllMyBuckets", "iam:ListRoles", "iam:PassRole"], '
    '"Resource": "*"}]}'
)


def _console_account(server: ServerProcess, name: str, user: str) -> tuple[Tenant, Any, Any, Any]:
    """A new account with ``user``, allowed Firehose and the lists its page offers, signing in
    to the console; its IAM, S3 and Firehose clients as the account's root."""
    tenant = new_tenant(server, name)
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam: Any = client_for(server, "iam", *keys)
    console_user(iam, user, "firehose", _CONSOLE_POLICY)
    s3, firehose = client_for(server, "s3", *keys), client_for(server, "firehose", *keys)
    return tenant, iam, s3, firehose


def _active(
    firehose: Any, name: str, role: str, bucket: str, hints: dict[str, int], prefix: str = ""
) -> None:
    """A stream into ``bucket`` of 1 MB buffers and ``hints``, waited for until ACTIVE."""
    destination: dict[str, Any] = {
        "RoleARN": role,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "BufferingHints": {"SizeInMBs": 1, **hints},
    }
    if prefix:
        destination["Prefix"] = prefix
    firehose.create_delivery_stream(
        DeliveryStreamName=name, ExtendedS3DestinationConfiguration=destination
    )
    active_stream(firehose, name, within=60)


def test_a_streams_processors_and_bucket_changed_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    tenant, iam, s3, firehose = _console_account(server, "console-firehose", "flow")
    for bucket in ("fh-browser-landing", "fh-browser-moved"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    role = service_role(
        iam, "fh-browser", "firehose.amazonaws.com", ("s3:PutObject", "arn:aws:s3:::fh-browser-*")
    )
    _active(firehose, "browser-flow", role, "fh-browser-landing", {"IntervalInSeconds": 60})

    flow = "firehose processors browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "flow")
        page.goto(f"{console}/firehose/browser-flow")
        assert page.inner_text("#processors-status") == "Off"

        page.select_option("#processors-form select[name=p_deaggregation]", "DELIMITED")
        page.click("#save-processors")
        assert "DELIMITED needs a Delimiter" in page.inner_text("p[role=alert]")
        chosen = "#processors-form select[name=p_deaggregation]"
        assert page.input_value(chosen) == "DELIMITED"
        # The refusal's page is a 400, which the browser reports; nothing else may be.
        assert [r for r in reported if "status of 400" not in r] == [], reported
        reported.clear()

        page.fill("#processors-form input[name=p_deaggregation_delimiter]", "\\t")
        page.check("#processors-form input[name=p_append]")
        page.click("#save-processors")
        page.wait_for_selector("#saved >> text=Processors changed.")
        described = firehose.describe_delivery_stream(DeliveryStreamName="browser-flow")
        (destination,) = described["DeliveryStreamDescription"]["Destinations"]
        s3_destination = destination["ExtendedS3DestinationDescription"]
        processors = s3_destination["ProcessingConfiguration"]["Processors"]
        assert [p["Type"] for p in processors] == ["RecordDeAggregation", "AppendDelimiterToRecord"]
        assert {
            "ParameterName": "Delimiter",
            "ParameterValue": base64.b64encode(b"\t").decode(),
        } in (processors[0]["Parameters"])
        assert "DELIMITED" in page.inner_text("#processors-deaggregation")

        page.select_option("#delivery-form select[name=bucket]", "fh-browser-moved")
        page.click("#save-delivery")
        page.wait_for_selector("#saved >> text=Role and bucket changed.")
        described = firehose.describe_delivery_stream(DeliveryStreamName="browser-flow")
        (destination,) = described["DeliveryStreamDescription"]["Destinations"]
        moved = destination["ExtendedS3DestinationDescription"]
        assert moved["BucketARN"] == "arn:aws:s3:::fh-browser-moved"
        assert moved["ProcessingConfiguration"]["Processors"] == processors  # kept
        assert "fh-browser-moved" in page.inner_text("#stream-bucket")
        assert reported == [], reported


def test_demo_data_sent_and_the_functions_role_chosen_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """Decision 0367 in Chromium: a count PutRecordBatch does not take refused in the page,
    then demo records sent and delivered into the bucket (read with boto3); the Lambda
    processor's own role chosen from the processors form and described by Firehose."""
    tenant, iam, s3, firehose = _console_account(server, "console-firehose-demo", "demo")
    s3.create_bucket(
        Bucket="fh-demo-landing", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    role = service_role(
        iam, "fh-demo", "firehose.amazonaws.com", ("s3:PutObject", "arn:aws:s3:::fh-demo-*")
    )
    invoking = service_role(
        iam, "fh-demo-invoking", "firehose.amazonaws.com", ("lambda:InvokeFunction", "*")
    )
    _active(firehose, "demo-flow", role, "fh-demo-landing", {"IntervalInSeconds": 0}, "demo/")

    flow = "firehose demo data browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "demo")
        page.goto(f"{console}/firehose/demo-flow")
        assert page.inner_text("#stream-source-backup") == "Disabled"

        page.fill("#put-demo-form input[name=count]", "501")
        page.click("#put-demo-button")
        assert "between 1 and 500 demo records" in page.inner_text("p[role=alert]")
        assert page.input_value("#put-demo-form input[name=count]") == "501"
        assert [r for r in reported if "status of 400" not in r] == [], reported
        reported.clear()

        page.fill("#put-demo-form input[name=count]", "12")
        page.click("#put-demo-button")
        page.wait_for_selector("#batch-result >> text=12 records put, 0 refused by Firehose.")
        deadline = time.monotonic() + 60
        lines: list[bytes] = []
        while time.monotonic() < deadline:
            bodies = delivered_bodies(s3, "fh-demo-landing", "demo/")
            lines = [line for body in bodies for line in body.splitlines()]
            if len(lines) >= 12:
                break
            time.sleep(0.5)
        assert len(lines) == 12, lines
        assert all(json.loads(line).keys() == _DEMO_FIELDS for line in lines)

        # A function given by the API (after the demo, which it would have transformed).
        function = f"arn:aws:lambda:{REGION}:{tenant.account}:function:enrich"
        version = firehose.describe_delivery_stream(DeliveryStreamName="demo-flow")[
            "DeliveryStreamDescription"
        ]["VersionId"]
        firehose.update_destination(
            DeliveryStreamName="demo-flow",
            CurrentDeliveryStreamVersionId=version,
            DestinationId="destinationId-000000000001",
            ExtendedS3DestinationUpdate={
                "ProcessingConfiguration": {
                    "Enabled": True,
                    "Processors": [{
                        "Type": "Lambda",
                        "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": function}],
                    }],
                }
            },
        )  # fmt: skip
        page.goto(f"{console}/firehose/demo-flow")
        assert "The destination's role" in page.inner_text("#processors-lambda")
        page.select_option("#processors-form select[name=p_lambda_role]", invoking)
        page.click("#save-processors")
        page.wait_for_selector("#saved >> text=Processors changed.")
        described = firehose.describe_delivery_stream(DeliveryStreamName="demo-flow")
        (destination,) = described["DeliveryStreamDescription"]["Destinations"]
        (processor,) = destination["ExtendedS3DestinationDescription"]["ProcessingConfiguration"][
            "Processors"
        ]
        parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
        assert parameters["LambdaArn"] == function and parameters["RoleArn"] == invoking
        assert page.inner_text("#processors-lambda-role") == invoking
        assert reported == [], reported


def test_the_backups_own_buffering_hints_asked_apart_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """Decision 0388 in Chromium: a stream made from the creation form with a source record
    backup whose own interval is zero (Firehose's refusal shown, the backup's fields as typed,
    the destination's zero buffering taken), then at 90 s, described by Firehose apart from
    the destination's hints and shown; the backup's hints changed from the delivery form."""
    tenant, iam, s3, firehose = _console_account(server, "console-firehose-hints", "hints")
    s3.create_bucket(
        Bucket="fh-hints-landing", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    role = service_role(
        iam, "fh-hints", "firehose.amazonaws.com", ("s3:PutObject", "arn:aws:s3:::fh-hints-*")
    )

    flow = "firehose backup hints browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "hints")
        page.goto(f"{console}/firehose")
        form = "#create-stream-form"
        page.fill(f"{form} input[name=name]", "hinted")
        page.select_option(f"{form} select[name=bucket]", "fh-hints-landing")
        page.select_option(f"{form} select[name=role_arn]", role)
        page.fill(f"{form} input[name=size_mb]", "1")
        page.fill(f"{form} input[name=interval_seconds]", "0")
        page.check(f"{form} input[name=source_backup]")
        page.select_option(f"{form} select[name=backup_bucket]", "fh-hints-landing")
        page.fill(f"{form} input[name=backup_prefix]", "source/")
        assert page.input_value(f"{form} input[name=backup_size_mb]") == "5"  # AWS's defaults
        assert page.input_value(f"{form} input[name=backup_interval_seconds]") == "300"
        page.fill(f"{form} input[name=backup_size_mb]", "2")
        page.fill(f"{form} input[name=backup_interval_seconds]", "0")
        page.click("#create-stream")
        alert = page.inner_text("p[role=alert]")
        assert "S3BackupConfiguration.BufferingHints.IntervalInSeconds 0" in alert, alert
        assert page.input_value(f"{form} input[name=backup_interval_seconds]") == "0"
        assert page.input_value(f"{form} input[name=backup_size_mb]") == "2"
        assert [r for r in reported if "status of 400" not in r] == [], reported
        reported.clear()

        page.fill(f"{form} input[name=backup_interval_seconds]", "90")
        page.click("#create-stream")
        page.wait_for_selector("#stream-backup-hints")
        active_stream(firehose, "hinted", within=60)
        described = firehose.describe_delivery_stream(DeliveryStreamName="hinted")
        (destination,) = described["DeliveryStreamDescription"]["Destinations"]
        extended = destination["ExtendedS3DestinationDescription"]
        assert extended["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 0}
        assert extended["S3BackupDescription"]["BufferingHints"] == {
            "SizeInMBs": 2, "IntervalInSeconds": 90,
        }  # fmt: skip
        page.goto(f"{console}/firehose/hinted")
        assert page.inner_text("#stream-backup-hints") == "2 MiB or 90 s"

        delivery = "#delivery-form"
        assert page.input_value(f"{delivery} input[name=backup_interval_seconds]") == "90"
        page.fill(f"{delivery} input[name=backup_interval_seconds]", "600")
        page.click("#save-delivery")
        page.wait_for_selector("#saved >> text=Role and bucket changed.")
        described = firehose.describe_delivery_stream(DeliveryStreamName="hinted")
        (destination,) = described["DeliveryStreamDescription"]["Destinations"]
        backup = destination["ExtendedS3DestinationDescription"]["S3BackupDescription"]
        assert backup["BufferingHints"] == {"SizeInMBs": 2, "IntervalInSeconds": 600}
        assert page.inner_text("#stream-backup-hints") == "2 MiB or 600 s"
        assert reported == [], reported
