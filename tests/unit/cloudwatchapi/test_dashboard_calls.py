"""Decision 0185's dashboard operations on the wire, each built by botocore's own serializer
of the protocol and read by its parser: put (with warnings), get, list (prefix, pages,
size and time), delete all or nothing; the refusals in CloudWatch's codes whatever the
protocol; the changes audited on each dashboard's ARN; IAM on the dashboard's ARN; other
accounts' dashboards invisible."""

from __future__ import annotations

import json

import pytest

from andromede.audit.model import Outcome
from support.cloudwatchapp import PROTOCOLS, REGION, Harness

TEXT = json.dumps({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3,
                                "properties": {"markdown": "# ops"}}]})  # fmt: skip
METRIC = json.dumps({"widgets": [{"type": "metric", "properties": {
    "metrics": [["App", "CPU", "Host", "web-1"]], "region": "us-west-2"}}]})  # fmt: skip


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_dashboards_life_in_every_protocol(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    assert (await cw.ok("PutDashboard", {"DashboardName": "ops", "DashboardBody": TEXT})).get(
        "DashboardValidationMessages", []
    ) == []
    put = await cw.ok("PutDashboard", {"DashboardName": "ops-2", "DashboardBody": METRIC})
    [warning] = put["DashboardValidationMessages"]
    assert warning["DataPath"] == "/widgets/0/properties/region"
    got = await cw.ok("GetDashboard", {"DashboardName": "ops"})
    arn = f"arn:aws:cloudwatch::{cw.tenant_id}:dashboard/ops"
    assert (got["DashboardArn"], got["DashboardBody"], got["DashboardName"]) == (arn, TEXT, "ops")
    await cw.ok("PutDashboard", {"DashboardName": "web", "DashboardBody": TEXT})
    page = await cw.ok("ListDashboards", {})
    assert [e["DashboardName"] for e in page["DashboardEntries"]] == ["ops", "ops-2"]
    assert page["DashboardEntries"][0]["Size"] == len(TEXT)
    assert page["DashboardEntries"][0]["LastModified"].year >= 2026
    page = await cw.ok("ListDashboards", {"NextToken": page["NextToken"]})
    assert [e["DashboardName"] for e in page["DashboardEntries"]] == ["web"]
    assert "NextToken" not in page
    page = await cw.ok("ListDashboards", {"DashboardNamePrefix": "ops-"})
    assert [e["DashboardName"] for e in page["DashboardEntries"]] == ["ops-2"]
    reply = await cw.call("DeleteDashboards", {"DashboardNames": ["ops", "nope"]})
    assert (reply.status, reply.code) == (404, "ResourceNotFound")
    await cw.ok("DeleteDashboards", {"DashboardNames": ["ops", "ops-2"]})
    page = await cw.ok("ListDashboards", {})
    assert [e["DashboardName"] for e in page["DashboardEntries"]] == ["web"]
    reply = await cw.call("GetDashboard", {"DashboardName": "ops"})
    assert (reply.status, reply.code) == (404, "ResourceNotFound")
    audited = [e for e in await cloudwatch.audited() if e.action.endswith("Dashboards")]
    assert {e.resource for e in audited} == {arn, arn + "-2"}
    assert all(e.outcome is Outcome.SUCCESS for e in audited)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refusals_in_cloudwatchs_codes(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    reply = await cw.call("PutDashboard", {"DashboardName": "a b", "DashboardBody": TEXT})
    assert (reply.status, reply.code) == (400, "InvalidParameterInput")
    reply = await cw.call("PutDashboard", {"DashboardName": "x", "DashboardBody": "{}"})
    assert (reply.status, reply.code) == (400, "InvalidParameterInput")
    assert "Should have required property 'widgets'" in reply.parsed["Error"]["Message"]
    reply = await cw.call("PutDashboard", {"DashboardName": "x", "DashboardBody": " " * 5000})
    assert (reply.status, reply.code) == (400, "InvalidParameterInput")
    reply = await cw.call("ListDashboards", {"NextToken": "@@"})
    assert (reply.status, reply.code) == (400, "InvalidParameterValue")
    reply = await cw.call("DeleteDashboards", {"DashboardNames": []})
    assert (reply.status, reply.code) == (400, "InvalidParameterValue")
    for name in ("a", "b", "c"):
        await cw.ok("PutDashboard", {"DashboardName": name, "DashboardBody": TEXT})
    reply = await cw.call("PutDashboard", {"DashboardName": "d", "DashboardBody": TEXT})
    assert (reply.status, reply.code) == (400, "LimitExceeded")
    assert reply.headers["x-amzn-requestid"]


async def test_accounts_and_iam_on_the_dashboards_arn(cloudwatch: Harness) -> None:
    await cloudwatch.ok("PutDashboard", {"DashboardName": "ops", "DashboardBody": TEXT})
    other = await cloudwatch.other_tenant("other")
    assert (await other.ok("ListDashboards", {}))["DashboardEntries"] == []
    assert (await other.call("GetDashboard", {"DashboardName": "ops"})).status == 404
    user = await cloudwatch.iam_user("viewer")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
            "Resource": f"arn:aws:cloudwatch::{cloudwatch.tenant_id}:dashboard/ops*",
        }],
    }  # fmt: skip
    await cloudwatch.identity.put_user_policy(
        cloudwatch.tenant_id, "viewer", "dash", json.dumps(policy)
    )
    await cloudwatch.ok("PutDashboard", {"DashboardName": "secret", "DashboardBody": TEXT})
    assert (await user.call("GetDashboard", {"DashboardName": "ops"})).status == 200
    reply = await user.call("GetDashboard", {"DashboardName": "secret"})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    # One name outside the grant refuses the whole call: nothing deleted.
    reply = await user.call("DeleteDashboards", {"DashboardNames": ["ops", "secret"]})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    assert len((await cloudwatch.ok("ListDashboards", {}))["DashboardEntries"]) == 2
    denied = [e for e in await cloudwatch.audited() if e.outcome is Outcome.FAILURE]
    assert denied[-1].resource.endswith(":dashboard/secret")
    assert REGION not in denied[-1].resource
