"""The console's flow logs page (decision 0153): the account's flow logs listed, one created
for a VPC or a subnet and deleted, each EC2's own call as the signed-in user, so EC2's checks,
policies and errors answer (an item CreateFlowLogs refuses is shown as its error)."""

from __future__ import annotations

import json
import re

import httpx

from support.console import ConsoleHarness, csrf_of, log_in, running_compute, sign_in_root

_TOKEN = re.compile(r'name="client_token" value="([^"]+)"')


async def _form(client: httpx.AsyncClient, **fields: str) -> dict[str, str]:
    listing = await client.get("/flow-logs")
    token = _TOKEN.search(listing.text)
    assert token is not None, listing.text
    return {"csrf": csrf_of(listing), "client_token": token.group(1), "traffic_type": "ALL",
            "max_aggregation_interval": "600", **fields}  # fmt: skip


def _row(page: httpx.Response, flow_log_id: str) -> str:
    start = page.text.index(f'id="flow-log-{flow_log_id}"')
    return page.text[start : page.text.index("</tr>", start)]


async def test_a_flow_log_created_listed_and_deleted(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        assert 'href="/console/flow-logs"' in (await client.get("/instances")).text
        assert 'href="/console/flow-logs"' in (await client.get("/vpcs")).text
        empty = await client.get("/flow-logs")
        assert empty.status_code == 200 and "No flow logs." in empty.text
        assert f'<option value="{vpc_id}">' in empty.text
        assert f'<option value="{subnet_id}">' in empty.text
        fields = await _form(
            client, resource_id=subnet_id, traffic_type="REJECT", bucket_arn="logs",
            prefix="/net/", max_aggregation_interval="60", name="rejects",
        )  # fmt: skip
        made = await client.post("/flow-logs", data=fields)
        assert made.status_code == 303, made.text
        again = await client.post("/flow-logs", data=fields)  # the same form: one flow log
        assert again.status_code == 303, again.text
        [held] = await compute.describe_flow_logs(tenant, [])
        assert held.target_id == subnet_id and held.traffic_type.value == "REJECT"
        assert held.destination.arn == "arn:aws:s3:::logs/net"
        assert held.max_aggregation_interval == 60 and held.tags == (("Name", "rejects"),)
        page = await client.get("/flow-logs")
        row = _row(page, held.flow_log_id)
        assert f'href="/console/vpcs#subnet-{subnet_id}"' in row
        assert '<td class="traffic">REJECT</td>' in row
        assert "<code>arn:aws:s3:::logs/net</code>" in row
        assert '<td class="interval">60</td>' in row and '<td class="delivery">SUCCESS' in row
        # A delivery the bucket refused: DescribeFlowLogs' status and message, shown.
        await compute.record_delivery(held, "Access Denied for LogDestination: <logs>")
        failed = _row(await client.get("/flow-logs"), held.flow_log_id)
        expected = "FAILED: Access Denied for LogDestination: &lt;logs&gt;</td>"
        assert f'<td class="delivery">{expected}' in failed
        unticked = await client.post(
            f"/flow-logs/{held.flow_log_id}/delete", data={"csrf": csrf_of(page)}
        )
        assert unticked.status_code == 400
        assert await compute.describe_flow_logs(tenant, [])
        deleted = await client.post(
            f"/flow-logs/{held.flow_log_id}/delete",
            data={"csrf": csrf_of(page), "confirm": "yes"},
        )
        assert deleted.status_code == 303, deleted.text
        assert await compute.describe_flow_logs(tenant, []) == []
        assert "No flow logs." in (await client.get("/flow-logs")).text


async def test_ec2s_refusals_show_with_the_form_as_sent(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id = (await compute.default_network(tenant)).vpc.vpc_id
        bad_arn = await client.post(
            "/flow-logs", data=await _form(client, resource_id=vpc_id, bucket_arn="arn:nope")
        )
        assert bad_arn.status_code == 400 and "InvalidParameter" in bad_arn.text
        assert 'value="arn:nope"' in bad_arn.text  # the form as it was sent
        reserved = await client.post(
            "/flow-logs",
            data=await _form(client, resource_id=vpc_id, bucket_arn="logs", prefix="AWSLogs"),
        )
        assert reserved.status_code == 400 and "AWSLogs" in reserved.text
        # An item of CreateFlowLogs' unsuccessful set: a VPC that is not the account's.
        theirs = await client.post(
            "/flow-logs",
            data=await _form(client, resource_id="vpc-0123456789abcdef0", bucket_arn="logs"),
        )
        assert theirs.status_code == 400 and "InvalidVpcID.NotFound" in theirs.text
        gone = await client.post(
            "/flow-logs/fl-0123456789abcdef0/delete",
            data={"csrf": csrf_of(await client.get("/flow-logs")), "confirm": "yes"},
        )
        assert gone.status_code == 400 and "InvalidFlowLogId.NotFound" in gone.text
    assert await compute.describe_flow_logs(tenant, []) == []


async def test_ec2s_policies_decide(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    vpc_id = (await compute.default_network(tenant)).vpc.vpc_id
    await console.user_with_password(tenant, "reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"}],
    }
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(policy))
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/flow-logs")
        assert page.status_code == 200 and "Aucun journal de flux." in page.text
        assert "Créer le journal de flux" in page.text
        refused = await client.post(
            "/flow-logs", data=await _form(client, resource_id=vpc_id, bucket_arn="logs")
        )
    assert refused.status_code == 403 and "ec2:CreateFlowLogs" in refused.text
    assert await compute.describe_flow_logs(tenant, []) == []
    async with console.client() as client:
        await console.user_with_password(tenant, "intern")
        assert (await log_in(client, "admin", "intern")).status_code == 303
        listing = await client.get("/flow-logs")
    assert listing.status_code == 403 and "ec2:DescribeFlowLogs" in listing.text


async def test_the_file_format_chosen_sent_and_listed(console: ConsoleHarness) -> None:
    """Decision 0170: DestinationOptions.FileFormat from the form, and DescribeFlowLogs' format
    in the list; a refused creation keeps the format chosen, a format EC2 does not know is
    EC2's refusal."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id = (await compute.default_network(tenant)).vpc.vpc_id
        empty = await client.get("/flow-logs")
        assert '<option value="plain-text">Plain text</option>' in empty.text
        refused = await client.post(
            "/flow-logs",
            data=await _form(
                client, resource_id=vpc_id, bucket_arn="arn:nope", file_format="parquet"
            ),
        )
        assert refused.status_code == 400 and "InvalidParameter" in refused.text
        assert '<option value="parquet" selected>Parquet</option>' in refused.text
        unknown = await client.post(
            "/flow-logs",
            data=await _form(client, resource_id=vpc_id, bucket_arn="logs", file_format="orc"),
        )
        assert unknown.status_code == 400 and "FileFormat" in unknown.text
        assert await compute.describe_flow_logs(tenant, []) == []
        made = await client.post(
            "/flow-logs",
            data=await _form(client, resource_id=vpc_id, bucket_arn="logs", file_format="parquet"),
        )
        assert made.status_code == 303, made.text
        plain = await client.post(
            "/flow-logs", data=await _form(client, resource_id=vpc_id, bucket_arn="plain")
        )
        assert plain.status_code == 303, plain.text
        formats = {
            f.destination.arn: f.file_format for f in await compute.describe_flow_logs(tenant, [])
        }
        assert formats == {"arn:aws:s3:::logs": "parquet", "arn:aws:s3:::plain": "plain-text"}
        page = await client.get("/flow-logs")
        french = await client.get("/flow-logs", headers={"accept-language": "fr"})
    assert '<td class="file-format">parquet</td>' in page.text
    assert '<td class="file-format">plain-text</td>' in page.text
    assert "Format de fichier" in french.text


async def test_a_flow_log_to_a_log_group_chosen_among_the_accounts(
    console: ConsoleHarness,
) -> None:
    """Session 48: "CloudWatch Logs" as the destination, its group among DescribeLogGroups'
    and its role among ListRoles'; EC2's words for a group or role left out; the list shows
    the group and the role, not an empty file format."""
    compute = running_compute(console)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}}],
    }  # fmt: skip
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id = (await compute.default_network(tenant)).vpc.vpc_id
        bare = await client.get("/flow-logs")
        made_group = await client.post(
            "/log-groups", data={"csrf": csrf_of(bare), "name": "/vpc/flows"}
        )
        role = await console.identity.create_role(tenant, "flow-logs", json.dumps(trust))
        page = await client.get("/flow-logs")
        cwl = {"destination_type": "cloud-watch-logs", "resource_id": vpc_id}
        no_role = await client.post(
            "/flow-logs", data=await _form(client, **cwl, log_group="/vpc/flows")
        )
        made = await client.post(
            "/flow-logs",
            data=await _form(client, **cwl, log_group="/vpc/flows", role_arn=role.arn),
        )
        [held] = await compute.describe_flow_logs(tenant, [])
        listing = await client.get("/flow-logs")
    assert "No log group to deliver to." in bare.text and "No role to deliver by." in bare.text
    assert made_group.status_code == 303, made_group.text
    assert '<option value="cloud-watch-logs">CloudWatch Logs</option>' in page.text
    assert '<option value="/vpc/flows">/vpc/flows</option>' in page.text
    assert f'<option value="{role.arn}">flow-logs</option>' in page.text
    assert "No log group to deliver to." not in page.text
    assert no_role.status_code == 400 and "DeliverLogsPermissionArn" in no_role.text
    assert '<option value="cloud-watch-logs" selected>' in no_role.text  # the form as sent
    assert made.status_code == 303, made.text
    assert held.destination.log_group == "/vpc/flows"
    assert held.destination.role_arn == role.arn
    row = _row(listing, held.flow_log_id)
    assert 'href="/console/log-groups/group?name=/vpc/flows"><code>/vpc/flows</code>' in row
    assert f'<code class="role">{role.arn}</code>' in row
    assert '<td class="file-format"></td>' not in row
