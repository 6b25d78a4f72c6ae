"""The default VPC's lifecycle through the console (decision 0137): its row and its default
subnet's are deleted like any other, EC2's DependencyViolation shown while it holds something."""

from __future__ import annotations

import re

import httpx

from andromede.compute.service import ComputeService
from support.console import (
    ConsoleHarness,
    csrf_of,
    running_compute,
    sign_in_root,
)

_VPC_ROW = re.compile(r'<tr class="vpc" id="vpc-(vpc-[0-9a-f]+)">')
_SUBNET_ROW = re.compile(r'<tr class="subnet" id="subnet-(subnet-[0-9a-f]+)">')


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


async def _gateway_of(compute: ComputeService, tenant: str, vpc_id: str) -> str:
    [gateway] = [
        g for g in await compute.describe_internet_gateways(tenant, []) if g.vpc_id == vpc_id
    ]
    return gateway.gateway_id


async def test_the_default_vpc_is_deleted_from_its_row_once_it_holds_nothing(
    console: ConsoleHarness,
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        gateway_id = await _gateway_of(compute, tenant, vpc_id)
        page = await client.get("/vpcs")
        token = csrf_of(page)
        confirmed = {"csrf": token, "confirm": "yes"}
        # Each row's button: a form to the row's own deletion, sent once its box is ticked.
        for row, path in [
            (_row(page, f"vpc-{vpc_id}"), f"/console/vpcs/{vpc_id}/delete"),
            (_row(page, f"subnet-{subnet_id}"), f"/console/subnets/{subnet_id}/delete"),
        ]:
            assert f'action="{path}"' in row
            assert '<input type="checkbox" name="confirm" value="yes" required>' in row
        unticked = await client.post(f"/vpcs/{vpc_id}/delete", data={"csrf": token})
        holding_its_subnet = await client.post(f"/vpcs/{vpc_id}/delete", data=confirmed)
        subnet_deleted = await client.post(f"/subnets/{subnet_id}/delete", data=confirmed)
        holding_its_gateway = await client.post(f"/vpcs/{vpc_id}/delete", data=confirmed)
        gateway_steps = [
            await client.post(f"/internet-gateways/{gateway_id}/detach",
                              data={"csrf": token, "vpc_id": vpc_id}),
            await client.post(f"/internet-gateways/{gateway_id}/delete", data=confirmed),
        ]  # fmt: skip
        deleted = await client.post(f"/vpcs/{vpc_id}/delete", data=confirmed)
        after = await client.get("/vpcs")
    assert unticked.status_code == 400 and "Tick the box to confirm" in unticked.text
    for refused in (holding_its_subnet, holding_its_gateway):
        assert refused.status_code == 400 and "(DependencyViolation)" in refused.text
        assert 'role="alert"' in refused.text and _VPC_ROW.findall(refused.text) == [vpc_id]
    assert subnet_deleted.status_code == 303, subnet_deleted.text
    assert [s.status_code for s in gateway_steps] == [303, 303]
    assert deleted.status_code == 303, deleted.text
    assert deleted.headers["location"] == "/console/vpcs"
    assert _VPC_ROW.findall(after.text) == [] and _SUBNET_ROW.findall(after.text) == []
    assert await compute.default_network_if_any(tenant) is None
