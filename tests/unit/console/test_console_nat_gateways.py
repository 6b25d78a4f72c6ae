"""The console's NAT gateways page (decision 0129), and a route table's routes to one: each
read and change EC2's own call as the signed-in user, so EC2's rules, quotas, policies and
errors answer, and EC2 audits the changes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from andromede.audit.model import Outcome
from andromede.compute.nat_gateway import NatGateway, NatGatewayState
from andromede.compute.routing import Route
from support.console import (
    ConsoleHarness,
    console_harness,
    csrf,
    csrf_of,
    log_in,
    logged_events,
    running_compute,
    sign_in_root,
)

_NAT_ROW = re.compile(r'<tr class="nat-gateway" id="nat-gateway-(nat-[0-9a-f]+)">')
_ROUTE_ROW = re.compile(r'<tr class="route (\w+)" id="route-([0-9./]+)">')
_TOKEN = re.compile(r'name="client_token" value="([^"]+)"')
_CONFIRMED = {"confirm": "yes"}
POOL_FIRST = "100.66.0.1"  # the default pool's first address


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


def _form(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


async def _nat(console: ConsoleHarness, tenant: str, nat_gateway_id: str) -> NatGateway:
    [nat] = await running_compute(console).describe_nat_gateways(tenant, [nat_gateway_id])
    return nat


async def _create_form(client: httpx.AsyncClient, **fields: str) -> dict[str, str]:
    """The create form as the page renders it (its ClientToken), with ``fields``."""
    listing = await client.get("/nat-gateways")
    token = _TOKEN.search(listing.text)
    assert token is not None, listing.text
    return {"csrf": csrf_of(listing), "client_token": token.group(1), **fields}


async def test_a_nat_gateway_created_routed_to_and_deleted(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        instances = await client.get("/instances")
        vpcs = await client.get("/vpcs")
        assert 'href="/console/nat-gateways"' in instances.text
        assert f'href="/console/nat-gateways?vpc_id={vpc_id}"' in vpcs.text
        empty = await client.get("/nat-gateways")
        assert empty.status_code == 200 and "No NAT gateways." in empty.text
        assert "No free Elastic IP address" in empty.text
        assert 'href="/console/elastic-ips"' in empty.text
        address = await compute.allocate_address(tenant, tags=(("Name", "egress-ip"),))
        listing = await client.get("/nat-gateways")
        form = _form(listing, "create-nat-gateway-form")
        assert f'<option value="{subnet_id}">' in form and vpc_id in form
        assert f'<option value="{address.allocation_id}">{POOL_FIRST} (' in form
        assert "egress-ip" in form and "No free Elastic IP address" not in listing.text

        # The form sent twice (a double click) makes one gateway: its ClientToken.
        fields = await _create_form(
            client, subnet_id=subnet_id, allocation_id=address.allocation_id, name="egress <1>"
        )
        first = await client.post("/nat-gateways", data=fields)
        second = await client.post("/nat-gateways", data=fields)
        assert first.status_code == second.status_code == 303, first.text
        assert first.headers["location"] == "/console/nat-gateways"
        [held] = await compute.describe_nat_gateways(tenant, [])
        assert held.subnet_id == subnet_id and held.allocation_id == address.allocation_id
        assert held.tags == (("Name", "egress <1>"),) and held.state is NatGatewayState.AVAILABLE
        nat_id = held.nat_gateway_id
        listing = await client.get("/nat-gateways")
        assert _NAT_ROW.findall(listing.text) == [nat_id]
        row = _row(listing, f"nat-gateway-{nat_id}")
        assert "egress &lt;1&gt;" in row and "egress <1>" not in row
        assert '<td class="state">available</td>' in row
        assert f'href="/console/vpcs#vpc-{vpc_id}"' in row
        assert f'href="/console/vpcs#subnet-{subnet_id}"' in row
        assert f"<code>{POOL_FIRST}</code>" in row
        assert f'href="/console/elastic-ips#elastic-ip-{address.allocation_id}"' in row
        assert f'<td class="private-ip">{held.private_ip}</td>' in row
        assert held.create_time.strftime("%Y-%m-%d %H:%M:%S") in row and "/delete" in row
        # Its address is held: no longer offered; the VPC's filter lists it.
        assert "No free Elastic IP address" in listing.text
        assert _NAT_ROW.findall((await client.get(f"/nat-gateways?vpc_id={vpc_id}")).text) == [
            nat_id
        ]

        # A route table of its VPC offers it beside the internet gateways, and routes to it.
        [main] = await compute.describe_route_tables(tenant, [])
        table_url = f"/route-tables/{main.route_table_id}"
        page = await client.get(table_url)
        add_form = _form(page, "add-route")
        assert 'optgroup label="NAT gateways"' in add_form
        assert f'<option value="{nat_id}">{nat_id} (egress &lt;1&gt;) · {POOL_FIRST}' in add_form
        token = csrf_of(page)
        route = {"csrf": token, "destination": "198.51.100.0/24", "gateway_id": nat_id}
        added = await client.post(f"{table_url}/routes/add", data=route)
        assert added.status_code == 303, added.text
        routes = (await compute.describe_route_tables(tenant, [main.route_table_id]))[0].routes
        assert Route("198.51.100.0/24", "", nat_gateway_id=nat_id) in routes
        page = await client.get(table_url)
        row = _row(page, "route-198.51.100.0/24")
        assert f'href="/console/nat-gateways#nat-gateway-{nat_id}"' in row
        assert ("active", "198.51.100.0/24") in _ROUTE_ROW.findall(page.text)
        assert f'<option value="{nat_id}" selected>' in row  # the replace form's choice
        # Replaced by the internet gateway, and back: the select's id says which EC2 names.
        [gateway] = await compute.describe_internet_gateways(tenant, [])
        for target in (gateway.gateway_id, nat_id):
            replaced = await client.post(
                f"{table_url}/routes/replace", data={**route, "gateway_id": target}
            )
            assert replaced.status_code == 303, replaced.text
        routes = (await compute.describe_route_tables(tenant, [main.route_table_id]))[0].routes
        assert Route("198.51.100.0/24", "", nat_gateway_id=nat_id) in routes

        # Deleted after a ticked box: shown deleted, its address free again, the route a
        # blackhole, and no longer offered as a target.
        unconfirmed = await client.post(f"/nat-gateways/{nat_id}/delete", data={"csrf": token})
        assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
        assert (await _nat(console, tenant, nat_id)).state is NatGatewayState.AVAILABLE
        deleted = await client.post(
            f"/nat-gateways/{nat_id}/delete", data={"csrf": token, **_CONFIRMED}
        )
        assert deleted.status_code == 303 and deleted.headers["location"] == (
            "/console/nat-gateways"
        )
        assert (await _nat(console, tenant, nat_id)).state is NatGatewayState.DELETED
        listing = await client.get("/nat-gateways")
        row = _row(listing, f"nat-gateway-{nat_id}")
        assert '<td class="state">deleted</td>' in row and "/delete" not in row
        form = _form(listing, "create-nat-gateway-form")
        assert f'<option value="{address.allocation_id}">' in form
        page = await client.get(table_url)
        assert ("blackhole", "198.51.100.0/24") in _ROUTE_ROW.findall(page.text)
        assert "optgroup" not in _form(page, "add-route")
    changes = [
        e.action
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.SUCCESS and "NatGateway" in e.action
    ]
    assert changes == ["ec2:CreateNatGateway", "ec2:CreateNatGateway", "ec2:DeleteNatGateway"]


async def test_ec2s_refusals_show_with_the_form_as_sent(tmp_path: Path) -> None:
    async with console_harness(tmp_path, max_nat_gateways_per_az=1) as console:
        compute = running_compute(console)
        async with console.client() as client:
            tenant = await sign_in_root(console, client)
            subnet_id = (await compute.default_network(tenant)).subnet.subnet_id
            closed = await compute.create_vpc(tenant, "10.9.0.0/16")
            closed_subnet = await compute.create_subnet(tenant, closed.vpc_id, "10.9.1.0/24")
            first, second = [await compute.allocate_address(tenant) for _ in range(2)]
            no_gateway = await client.post(
                "/nat-gateways",
                data=await _create_form(
                    client, subnet_id=closed_subnet.subnet_id,
                    allocation_id=first.allocation_id, name="closed",
                ),
            )  # fmt: skip
            no_address = await client.post(
                "/nat-gateways",
                data=await _create_form(
                    client, subnet_id=subnet_id, allocation_id="eipalloc-0123456789abcdef0"
                ),
            )
            no_subnet = await client.post(
                "/nat-gateways",
                data=await _create_form(
                    client, subnet_id="subnet-0123456789abcdef0", allocation_id=first.allocation_id
                ),
            )
            made = await client.post(
                "/nat-gateways",
                data=await _create_form(
                    client, subnet_id=subnet_id, allocation_id=first.allocation_id
                ),
            )
            assert made.status_code == 303, made.text
            held = await client.post(
                "/nat-gateways",
                data=await _create_form(
                    client, subnet_id=subnet_id, allocation_id=first.allocation_id
                ),
            )
            over = await client.post(
                "/nat-gateways",
                data=await _create_form(
                    client, subnet_id=subnet_id, allocation_id=second.allocation_id, name="more"
                ),
            )
            # A route in another VPC's table to the gateway: EC2's refusal.
            [nat] = await compute.describe_nat_gateways(tenant, [])
            other_table = await compute.create_route_table(tenant, closed.vpc_id)
            elsewhere = await client.post(
                f"/route-tables/{other_table.route_table_id}/routes/add",
                data={
                    "csrf": await csrf(client, "/nat-gateways"),
                    "destination": "0.0.0.0/0",
                    "gateway_id": nat.nat_gateway_id,
                },
            )
            other_page = await client.get(f"/route-tables/{other_table.route_table_id}")
        assert no_gateway.status_code == 400 and "(Gateway.NotAttached)" in no_gateway.text
        assert "The VPC has no internet gateway attached." in no_gateway.text
        assert f"Network {closed.vpc_id} has no Internet gateway attached" in no_gateway.text
        # The refused form as it was sent: its subnet, address, Name and ClientToken.
        form = _form(no_gateway, "create-nat-gateway-form")
        assert f'<option value="{closed_subnet.subnet_id}" selected>' in form
        assert f'<option value="{first.allocation_id}" selected>' in form
        assert 'value="closed"' in form
        assert no_address.status_code == 400 and "(InvalidAllocationID.NotFound)" in (
            no_address.text
        )
        assert "No such Elastic IP address in your account." in no_address.text
        assert no_subnet.status_code == 400 and "(InvalidSubnetID.NotFound)" in no_subnet.text
        assert "No such subnet." in no_subnet.text
        assert held.status_code == 400 and "(Resource.AlreadyAssociated)" in held.text
        assert over.status_code == 400 and "(NatGatewayLimitExceeded)" in over.text
        assert "NAT gateway quota is reached" in over.text
        assert 'value="more"' in _form(over, "create-nat-gateway-form")
        assert elsewhere.status_code == 400 and "(InvalidParameterValue)" in elsewhere.text
        assert "belong to different networks" in elsewhere.text
        # Its table's page offers none of another VPC's gateways.
        assert nat.nat_gateway_id not in _form(other_page, "add-route")
        assert "Already associated." in held.text and "is already associated" in held.text
        assert [n.nat_gateway_id for n in await compute.describe_nat_gateways(tenant, [])] == [
            nat.nat_gateway_id
        ]


async def test_a_user_without_ec2_permissions_gets_ec2s_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    subnet_id = (await compute.default_network(tenant)).subnet.subnet_id
    address = await compute.allocate_address(tenant)
    nat = await compute.create_nat_gateway(tenant, subnet_id, address.allocation_id)
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        page = await client.get("/nat-gateways")
        token = await csrf(client, "/nat-gateways")
        changes = [
            await client.post(
                "/nat-gateways",
                data={"csrf": token, "subnet_id": subnet_id, "allocation_id": "x"},
            ),
            await client.post(
                f"/nat-gateways/{nat.nat_gateway_id}/delete", data={"csrf": token, **_CONFIRMED}
            ),
        ]
    assert page.status_code == 403 and "ec2:DescribeNatGateways" in page.text
    for answer in [page, *changes]:
        assert "(UnauthorizedOperation)" in answer.text and ":user/intern" in answer.text
        assert "Access denied: your policies do not allow this." in answer.text
    actions = ["ec2:CreateNatGateway", "ec2:DeleteNatGateway"]
    for answer, action in zip(changes, actions, strict=True):
        assert answer.status_code == 403 and action in answer.text
    assert await compute.describe_nat_gateways(tenant, []) == [nat]


async def test_a_reader_sees_the_gateways_and_only_ec2_decides_a_change(
    console: ConsoleHarness,
) -> None:
    """A user allowed DescribeNatGateways only sees the list (the form's choices empty, EC2
    refusing those reads) and EC2's refusal of a creation."""
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    subnet_id = (await compute.default_network(tenant)).subnet.subnet_id
    address = await compute.allocate_address(tenant)
    nat = await compute.create_nat_gateway(tenant, subnet_id, address.allocation_id)
    await console.user_with_password(tenant, "reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeNatGateways"], "Resource": "*"}],
    }
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        listing = await client.get("/nat-gateways")
        created = await client.post(
            "/nat-gateways",
            data={"csrf": csrf_of(listing), "subnet_id": subnet_id, "allocation_id": "x"},
        )
    assert listing.status_code == 200 and _NAT_ROW.findall(listing.text) == [nat.nat_gateway_id]
    assert "<option" not in _form(listing, "create-nat-gateway-form")
    assert created.status_code == 403 and "ec2:CreateNatGateway" in created.text


async def test_another_tenants_gateway_is_not_found(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as owner:
        tenant = await sign_in_root(console, owner)
        default = await compute.default_network(tenant)
        address = await compute.allocate_address(tenant)
        made = await owner.post(
            "/nat-gateways",
            data=await _create_form(
                owner, subnet_id=default.subnet.subnet_id,
                allocation_id=address.allocation_id, name="payroll-nat",
            ),
        )  # fmt: skip
        assert made.status_code == 303, made.text
    [nat] = await compute.describe_nat_gateways(tenant, [])
    async with console.client() as intruder:
        intruder_tenant = await sign_in_root(console, intruder, account="intruder")
        mine = await compute.allocate_address(intruder_tenant)
        their_subnet = (await compute.default_network(intruder_tenant)).subnet.subnet_id
        [their_table] = await compute.describe_route_tables(intruder_tenant, [])
        token = await csrf(intruder, "/nat-gateways")
        deleted = await intruder.post(
            f"/nat-gateways/{nat.nat_gateway_id}/delete", data={"csrf": token, **_CONFIRMED}
        )
        in_their_subnet = await intruder.post(
            "/nat-gateways",
            data=await _create_form(
                intruder, subnet_id=default.subnet.subnet_id, allocation_id=mine.allocation_id
            ),
        )
        their_address = await intruder.post(
            "/nat-gateways",
            data=await _create_form(
                intruder, subnet_id=their_subnet, allocation_id=address.allocation_id
            ),
        )
        routed = await intruder.post(
            f"/route-tables/{their_table.route_table_id}/routes/add",
            data={"csrf": token, "destination": "0.0.0.0/0", "gateway_id": nat.nat_gateway_id},
        )
        pages = [
            await intruder.get("/nat-gateways"),
            await intruder.get(f"/nat-gateways?vpc_id={default.vpc.vpc_id}"),
            await intruder.get(f"/route-tables/{their_table.route_table_id}"),
        ]
    assert deleted.status_code == 400 and "(NatGatewayNotFound)" in deleted.text
    assert "No such NAT gateway." in deleted.text
    assert in_their_subnet.status_code == 400
    assert "(InvalidSubnetID.NotFound)" in in_their_subnet.text
    assert their_address.status_code == 400
    assert "(InvalidAllocationID.NotFound)" in their_address.text
    assert routed.status_code == 400 and "(InvalidNatGatewayID.NotFound)" in routed.text
    for page in pages:
        assert page.status_code == 200 and not _NAT_ROW.findall(page.text)
        for secret in (nat.nat_gateway_id, "payroll", nat.public_ip, default.subnet.subnet_id):
            assert secret not in page.text
    assert await compute.describe_nat_gateways(tenant, []) == [nat]
    assert await compute.describe_nat_gateways(intruder_tenant, []) == []


async def test_forms_without_the_sessions_token_are_refused(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        subnet_id = (await compute.default_network(tenant)).subnet.subnet_id
        address = await compute.allocate_address(tenant)
        other = await compute.allocate_address(tenant)
        nat = await compute.create_nat_gateway(tenant, subnet_id, address.allocation_id)
        forged = "0" * len(await csrf(client, "/nat-gateways"))
        create = {"subnet_id": subnet_id, "allocation_id": other.allocation_id}
        answers = [
            await client.post("/nat-gateways", data={"csrf": forged, **create}),
            await client.post(
                f"/nat-gateways/{nat.nat_gateway_id}/delete", data={"csrf": forged, **_CONFIRMED}
            ),
            await client.post("/nat-gateways", data=create),
        ]
    for answer in answers:
        assert answer.status_code == 403 and "Form refused" in answer.text
    assert await compute.describe_nat_gateways(tenant, []) == [nat]


async def test_signed_out_the_page_and_its_forms_go_to_the_login(console: ConsoleHarness) -> None:
    async with console.client() as client:
        answers = [
            await client.get("/nat-gateways"),
            await client.post("/nat-gateways", data={"subnet_id": "x"}),
            await client.post("/nat-gateways/nat-0123456789abcdef0/delete", data=_CONFIRMED),
        ]
    for answer in answers:
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


async def test_the_page_in_french(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        tenant = await sign_in_root(console, client)
        subnet_id = (await compute.default_network(tenant)).subnet.subnet_id
        instances = await client.get("/instances")
        empty = await client.get("/nat-gateways")
        address = await compute.allocate_address(tenant)
        nat = await compute.create_nat_gateway(tenant, subnet_id, address.allocation_id)
        listing = await client.get("/nat-gateways")
        [main] = await compute.describe_route_tables(tenant, [])
        table = await client.get(f"/route-tables/{main.route_table_id}")
        token = csrf_of(listing)
        unconfirmed = await client.post(
            f"/nat-gateways/{nat.nat_gateway_id}/delete", data={"csrf": token}
        )
        missing = await client.post(
            "/nat-gateways/nat-0123456789abcdef0/delete", data={"csrf": token, **_CONFIRMED}
        )
    assert "Passerelles NAT" in instances.text
    assert '<html lang="fr">' in empty.text and "Aucune passerelle NAT." in empty.text
    assert "Aucune adresse IP Elastic libre" in empty.text
    assert "Créer la passerelle NAT" in listing.text
    assert "Identifiant de la passerelle NAT" in listing.text
    assert "Supprimer cette passerelle NAT" in listing.text
    assert 'optgroup label="Passerelles NAT"' in table.text and "Cible" in table.text
    assert unconfirmed.status_code == 400
    assert "Cochez la case pour confirmer la suppression." in unconfirmed.text
    assert missing.status_code == 400 and "(NatGatewayNotFound)" in missing.text
    assert "Cette passerelle NAT n\N{RIGHT SINGLE QUOTATION MARK}existe pas." in missing.text


async def test_a_server_without_ec2_says_so(console: ConsoleHarness) -> None:
    running = console.application._running
    assert running is not None
    running.console.console.ec2 = None
    async with console.client() as client:
        await sign_in_root(console, client)
        pages = [await client.get("/nat-gateways")]
        token = await csrf(client, "/instances")
        pages.append(await client.post("/nat-gateways", data={"csrf": token}))
        pages.append(
            await client.post(
                "/nat-gateways/nat-0123456789abcdef0/delete", data={"csrf": token, **_CONFIRMED}
            )
        )
    for page in pages:
        assert page.status_code == 404 and "This server serves no EC2." in page.text
