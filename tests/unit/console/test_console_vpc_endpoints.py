"""The console's VPC endpoints page (decisions 0160, 0166), read only: the account's Gateway
and Interface endpoints as DescribeVpcEndpoints answers the signed-in user, so EC2's policies
decide (a user without ec2:DescribeVpcEndpoints sees EC2's refusal)."""

from __future__ import annotations

import httpx

from andromede.compute.vpc_endpoint import InterfaceEndpointRequest
from support.console import ConsoleHarness, log_in, running_compute, sign_in_root


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
