"""The default VPC's lifecycle through the console (decision 0137): its row and its default
subnet's are deleted like any other, EC2's DependencyViolation shown while it holds something;
without one the VPCs page says so and offers CreateDefaultVpc; with one lacking its default
subnet, CreateDefaultSubnet; and a launch that names no subnet shows EC2's VPCIdNotSpecified."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from andromede.compute.service import ComputeService
from support.console import (
    ConsoleHarness,
    csrf,
    csrf_of,
    log_in,
    running_compute,
    sign_in_root,
)

_VPC_ROW = re.compile(r'<tr class="vpc" id="vpc-(vpc-[0-9a-f]+)">')
_SUBNET_ROW = re.compile(r'<tr class="subnet" id="subnet-(subnet-[0-9a-f]+)">')
_INSTANCE_ROW = re.compile(r'<tr class="instance" id="instance-(i-[0-9a-f]+)">')
_CLIENT_TOKEN = re.compile(r'name="client_token" value="([^"]+)"')
_NO_DEFAULT = "You have no default VPC"
_CREATE_DEFAULT = 'action="/console/vpcs/create-default"'


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


async def _gateway_of(compute: ComputeService, tenant: str, vpc_id: str) -> str:
    [gateway] = [
        g for g in await compute.describe_internet_gateways(tenant, []) if g.vpc_id == vpc_id
    ]
    return gateway.gateway_id


async def _without_default_vpc(compute: ComputeService, tenant: str) -> None:
    """The tenant's default VPC deleted through EC2's service, its dependencies first."""
    default = await compute.default_network(tenant)
    assert default.subnet is not None
    gateway_id = await _gateway_of(compute, tenant, default.vpc.vpc_id)
    await compute.delete_subnet(tenant, default.subnet.subnet_id)
    await compute.detach_internet_gateway(tenant, gateway_id, default.vpc.vpc_id)
    await compute.delete_internet_gateway(tenant, gateway_id)
    await compute.delete_vpc(tenant, default.vpc.vpc_id)


async def _image(console: ConsoleHarness, tmp_path: Path) -> str:
    """A public image, as an operator imports one."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = await running_compute(console).import_image_file(disk, name="debian-12", owner_id=None)
    return image.image_id


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
    # A page refusing a deletion still has its default VPC: nothing offers to create one.
    assert _CREATE_DEFAULT not in holding_its_gateway.text
    assert subnet_deleted.status_code == 303, subnet_deleted.text
    assert [s.status_code for s in gateway_steps] == [303, 303]
    assert deleted.status_code == 303, deleted.text
    assert deleted.headers["location"] == "/console/vpcs"
    assert _VPC_ROW.findall(after.text) == [] and _SUBNET_ROW.findall(after.text) == []
    assert await compute.default_network_if_any(tenant) is None


async def test_create_default_vpc_is_offered_only_without_one_and_makes_it(
    console: ConsoleHarness,
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        old = (await compute.default_network(tenant)).vpc.vpc_id
        with_one = await client.get("/vpcs")
        forced = await client.post("/vpcs/create-default", data={"csrf": csrf_of(with_one)})
        await _without_default_vpc(compute, tenant)
        without = await client.get("/vpcs")
        created = await client.post("/vpcs/create-default", data={"csrf": csrf_of(without)})
        after = await client.get("/vpcs")
    assert _NO_DEFAULT not in with_one.text and _CREATE_DEFAULT not in with_one.text
    # Sent anyway (another tab, a page shown before): EC2's refusal, on the page.
    assert forced.status_code == 400 and "(DefaultVpcAlreadyExists)" in forced.text
    assert _VPC_ROW.findall(forced.text) == [old]
    assert without.status_code == 200
    assert _NO_DEFAULT in without.text and _CREATE_DEFAULT in without.text
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/console/vpcs"
    network = await compute.default_network_if_any(tenant)
    assert network is not None and network.subnet is not None
    # A new default VPC, with fresh ids as EC2 makes it, and its default subnet.
    assert network.vpc.vpc_id != old and network.vpc.cidr == "172.31.0.0/16"
    assert _VPC_ROW.findall(after.text) == [network.vpc.vpc_id]
    assert _SUBNET_ROW.findall(after.text) == [network.subnet.subnet_id]
    assert "<td>Yes</td>" in _row(after, f"vpc-{network.vpc.vpc_id}")
    assert _NO_DEFAULT not in after.text and _CREATE_DEFAULT not in after.text


async def test_create_default_vpc_answers_with_ec2s_refusals(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await _without_default_vpc(running_compute(console), tenant)
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        page = await client.get("/vpcs")
        refused = await client.post(
            "/vpcs/create-default", data={"csrf": await csrf(client, "/security-groups")}
        )
    # A listing EC2 refused says nothing of the default VPC: nothing is offered.
    assert page.status_code == 403 and "ec2:DescribeVpcs" in page.text
    assert _NO_DEFAULT not in page.text and _CREATE_DEFAULT not in page.text
    assert refused.status_code == 403 and "ec2:CreateDefaultVpc" in refused.text
    assert await running_compute(console).default_network_if_any(tenant) is None


async def test_the_french_page_without_a_default_vpc(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        tenant = await sign_in_root(console, client)
        await _without_default_vpc(running_compute(console), tenant)
        page = await client.get("/vpcs")
    assert "Vous n\u2019avez pas de VPC par défaut" in page.text
    assert "Créer le VPC par défaut" in page.text


async def test_a_launch_without_a_subnet_or_a_default_vpc_shows_ec2s_refusal(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    image_id = await _image(console, tmp_path)
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await _without_default_vpc(compute, tenant)
        form = await client.get("/instances/launch")
        token = _CLIENT_TOKEN.search(form.text)
        assert form.status_code == 200 and token is not None, form.text
        launch = {"csrf": csrf_of(form), "client_token": token.group(1), "image_id": image_id,
                  "instance_type": "t2.nano", "count": "1", "key_name": "", "subnet_id": "",
                  "name": "kept-name"}  # fmt: skip
        refused = await client.post("/instances/launch", data=launch)

        template = await client.post(
            "/launch-templates",
            data={"csrf": csrf_of(form), "name": "no-subnet", "description": "",
                  "image_id": image_id, "instance_type": "t2.nano", "key_name": ""},
        )  # fmt: skip
        assert template.status_code == 303, template.text
        template_page = await client.get(template.headers["location"].removeprefix("/console"))
        [template_token] = _CLIENT_TOKEN.findall(template_page.text)
        from_template = await client.post(
            template.headers["location"].removeprefix("/console") + "/launch",
            data={"csrf": csrf_of(form), "version": "1", "client_token": template_token},
        )
        listing = await client.get("/instances")
    for answer in (refused, from_template):
        assert answer.status_code == 400, answer.text
        assert "(VPCIdNotSpecified)" in answer.text and "No default VPC" in answer.text
        assert 'role="alert"' in answer.text
    assert 'action="/console/instances/launch"' in refused.text
    assert 'value="kept-name"' in refused.text
    assert _INSTANCE_ROW.findall(listing.text) == []


_CREATE_DEFAULT_SUBNET = 'action="/console/subnets/create-default"'
_NO_DEFAULT_SUBNET = "Your default VPC has no default subnet in this zone"


async def test_create_default_subnet_is_offered_where_the_default_vpc_lacks_one(
    console: ConsoleHarness,
) -> None:
    """Decision 0137's amendment from the console: the default subnet deleted, the Subnets
    section offers CreateDefaultSubnet in its zone; it makes a new default subnet (a fresh
    id) that launches use again, and the offer goes."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        old, zone = default.subnet.subnet_id, default.subnet.availability_zone
        with_one = await client.get("/vpcs")
        forced = await client.post(
            "/subnets/create-default", data={"csrf": csrf_of(with_one), "zone": zone}
        )
        await compute.delete_subnet(tenant, old)
        without = await client.get("/vpcs")
        created = await client.post(
            "/subnets/create-default", data={"csrf": csrf_of(without), "zone": zone}
        )
        after = await client.get("/vpcs")
    assert _CREATE_DEFAULT_SUBNET not in with_one.text and _NO_DEFAULT_SUBNET not in with_one.text
    # Sent anyway (another tab, a page shown before): EC2's refusal, on the page.
    assert forced.status_code == 400, forced.text
    assert "(DefaultSubnetAlreadyExistsInAvailabilityZone)" in forced.text
    assert _SUBNET_ROW.findall(forced.text) == [old]
    assert without.status_code == 200 and _SUBNET_ROW.findall(without.text) == []
    offer = without.text[without.text.index('id="no-default-subnet"') :]
    offer = offer[: offer.index("</form>")]
    assert _CREATE_DEFAULT_SUBNET in without.text and _NO_DEFAULT_SUBNET in offer
    assert f'<option value="{zone}">{zone}</option>' in offer
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/console/vpcs"
    network = await compute.default_network(tenant)
    assert network.subnet is not None and network.subnet.subnet_id != old
    assert network.subnet.default_for_az and network.subnet.cidr == "172.31.0.0/20"
    assert _SUBNET_ROW.findall(after.text) == [network.subnet.subnet_id]
    assert "<td>Yes</td>" in _row(after, f"subnet-{network.subnet.subnet_id}")
    assert _CREATE_DEFAULT_SUBNET not in after.text


async def test_create_default_subnet_is_not_offered_without_a_default_vpc(
    console: ConsoleHarness,
) -> None:
    """Without a default VPC the page offers CreateDefaultVpc only; the call sent anyway gets
    EC2's DefaultVpcDoesNotExist, and a user without the right EC2's AccessDenied."""
    compute = running_compute(console)
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        zone = default.subnet.availability_zone
        await _without_default_vpc(compute, tenant)
        page = await client.get("/vpcs")
        refused = await client.post(
            "/subnets/create-default", data={"csrf": csrf_of(page), "zone": zone}
        )
    async with console.client() as intern:
        assert (await log_in(intern, "admin", "intern")).status_code == 303
        denied = await intern.post(
            "/subnets/create-default",
            data={"csrf": await csrf(intern, "/security-groups"), "zone": zone},
        )
    assert _CREATE_DEFAULT in page.text and _CREATE_DEFAULT_SUBNET not in page.text
    assert refused.status_code == 400 and "(DefaultVpcDoesNotExist)" in refused.text
    assert denied.status_code == 403 and "ec2:CreateDefaultSubnet" in denied.text
    assert await compute.default_network_if_any(tenant) is None
