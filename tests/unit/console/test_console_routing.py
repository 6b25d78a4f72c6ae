"""The console's internet gateways and route tables pages (decision 0121): each read and change
EC2's own call as the signed-in user, so EC2's rules, policies and errors answer, and EC2
audits the changes."""

from __future__ import annotations

import re

import httpx

from andromede.audit.model import Outcome
from andromede.compute.network_interfaces import InterfaceRequest
from andromede.compute.routing import InternetGateway, Route, RouteTable
from support.console import (
    ConsoleHarness,
    csrf,
    csrf_of,
    log_in,
    logged_events,
    running_compute,
    sign_in_root,
)

_GATEWAY_ROW = re.compile(r'<tr class="internet-gateway" id="internet-gateway-(igw-[0-9a-f]+)">')
_TABLE_ROW = re.compile(r'<tr class="route-table" id="route-table-(rtb-[0-9a-f]+)">')
_ROUTE_ROW = re.compile(r'<tr class="route (\w+)" id="route-([0-9./]+)">')
_ASSOCIATION_ROW = re.compile(r'<tr class="association" id="association-(rtbassoc-[0-9a-f]+)">')
_CONFIRMED = {"confirm": "yes"}


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


async def _gateway(console: ConsoleHarness, tenant: str, gateway_id: str) -> InternetGateway:
    [gateway] = await running_compute(console).describe_internet_gateways(tenant, [gateway_id])
    return gateway


async def _table(console: ConsoleHarness, tenant: str, route_table_id: str) -> RouteTable:
    [table] = await running_compute(console).describe_route_tables(tenant, [route_table_id])
    return table


async def _vpc_with_subnet(console: ConsoleHarness, tenant: str, cidr: str) -> tuple[str, str]:
    """A VPC of ``cidr`` (a /16) and a subnet of its first /24: their ids."""
    compute = running_compute(console)
    vpc = await compute.create_vpc(tenant, cidr)
    subnet = await compute.create_subnet(tenant, vpc.vpc_id, cidr.replace(".0.0/16", ".1.0/24"))
    return vpc.vpc_id, subnet.subnet_id


async def _new_gateway(client: httpx.AsyncClient, name: str = "") -> str:
    """A gateway made through the page: its id."""
    listing = await client.get("/internet-gateways")
    before = set(_GATEWAY_ROW.findall(listing.text))
    made = await client.post("/internet-gateways", data={"csrf": csrf_of(listing), "name": name})
    assert made.status_code == 303, made.text
    assert made.headers["location"] == "/console/internet-gateways"
    [gateway_id] = set(_GATEWAY_ROW.findall((await client.get("/internet-gateways")).text)) - before
    return gateway_id


async def test_the_ec2_pages_link_gateways_and_route_tables(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = (await compute.default_network(tenant)).vpc.vpc_id
        instances = await client.get("/instances")
        vpcs = await client.get("/vpcs")
        gateways = await client.get("/internet-gateways")
        tables = await client.get(f"/route-tables?vpc_id={default}")
    for link in ("/console/internet-gateways", "/console/route-tables"):
        assert f'href="{link}"' in instances.text and f'href="{link}"' in vpcs.text
    row = _row(vpcs, f"vpc-{default}")
    assert f'href="/console/route-tables?vpc_id={default}"' in row
    assert f'href="/console/internet-gateways?vpc_id={default}"' in row
    # The default VPC is made with its gateway attached, and a main table routing out to it.
    [gateway_id] = _GATEWAY_ROW.findall(gateways.text)
    assert f'href="/console/vpcs#vpc-{default}"' in _row(gateways, f"internet-gateway-{gateway_id}")
    [main] = _TABLE_ROW.findall(tables.text)
    row = _row(tables, f"route-table-{main}")
    assert '<td class="main">Yes</td>' in row and '<td class="subnets">0</td>' in row


async def test_an_internet_gateway_created_attached_detached_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        gateway_id = await _new_gateway(client, "edge <1>")
        assert (await _gateway(console, tenant, gateway_id)).tags == (("Name", "edge <1>"),)
        listing = await client.get("/internet-gateways")
        row = _row(listing, f"internet-gateway-{gateway_id}")
        assert "edge &lt;1&gt;" in row and "edge <1>" not in row and "detached" in row
        assert f'<option value="{vpc_id}">' in row and "/attach" in row and "/detach" not in row
        token = csrf_of(listing)

        attached = await client.post(
            f"/internet-gateways/{gateway_id}/attach", data={"csrf": token, "vpc_id": vpc_id}
        )
        assert attached.status_code == 303, attached.text
        assert (await _gateway(console, tenant, gateway_id)).vpc_id == vpc_id
        listing = await client.get("/internet-gateways")
        row = _row(listing, f"internet-gateway-{gateway_id}")
        assert f'href="/console/vpcs#vpc-{vpc_id}"' in row and "available" in row
        assert f'name="vpc_id" value="{vpc_id}"' in row  # the detach button's
        only_its = await client.get(f"/internet-gateways?vpc_id={vpc_id}")
        assert _GATEWAY_ROW.findall(only_its.text) == [gateway_id]

        # EC2's refusals, shown as the other pages show them: code and message.
        twice = await client.post(
            f"/internet-gateways/{gateway_id}/attach", data={"csrf": token, "vpc_id": vpc_id}
        )
        attached_deleted = await client.post(
            f"/internet-gateways/{gateway_id}/delete", data={"csrf": token, **_CONFIRMED}
        )
        unconfirmed = await client.post(
            f"/internet-gateways/{gateway_id}/delete", data={"csrf": token}
        )
        second = await _new_gateway(client)
        second_attached = await client.post(
            f"/internet-gateways/{second}/attach", data={"csrf": token, "vpc_id": vpc_id}
        )
        detached = await client.post(
            f"/internet-gateways/{gateway_id}/detach", data={"csrf": token, "vpc_id": vpc_id}
        )
        detached_again = await client.post(
            f"/internet-gateways/{gateway_id}/detach", data={"csrf": token, "vpc_id": vpc_id}
        )
        deleted = await client.post(
            f"/internet-gateways/{gateway_id}/delete", data={"csrf": token, **_CONFIRMED}
        )
        after = await client.get("/internet-gateways")
    assert twice.status_code == 400 and "(Resource.AlreadyAssociated)" in twice.text
    assert f"is already attached to network {vpc_id}" in twice.text
    assert attached_deleted.status_code == 400 and 'role="alert"' in attached_deleted.text
    assert "(DependencyViolation)" in attached_deleted.text
    assert "has dependencies and cannot be deleted" in attached_deleted.text
    assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
    assert second_attached.status_code == 400 and "(InvalidParameterValue)" in (
        second_attached.text
    )
    assert "already has an internet gateway attached" in second_attached.text
    assert detached.status_code == 303, detached.text
    assert detached_again.status_code == 400 and "(Gateway.NotAttached)" in detached_again.text
    assert deleted.status_code == 303, deleted.text
    assert gateway_id not in _GATEWAY_ROW.findall(after.text)
    assert second in _GATEWAY_ROW.findall(after.text)
    remaining = await running_compute(console).describe_internet_gateways(tenant, [])
    assert gateway_id not in {g.gateway_id for g in remaining}


async def test_a_route_tables_routes_and_associations(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        first = await _new_gateway(client, "first")
        second = await _new_gateway(client, "second")
        token = await csrf(client, "/route-tables")
        attached = await client.post(
            f"/internet-gateways/{first}/attach", data={"csrf": token, "vpc_id": vpc_id}
        )
        assert attached.status_code == 303, attached.text
        listing = await client.get(f"/route-tables?vpc_id={vpc_id}")
        [old_main] = _TABLE_ROW.findall(listing.text)
        assert f'<option value="{vpc_id}" selected>' in listing.text

        created = await client.post(
            "/route-tables", data={"csrf": token, "vpc_id": vpc_id, "name": "public <a>"}
        )
        assert created.status_code == 303, created.text
        table_id = created.headers["location"].rsplit("/", 1)[1]
        assert created.headers["location"] == f"/console/route-tables/{table_id}"
        held = await _table(console, tenant, table_id)
        assert held.vpc_id == vpc_id and held.tags == (("Name", "public <a>"),)
        assert [r.gateway_id for r in held.routes] == ["local"] and held.associations == ()
        page = await client.get(f"/route-tables/{table_id}")
        assert page.status_code == 200 and "public &lt;a&gt;" in page.text
        # The local route has no button; a new table holds no subnet.
        assert _ROUTE_ROW.findall(page.text) == [("active", "10.1.0.0/16")]
        assert "/routes/delete" not in page.text and "/routes/replace" not in page.text
        assert "No associations." in page.text and f'<option value="{subnet_id}"' in page.text
        # The gateway attached to the table's VPC is offered first.
        add_form = page.text.split('id="add-route"')[1].split("</form>")[0]
        assert add_form.index(first) < add_form.index(second)

        route = {"csrf": token, "destination": "0.0.0.0/0", "gateway_id": first}
        added = await client.post(f"/route-tables/{table_id}/routes/add", data=route)
        assert added.status_code == 303, added.text
        assert added.headers["location"] == f"/console/route-tables/{table_id}"
        again = await client.post(f"/route-tables/{table_id}/routes/add", data=route)
        inside = await client.post(
            f"/route-tables/{table_id}/routes/add", data={**route, "destination": "10.1.2.0/24"}
        )
        local = await client.post(
            f"/route-tables/{table_id}/routes/delete",
            data={"csrf": token, "destination": "10.1.0.0/16"},
        )
        assert again.status_code == 400 and "(RouteAlreadyExists)" in again.text
        assert 'value="0.0.0.0/0"' in again.text.split('id="add-route"')[1].split("</form>")[0]
        assert inside.status_code == 400 and "(InvalidParameterValue)" in inside.text
        assert local.status_code == 400 and "cannot remove local route" in local.text
        page = await client.get(f"/route-tables/{table_id}")
        assert _ROUTE_ROW.findall(page.text) == [("active", "10.1.0.0/16"), ("active", "0.0.0.0/0")]
        assert "/routes/delete" in _row(page, "route-0.0.0.0/0")

        # Detached, the gateway leaves the route a blackhole; replaced, the route is active.
        detached = await client.post(
            f"/internet-gateways/{first}/detach", data={"csrf": token, "vpc_id": vpc_id}
        )
        assert detached.status_code == 303, detached.text
        page = await client.get(f"/route-tables/{table_id}")
        assert ("blackhole", "0.0.0.0/0") in _ROUTE_ROW.findall(page.text)
        assert "<strong>blackhole</strong>" in _row(page, "route-0.0.0.0/0")
        await client.post(
            f"/internet-gateways/{second}/attach", data={"csrf": token, "vpc_id": vpc_id}
        )
        replace = {**route, "gateway_id": second}
        replaced = await client.post(f"/route-tables/{table_id}/routes/replace", data=replace)
        assert replaced.status_code == 303, replaced.text
        assert Route("0.0.0.0/0", second) in (await _table(console, tenant, table_id)).routes
        page = await client.get(f"/route-tables/{table_id}")
        assert ("active", "0.0.0.0/0") in _ROUTE_ROW.findall(page.text)
        no_route = await client.post(
            f"/route-tables/{table_id}/routes/replace",
            data={**replace, "destination": "198.51.100.0/24"},
        )
        assert no_route.status_code == 400 and "There is no route defined" in no_route.text
        deleted_route = await client.post(
            f"/route-tables/{table_id}/routes/delete",
            data={"csrf": token, "destination": "0.0.0.0/0"},
        )
        assert deleted_route.status_code == 303, deleted_route.text
        held = await _table(console, tenant, table_id)
        assert [r.gateway_id for r in held.routes] == ["local"]

        # A subnet associated, then disassociated.
        associated = await client.post(
            f"/route-tables/{table_id}/associate", data={"csrf": token, "subnet_id": subnet_id}
        )
        assert associated.status_code == 303, associated.text
        page = await client.get(f"/route-tables/{table_id}")
        [association_id] = _ASSOCIATION_ROW.findall(page.text)
        row = _row(page, f"association-{association_id}")
        assert f'href="/console/vpcs#subnet-{subnet_id}"' in row and "Disassociate" in row
        listing = await client.get(f"/route-tables?vpc_id={vpc_id}")
        assert '<td class="subnets">1</td>' in _row(listing, f"route-table-{table_id}")
        twice = await client.post(
            f"/route-tables/{table_id}/associate", data={"csrf": token, "subnet_id": subnet_id}
        )
        in_use = await client.post(
            f"/route-tables/{table_id}/delete", data={"csrf": token, **_CONFIRMED}
        )
        assert twice.status_code == 400 and "(Resource.AlreadyAssociated)" in twice.text
        assert in_use.status_code == 400 and "(DependencyViolation)" in in_use.text
        assert 'id="add-route"' in in_use.text  # the table's page, with EC2's refusal
        disassociated = await client.post(
            f"/route-tables/{table_id}/disassociate",
            data={"csrf": token, "association_id": association_id},
        )
        assert disassociated.status_code == 303, disassociated.text
        assert (await _table(console, tenant, table_id)).associations == ()

        # Made main: the VPC's main association moved onto the table.
        [old_association] = (await _table(console, tenant, old_main)).associations
        made_main = await client.post(f"/route-tables/{table_id}/main", data={"csrf": token})
        assert made_main.status_code == 303, made_main.text
        [main_association] = (await _table(console, tenant, table_id)).associations
        assert main_association.main and main_association.association_id != (
            old_association.association_id
        )
        assert (await _table(console, tenant, old_main)).associations == ()
        listing = await client.get(f"/route-tables?vpc_id={vpc_id}")
        assert '<td class="main">Yes</td>' in _row(listing, f"route-table-{table_id}")
        assert '<td class="main">No</td>' in _row(listing, f"route-table-{old_main}")
        page = await client.get(f"/route-tables/{table_id}")
        assert 'id="make-main"' not in page.text and 'id="delete-route-table"' not in page.text
        assert "Main route table" in page.text and "Disassociate" not in page.text
        main_deleted = await client.post(
            f"/route-tables/{table_id}/delete", data={"csrf": token, **_CONFIRMED}
        )
        old_page = await client.get(f"/route-tables/{old_main}")
        assert 'id="make-main"' in old_page.text and 'id="delete-route-table"' in old_page.text
        unconfirmed = await client.post(f"/route-tables/{old_main}/delete", data={"csrf": token})
        old_deleted = await client.post(
            f"/route-tables/{old_main}/delete", data={"csrf": token, **_CONFIRMED}
        )
        gone = await client.get(f"/route-tables/{old_main}")
    assert main_deleted.status_code == 400 and "(DependencyViolation)" in main_deleted.text
    assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
    assert old_deleted.status_code == 303 and old_deleted.headers["location"] == (
        "/console/route-tables"
    )
    assert gone.status_code == 400 and "(InvalidRouteTableID.NotFound)" in gone.text
    tables = await compute.describe_route_tables(tenant, [])
    assert [t.route_table_id for t in tables if t.vpc_id == vpc_id] == [table_id]


async def test_a_user_without_ec2_permissions_gets_ec2s_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    default = (await compute.default_network(tenant)).vpc.vpc_id
    [main] = await compute.describe_route_tables(tenant, [])
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        paths = ("/internet-gateways", "/route-tables", f"/route-tables/{main.route_table_id}")
        pages = {path: await client.get(path) for path in paths}
        token = await csrf(client, "/internet-gateways")
        changes = [
            await client.post("/internet-gateways", data={"csrf": token, "name": "mine"}),
            await client.post("/route-tables", data={"csrf": token, "vpc_id": default}),
            await client.post(
                f"/route-tables/{main.route_table_id}/routes/delete",
                data={"csrf": token, "destination": "0.0.0.0/0"},
            ),
        ]
    for path, page in pages.items():
        assert page.status_code == 403, path
        assert "(UnauthorizedOperation)" in page.text and ":user/intern" in page.text
    assert "ec2:DescribeInternetGateways" in pages["/internet-gateways"].text
    assert "ec2:DescribeRouteTables" in pages["/route-tables"].text
    actions = ["ec2:CreateInternetGateway", "ec2:CreateRouteTable", "ec2:DeleteRoute"]
    for answer, action in zip(changes, actions, strict=True):
        assert answer.status_code == 403 and action in answer.text
    failures = [
        (e.action, e.details.get("status"))
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.FAILURE and e.action.startswith("ec2:")
    ]
    assert failures == [(action, "403") for action in actions]
    assert len(await compute.describe_internet_gateways(tenant, [])) == 1
    assert await compute.describe_route_tables(tenant, []) == [main]


async def test_another_tenants_resources_are_not_found(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as owner:
        tenant = await sign_in_root(console, owner)
        vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.7.0.0/16")
        gateway_id = await _new_gateway(owner, "payroll-gw")
        token = await csrf(owner, "/route-tables")
        made = await owner.post(
            "/route-tables", data={"csrf": token, "vpc_id": vpc_id, "name": "payroll-rtb"}
        )
        table_id = made.headers["location"].rsplit("/", 1)[1]
    gateways_before = await compute.describe_internet_gateways(tenant, [])
    tables_before = await compute.describe_route_tables(tenant, [])
    async with console.client() as intruder:
        intruder_tenant = await sign_in_root(console, intruder, account="intruder")
        their_vpc = (await compute.default_network(intruder_tenant)).vpc.vpc_id
        [their_table] = await compute.describe_route_tables(intruder_tenant, [])
        token = await csrf(intruder, "/internet-gateways")
        route = {"csrf": token, "destination": "198.51.100.0/24", "gateway_id": gateway_id}
        gateway_answers = [
            await intruder.post(
                f"/internet-gateways/{gateway_id}/attach",
                data={"csrf": token, "vpc_id": their_vpc},
            ),
            await intruder.post(
                f"/internet-gateways/{gateway_id}/detach", data={"csrf": token, "vpc_id": vpc_id}
            ),
            await intruder.post(
                f"/internet-gateways/{gateway_id}/delete", data={"csrf": token, **_CONFIRMED}
            ),
        ]
        table_answers = [
            await intruder.get(f"/route-tables/{table_id}"),
            await intruder.post(f"/route-tables/{table_id}/routes/add", data=route),
            await intruder.post(f"/route-tables/{table_id}/main", data={"csrf": token}),
            await intruder.post(
                f"/route-tables/{table_id}/delete", data={"csrf": token, **_CONFIRMED}
            ),
        ]
        in_their_vpc = await intruder.post(
            "/route-tables", data={"csrf": token, "vpc_id": vpc_id, "name": "x"}
        )
        to_their_gateway = await intruder.post(
            f"/route-tables/{their_table.route_table_id}/routes/add", data=route
        )
        pages = [await intruder.get(path) for path in ("/internet-gateways", "/route-tables")]
        filtered = [
            await intruder.get(f"/route-tables?vpc_id={vpc_id}"),
            await intruder.get(f"/internet-gateways?vpc_id={vpc_id}"),
        ]
    for answer in gateway_answers:
        assert answer.status_code == 400, answer.text
        assert "(InvalidInternetGatewayID.NotFound)" in answer.text
    for answer in table_answers:
        assert answer.status_code == 400, answer.text
        assert "(InvalidRouteTableID.NotFound)" in answer.text and "payroll" not in answer.text
    assert in_their_vpc.status_code == 400 and "(InvalidVpcID.NotFound)" in in_their_vpc.text
    assert to_their_gateway.status_code == 400
    assert "(InvalidGatewayID.NotFound)" in to_their_gateway.text
    for page in pages:
        assert page.status_code == 200
        for secret in (gateway_id, table_id, vpc_id, "payroll"):
            assert secret not in page.text
    # The VPC named in the query: none of the caller's, so nothing of it listed.
    for page in filtered:
        assert page.status_code == 200
        assert not _TABLE_ROW.findall(page.text) and not _GATEWAY_ROW.findall(page.text)
        assert gateway_id not in page.text and table_id not in page.text
    assert await compute.describe_internet_gateways(tenant, []) == gateways_before
    assert await compute.describe_route_tables(tenant, []) == tables_before


async def test_forms_without_the_sessions_token_are_refused(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = (await compute.default_network(tenant)).vpc.vpc_id
        [gateway] = await compute.describe_internet_gateways(tenant, [])
        [table] = await compute.describe_route_tables(tenant, [])
        rtb, igw = table.route_table_id, gateway.gateway_id
        forged = "0" * len(await csrf(client, "/route-tables"))
        answers = [
            await client.post(path, data={"csrf": forged, **data})
            for path, data in [
                ("/internet-gateways", {"name": "forged"}),
                (f"/internet-gateways/{igw}/detach", {"vpc_id": default}),
                (f"/internet-gateways/{igw}/delete", _CONFIRMED),
                (f"/internet-gateways/{igw}/delete", {}),
                ("/route-tables", {"vpc_id": default}),
                (f"/route-tables/{rtb}/routes/delete", {"destination": "0.0.0.0/0"}),
                (f"/route-tables/{rtb}/routes/add",
                 {"destination": "198.51.100.0/24", "gateway_id": igw}),
                (f"/route-tables/{rtb}/main", {}),
                (f"/route-tables/{rtb}/delete", _CONFIRMED),
            ]
        ]  # fmt: skip
        no_token = await client.post(f"/internet-gateways/{igw}/detach", data={"vpc_id": default})
    for answer in [*answers, no_token]:
        assert answer.status_code == 403 and "Form refused" in answer.text
    assert await compute.describe_internet_gateways(tenant, []) == [gateway]
    assert await compute.describe_route_tables(tenant, []) == [table]


async def test_the_pages_in_french(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        tenant = await sign_in_root(console, client)
        [gateway] = await compute.describe_internet_gateways(tenant, [])
        default = (await compute.default_network(tenant)).vpc.vpc_id
        [table] = await compute.describe_route_tables(tenant, [])
        instances = await client.get("/instances")
        gateways = await client.get("/internet-gateways")
        tables = await client.get("/route-tables")
        token = csrf_of(gateways)
        await client.post(
            f"/internet-gateways/{gateway.gateway_id}/detach",
            data={"csrf": token, "vpc_id": default},
        )
        page = await client.get(f"/route-tables/{table.route_table_id}")
        unconfirmed = await client.post(
            f"/internet-gateways/{gateway.gateway_id}/delete", data={"csrf": token}
        )
    assert "Passerelles Internet" in instances.text and "Tables de routage" in instances.text
    assert '<html lang="fr">' in gateways.text and "Créer la passerelle Internet" in gateways.text
    assert "Créer la table de routage" in tables.text and "Principale" in tables.text
    assert "Table de routage principale" in page.text and "trou noir" in page.text
    assert "Identifiant d\N{RIGHT SINGLE QUOTATION MARK}association" in page.text
    assert unconfirmed.status_code == 400
    assert "Cochez la case pour confirmer la suppression." in unconfirmed.text


async def test_a_server_without_ec2_says_so(console: ConsoleHarness) -> None:
    running = console.application._running
    assert running is not None
    running.console.console.ec2 = None
    async with console.client() as client:
        await sign_in_root(console, client)
        paths = ("/internet-gateways", "/route-tables", "/route-tables/rtb-0123456789abcdef0")
        pages = [await client.get(path) for path in paths]
        token = await csrf(client, "/route-tables")
        pages.append(await client.post("/internet-gateways", data={"csrf": token}))
        pages.append(
            await client.post(
                "/route-tables/rtb-0123456789abcdef0/delete", data={"csrf": token, **_CONFIRMED}
            )
        )
    for page in pages:
        assert page.status_code == 404 and "This server serves no EC2." in page.text


async def test_a_create_form_sent_twice_makes_one_table(console: ConsoleHarness) -> None:
    """The form carries a ClientToken, as the launch form does: a double click, or the browser
    sending the form again, makes one route table."""
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.4.0.0/16")
        listing = await client.get(f"/route-tables?vpc_id={vpc_id}")
        token = re.search(r'name="client_token" value="([^"]+)"', listing.text)
        assert token is not None
        form = {"csrf": csrf_of(listing), "vpc_id": vpc_id, "client_token": token.group(1)}
        first = await client.post("/route-tables", data=form)
        second = await client.post("/route-tables", data=form)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        tables = await running_compute(console).describe_route_tables(tenant, [])
        assert len([t for t in tables if t.vpc_id == vpc_id]) == 2  # its main table and this one
        # Another render, another token: another table.
        again = await client.get(f"/route-tables?vpc_id={vpc_id}")
        assert token.group(1) not in again.text


async def test_a_route_to_a_nat_gateway_names_it(console: ConsoleHarness) -> None:
    """A route to a NAT gateway (decision 0129) shows the gateway as its target."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.3.0.0/16")
        gateway = await compute.create_internet_gateway(tenant)
        await compute.attach_internet_gateway(tenant, gateway.gateway_id, vpc_id)
        address = await compute.allocate_address(tenant)
        nat = await compute.create_nat_gateway(tenant, subnet_id, address.allocation_id)
        table = await compute.create_route_table(tenant, vpc_id)
        await compute.create_route(
            tenant, table.route_table_id, "0.0.0.0/0", None, nat_gateway_id=nat.nat_gateway_id
        )
        page = await client.get(f"/route-tables/{table.route_table_id}")
        assert page.status_code == 200, page.text
        assert nat.nat_gateway_id in _row(page, "route-0.0.0.0/0")


async def test_a_route_to_a_prefix_list_is_shown_added_replaced_and_deleted(
    console: ConsoleHarness,
) -> None:
    """A route whose destination is a managed prefix list (decision 0149's addendum) shows the
    list's id as its destination; the forms take a ``pl-`` id typed as the destination."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.4.0.0/16")
        gateway = await compute.create_internet_gateway(tenant)
        await compute.attach_internet_gateway(tenant, gateway.gateway_id, vpc_id)
        plist = await compute.create_managed_prefix_list(
            tenant, "offices", "IPv4", 5, [("192.0.2.0/24", "")]
        )
        list_id = plist.prefix_list_id
        table = await compute.create_route_table(tenant, vpc_id)
        table_id = table.route_table_id
        token = await csrf(client, f"/route-tables/{table_id}")
        route = {"csrf": token, "destination": list_id, "gateway_id": gateway.gateway_id}
        added = await client.post(f"/route-tables/{table_id}/routes/add", data=route)
        assert added.status_code == 303, added.text
        [_, held] = (await _table(console, tenant, table_id)).routes
        assert (held.destination_prefix_list_id, held.target) == (list_id, gateway.gateway_id)
        page = await client.get(f"/route-tables/{table_id}")
        row = _row(page, f"route-{list_id}")
        assert f"<code>{list_id}</code>" in row and "/routes/delete" in row
        again = await client.post(f"/route-tables/{table_id}/routes/add", data=route)
        assert again.status_code == 400 and "(RouteAlreadyExists)" in again.text
        address = await compute.allocate_address(tenant)
        nat = await compute.create_nat_gateway(tenant, subnet_id, address.allocation_id)
        replaced = await client.post(
            f"/route-tables/{table_id}/routes/replace",
            data={**route, "gateway_id": nat.nat_gateway_id},
        )
        assert replaced.status_code == 303, replaced.text
        [_, held] = (await _table(console, tenant, table_id)).routes
        assert held.target == nat.nat_gateway_id
        deleted = await client.post(
            f"/route-tables/{table_id}/routes/delete", data={"csrf": token, "destination": list_id}
        )
        assert deleted.status_code == 303, deleted.text
        assert len((await _table(console, tenant, table_id)).routes) == 1
        unknown = await client.post(
            f"/route-tables/{table_id}/routes/add",
            data={**route, "destination": "pl-0123456789abcdef0"},
        )
        assert unknown.status_code == 400 and "(InvalidPrefixListID.NotFound)" in unknown.text


async def test_a_route_to_a_network_interface_names_it(console: ConsoleHarness) -> None:
    """A route to a network interface (decision 0161's addendum) shows the interface as its
    target."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.4.0.0/16")
        interface = await compute.create_network_interface(tenant, InterfaceRequest(subnet_id))
        table = await compute.create_route_table(tenant, vpc_id)
        await compute.create_route(
            tenant, table.route_table_id, "192.168.77.0/24", None,
            network_interface_id=interface.interface_id,
        )  # fmt: skip
        page = await client.get(f"/route-tables/{table.route_table_id}")
        assert page.status_code == 200, page.text
        assert interface.interface_id in _row(page, "route-192.168.77.0/24")
