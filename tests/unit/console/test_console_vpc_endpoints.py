"""The console's VPC endpoints page (decisions 0160, 0166), read only: the account's Gateway
and Interface endpoints as DescribeVpcEndpoints answers the signed-in user, so EC2's policies
decide (a user without ec2:DescribeVpcEndpoints sees EC2's refusal)."""

from __future__ import annotations

import json

import httpx

from andromede.compute.vpc_endpoint import InterfaceEndpointRequest
from support.console import ConsoleHarness, csrf, log_in, running_compute, sign_in_root


def _row(page: httpx.Response, endpoint_id: str) -> str:
    start = page.text.index(f'id="vpc-endpoint-{endpoint_id}"')
    return page.text[start : page.text.index("</tr>", start)]


async def test_gateway_and_interface_endpoints_listed(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    service = f"com.amazonaws.{console.application.settings.region}.s3"
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        assert 'href="/console/vpc-endpoints"' in (await client.get("/vpcs")).text
        assert 'href="/console/vpc-endpoints"' in (await client.get("/instances")).text
        empty = await client.get("/vpc-endpoints")
        assert empty.status_code == 200 and "No VPC endpoints." in empty.text
        [table_id] = [
            t.route_table_id
            for t in await compute.describe_route_tables(tenant, [])
            if t.vpc_id == vpc_id
        ]
        gateway = await compute.create_vpc_endpoint(
            tenant, vpc_id, service, [table_id], tags=(("Name", "to-s3"),)
        )
        interface = await compute.create_interface_endpoint(
            tenant,
            InterfaceEndpointRequest(
                vpc_id, service, (subnet_id,), (default.group.group_id,), private_dns_enabled=False
            ),
        )
        page = await client.get("/vpc-endpoints")
        french = await client.get("/vpc-endpoints", headers={"accept-language": "fr"})
    assert page.status_code == 200
    made = _row(page, gateway.vpc_endpoint_id)
    assert "<td>to-s3</td>" in made and '<td class="type">Gateway</td>' in made
    assert f"<code>{service}</code>" in made and '<td class="state">available</td>' in made
    assert f'href="/console/vpcs#vpc-{vpc_id}"' in made
    assert f'href="/console/route-tables#route-table-{table_id}"' in made
    assert subnet_id not in made
    wired = _row(page, interface.vpc_endpoint_id)
    assert '<td class="type">Interface</td>' in wired
    assert f'href="/console/vpcs#subnet-{subnet_id}"' in wired
    assert f'href="/console/security-groups/{default.group.group_id}"' in wired
    assert "Private DNS off" in wired and table_id not in wired
    assert all(f"<code>{eni}</code>" in wired for eni in interface.network_interface_ids)
    assert "Points de terminaison de VPC" in french.text and "DNS privé désactivé" in french.text


async def test_ec2s_policies_decide(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        refused = await client.get("/vpc-endpoints")
    assert refused.status_code == 403 and "ec2:DescribeVpcEndpoints" in refused.text


async def test_endpoints_created_modified_and_deleted(console: ConsoleHarness) -> None:
    """Session 47: a Gateway endpoint made from the form (sent twice: one endpoint, its
    ClientToken), its route table removed and its policy set from its page, then deleted
    after a ticked box; an Interface endpoint made with a subnet, a group and private DNS off,
    which its page turns on; EC2's refusals (a policy that is not JSON, a route table of no
    one's) shown with the form as sent; the services offered are DescribeVpcEndpointServices'."""
    compute = running_compute(console)
    service = f"com.amazonaws.{console.application.settings.region}.s3"
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        group_id = default.group.group_id
        [table_id] = [
            t.route_table_id
            for t in await compute.describe_route_tables(tenant, [])
            if t.vpc_id == vpc_id
        ]
        token = await csrf(client, "/vpc-endpoints")
        form = await client.get("/vpc-endpoints")
        gateway = {"csrf": token, "client_token": "form-token-1", "endpoint_type": "Gateway",
                   "service_name": service, "vpc_id": vpc_id, "route_table_id": table_id,
                   "name": "to-s3"}  # fmt: skip
        refused = await client.post("/vpc-endpoints", data={**gateway, "policy": "{not json"})
        created = await client.post("/vpc-endpoints", data=gateway)
        again = await client.post("/vpc-endpoints", data=gateway)
        [made] = await compute.describe_vpc_endpoints(tenant, [])
        page = await client.get(f"/vpc-endpoints/{made.vpc_endpoint_id}")
        policy = (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
            '"Action": "s3:GetObject", "Resource": "*"}]}'
        )
        bad_table = await client.post(
            f"/vpc-endpoints/{made.vpc_endpoint_id}/modify",
            data={"csrf": token, "route_table_id": "rtb-0000000000000000a", "policy": policy},
        )
        modified = await client.post(
            f"/vpc-endpoints/{made.vpc_endpoint_id}/modify", data={"csrf": token, "policy": policy}
        )
        [changed] = await compute.describe_vpc_endpoints(tenant, [made.vpc_endpoint_id])
        interface = await client.post(
            "/vpc-endpoints",
            data={"csrf": token, "client_token": "form-token-2", "endpoint_type": "Interface",
                  "service_name": service, "vpc_id": vpc_id, "subnet_id": subnet_id,
                  "security_group_id": group_id},
        )  # fmt: skip
        [wired] = [
            e
            for e in await compute.describe_vpc_endpoints(tenant, [])
            if e.endpoint_type == "Interface"
        ]
        dns_on = await client.post(
            f"/vpc-endpoints/{wired.vpc_endpoint_id}/modify",
            data={"csrf": token, "subnet_id": subnet_id, "security_group_id": group_id,
                  "private_dns": "yes", "policy": ""},
        )  # fmt: skip
        [wired_after] = await compute.describe_vpc_endpoints(tenant, [wired.vpc_endpoint_id])
        unticked = await client.post(
            f"/vpc-endpoints/{made.vpc_endpoint_id}/delete", data={"csrf": token}
        )
        deleted = await client.post(
            f"/vpc-endpoints/{made.vpc_endpoint_id}/delete", data={"csrf": token, "confirm": "yes"}
        )
        gone = await client.post(
            f"/vpc-endpoints/{made.vpc_endpoint_id}/delete", data={"csrf": token, "confirm": "yes"}
        )
        french = await client.get(
            f"/vpc-endpoints/{wired.vpc_endpoint_id}", headers={"accept-language": "fr"}
        )
    assert f'<option value="{service}">{service} (Gateway, Interface)</option>' in form.text
    assert refused.status_code == 400 and "(InvalidParameterValue)" in refused.text
    assert "The policy document is not valid JSON" in refused.text
    assert "{not json" in refused.text and 'value="form-token-1"' in refused.text
    assert f'<option value="{table_id}" selected>' in refused.text
    assert created.status_code == 303 and again.status_code == 303
    assert made.route_table_ids == (table_id,) and made.endpoint_type == "Gateway"
    assert page.status_code == 200 and f'<option value="{table_id}" selected>' in page.text
    assert bad_table.status_code == 400 and "rtb-0000000000000000a" in bad_table.text
    assert modified.status_code == 303, modified.text
    assert changed.route_table_ids == ()
    assert '"s3:GetObject"' in changed.policy_document
    assert interface.status_code == 303, interface.text
    assert wired.subnet_ids == (subnet_id,) and wired.group_ids == (group_id,)
    assert not wired.private_dns_enabled
    assert dns_on.status_code == 303, dns_on.text
    assert wired_after.private_dns_enabled and wired_after.subnet_ids == (subnet_id,)
    assert unticked.status_code == 400
    assert deleted.status_code == 303
    assert [e.vpc_endpoint_id for e in await compute.describe_vpc_endpoints(tenant, [])] == [
        wired.vpc_endpoint_id
    ]
    assert gone.status_code == 400 and "InvalidVpcEndpointId.NotFound" in gone.text
    assert "DNS privé" in french.text and "Enregistrer" in french.text


async def test_a_modify_form_keeps_what_the_user_may_not_list(console: ConsoleHarness) -> None:
    """A user EC2 lets read and change endpoints but not list route tables: the endpoint's
    page still holds its route table, selected, so that saving its policy removes nothing."""
    compute = running_compute(console)
    tenant = console.admin_tenant_id
    service = f"com.amazonaws.{console.application.settings.region}.s3"
    default = await compute.default_network(tenant)
    vpc_id = default.vpc.vpc_id
    [table_id] = [
        t.route_table_id
        for t in await compute.describe_route_tables(tenant, [])
        if t.vpc_id == vpc_id
    ]
    made = await compute.create_vpc_endpoint(tenant, vpc_id, service, [table_id])
    await console.user_with_password(tenant, "netops")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ec2:DescribeVpcEndpoints", "ec2:ModifyVpcEndpoint"],
                "Resource": "*",
            }
        ],
    }
    await console.identity.put_user_policy(tenant, "netops", "endpoints", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "netops")).status_code == 303
        page = await client.get(f"/vpc-endpoints/{made.vpc_endpoint_id}")
        token = await csrf(client, f"/vpc-endpoints/{made.vpc_endpoint_id}")
        saved = await client.post(
            f"/vpc-endpoints/{made.vpc_endpoint_id}/modify",
            data={"csrf": token, "route_table_id": table_id, "policy": made.policy_document},
        )
    assert page.status_code == 200 and 'role="alert"' not in page.text
    assert f'<option value="{table_id}" selected>{table_id}</option>' in page.text
    assert saved.status_code == 303, saved.text
    [kept] = await compute.describe_vpc_endpoints(tenant, [made.vpc_endpoint_id])
    assert kept.route_table_ids == (table_id,)
