"""The console's Elastic IPs page (decision 0125): each read and change EC2's own call as the
signed-in user, so EC2's rules, quotas, policies and errors answer, and EC2 audits the
changes; an instance's page shows its address and links to it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from andromede.audit.model import Outcome
from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.service import RunRequest
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

_ADDRESS_ROW = re.compile(r'<tr class="elastic-ip" id="elastic-ip-(eipalloc-[0-9a-f]+)">')
_CONFIRMED = {"confirm": "yes"}
POOL_FIRST = "100.66.0.1"  # the default pool's first address


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


async def _address(console: ConsoleHarness, tenant: str, allocation_id: str) -> ElasticAddress:
    [address] = await running_compute(console).describe_addresses(tenant, [allocation_id], [])
    return address


async def _instance(
    console: ConsoleHarness, tmp_path: Path, tenant: str, name: str, subnet_id: str | None = None
) -> str:
    """A running instance of the tenant's (in its default subnet, or ``subnet_id``): its id."""
    compute = running_compute(console)
    disk = tmp_path / "disk.raw"
    if not disk.exists():
        disk.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(disk, name="debian-12", owner_id=None)
    [instance] = await compute.run_instances(
        tenant,
        RunRequest(image.image_id, "t3.nano", instance_tags=(("Name", name),), subnet_id=subnet_id),
    )
    await compute.settle()
    return instance.instance_id


async def _allocate(client: httpx.AsyncClient, name: str = "") -> str:
    """An address allocated through the page: its allocation id."""
    listing = await client.get("/elastic-ips")
    before: set[str] = set(_ADDRESS_ROW.findall(listing.text))
    made = await client.post("/elastic-ips", data={"csrf": csrf_of(listing), "name": name})
    assert made.status_code == 303, made.text
    assert made.headers["location"] == "/console/elastic-ips"
    after: set[str] = set(_ADDRESS_ROW.findall((await client.get("/elastic-ips")).text))
    [allocation_id] = after - before
    return allocation_id


async def test_an_address_allocated_associated_moved_disassociated_released(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        instances = await client.get("/instances")
        assert 'href="/console/elastic-ips"' in instances.text
        empty = await client.get("/elastic-ips")
        assert empty.status_code == 200 and "No Elastic IP addresses." in empty.text
        first = await _instance(console, tmp_path, tenant, "web-1")
        second = await _instance(console, tmp_path, tenant, "web-2")
        [first_private] = [i.private_ip for i in await compute.describe_instances(tenant, [first])]
        assert first_private

        allocation_id = await _allocate(client, "edge <1>")
        held = await _address(console, tenant, allocation_id)
        assert held.public_ip == POOL_FIRST and held.tags == (("Name", "edge <1>"),)
        listing = await client.get("/elastic-ips")
        row = _row(listing, f"elastic-ip-{allocation_id}")
        assert f"<code>{POOL_FIRST}</code>" in row and "edge &lt;1&gt;" in row
        assert "edge <1>" not in row and "/disassociate" not in row and "/release" in row
        # The associate form offers the account's instances, with their names.
        assert f'<option value="{first}">{first} (web-1, {first_private}, running)' in row
        assert f'<option value="{second}">' in row and 'name="allow_reassociation"' in row
        token = csrf_of(listing)

        associated = await client.post(
            f"/elastic-ips/{allocation_id}/associate", data={"csrf": token, "instance_id": first}
        )
        assert associated.status_code == 303, associated.text
        assert associated.headers["location"] == "/console/elastic-ips"
        held = await _address(console, tenant, allocation_id)
        assert held.instance_id == first and held.association_id
        association_id = held.association_id
        listing = await client.get("/elastic-ips")
        row = _row(listing, f"elastic-ip-{allocation_id}")
        assert f'href="/console/instances/{first}"' in row and "(web-1)" in row
        assert f'<td class="private-ip">{first_private}</td>' in row
        assert f"<code>{association_id}</code>" in row and "/disassociate" in row
        assert f'<option value="{first}" selected>' in row
        # The instance's page shows its address and links to it; the list shows it as public.
        detail = await client.get(f"/instances/{first}")
        cell = detail.text.split('<td id="elastic-ip">', 1)[1].split("</td>", 1)[0]
        assert f'href="/console/elastic-ips#elastic-ip-{allocation_id}"' in cell
        assert POOL_FIRST in cell and allocation_id in cell
        other_detail = await client.get(f"/instances/{second}")
        assert '<td id="elastic-ip">-</td>' in other_detail.text
        assert POOL_FIRST in (await client.get("/instances")).text

        # EC2's refusals, shown as the other pages show them: code and message.
        in_use = await client.post(
            f"/elastic-ips/{allocation_id}/release", data={"csrf": token, **_CONFIRMED}
        )
        elsewhere = await client.post(
            f"/elastic-ips/{allocation_id}/associate", data={"csrf": token, "instance_id": second}
        )
        unconfirmed = await client.post(
            f"/elastic-ips/{allocation_id}/release", data={"csrf": token}
        )
        assert in_use.status_code == 400 and 'role="alert"' in in_use.text
        assert "(InvalidIPAddress.InUse)" in in_use.text and "is in use" in in_use.text
        assert "disassociate it first" in in_use.text
        assert elsewhere.status_code == 400 and "(Resource.AlreadyAssociated)" in elsewhere.text
        assert f"already associated with associate-id {association_id}" in elsewhere.text
        # The refused form as it was sent: the other instance still chosen in that row.
        assert f'<option value="{second}" selected>' in _row(
            elsewhere, f"elastic-ip-{allocation_id}"
        )
        assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
        assert (await _address(console, tenant, allocation_id)).instance_id == first

        # Moved with the box ticked.
        moved = await client.post(
            f"/elastic-ips/{allocation_id}/associate",
            data={"csrf": token, "instance_id": second, "allow_reassociation": "yes"},
        )
        assert moved.status_code == 303, moved.text
        held = await _address(console, tenant, allocation_id)
        assert held.instance_id == second and held.association_id != association_id
        assert '<td id="elastic-ip">-</td>' in (await client.get(f"/instances/{first}")).text

        disassociated = await client.post(
            f"/elastic-ips/{allocation_id}/disassociate",
            data={"csrf": token, "association_id": held.association_id or ""},
        )
        assert disassociated.status_code == 303, disassociated.text
        assert (await _address(console, tenant, allocation_id)).association_id is None
        again = await client.post(
            f"/elastic-ips/{allocation_id}/disassociate",
            data={"csrf": token, "association_id": held.association_id or ""},
        )
        assert again.status_code == 400 and "(InvalidAssociationID.NotFound)" in again.text
        row = _row(await client.get("/elastic-ips"), f"elastic-ip-{allocation_id}")
        assert '<td class="instance">-</td>' in row and "/disassociate" not in row

        released = await client.post(
            f"/elastic-ips/{allocation_id}/release", data={"csrf": token, **_CONFIRMED}
        )
        assert released.status_code == 303, released.text
        after = await client.get("/elastic-ips")
        gone = await client.post(
            f"/elastic-ips/{allocation_id}/release", data={"csrf": token, **_CONFIRMED}
        )
    assert _ADDRESS_ROW.findall(after.text) == [] and "No Elastic IP addresses." in after.text
    assert await compute.describe_addresses(tenant, [], []) == []
    assert gone.status_code == 400 and "(InvalidAllocationID.NotFound)" in gone.text
    changes = [
        e.action
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.SUCCESS and e.action.endswith("Address")
    ]
    assert changes == [
        "ec2:AllocateAddress",
        "ec2:AssociateAddress",
        "ec2:AssociateAddress",
        "ec2:DisassociateAddress",
        "ec2:ReleaseAddress",
    ]


async def test_the_quota_and_a_vpc_without_a_gateway_are_ec2s_refusals(tmp_path: Path) -> None:
    async with console_harness(tmp_path, max_elastic_ips_per_tenant=1) as console:
        compute = running_compute(console)
        async with console.client() as client:
            tenant = await sign_in_root(console, client)
            vpc = await compute.create_vpc(tenant, "10.9.0.0/16")
            subnet = await compute.create_subnet(tenant, vpc.vpc_id, "10.9.1.0/24")
            closed = await _instance(console, tmp_path, tenant, "closed", subnet.subnet_id)
            allocation_id = await _allocate(client)
            token = await csrf(client, "/elastic-ips")
            over = await client.post("/elastic-ips", data={"csrf": token, "name": "second"})
            no_gateway = await client.post(
                f"/elastic-ips/{allocation_id}/associate",
                data={"csrf": token, "instance_id": closed},
            )
            nothing = await client.post(
                f"/elastic-ips/{allocation_id}/associate", data={"csrf": token, "instance_id": ""}
            )
        assert over.status_code == 400 and "(AddressLimitExceeded)" in over.text
        assert "Elastic IP quota is reached" in over.text
        assert "The maximum number of addresses has been reached." in over.text
        # The refused allocation's Name as typed.
        assert 'name="name" maxlength="256" value="second"' in over.text
        assert no_gateway.status_code == 400 and "(Gateway.NotAttached)" in no_gateway.text
        assert f"Network {vpc.vpc_id} is not attached to any internet gateway" in no_gateway.text
        assert nothing.status_code == 400 and "(InvalidInstanceID.Malformed)" in nothing.text
        [only] = await compute.describe_addresses(tenant, [], [])
        assert only.allocation_id == allocation_id and only.association_id is None


async def test_a_user_without_ec2_permissions_gets_ec2s_refusal(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    instance_id = await _instance(console, tmp_path, tenant, "web")
    address = await compute.allocate_address(tenant)
    await compute.associate_address(
        tenant, allocation_id=address.allocation_id, instance_id=instance_id
    )
    [held] = await compute.describe_addresses(tenant, [], [])
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        page = await client.get("/elastic-ips")
        token = await csrf(client, "/elastic-ips")
        allocation = f"/elastic-ips/{address.allocation_id}"
        changes = [
            await client.post("/elastic-ips", data={"csrf": token, "name": "mine"}),
            await client.post(
                f"{allocation}/associate", data={"csrf": token, "instance_id": instance_id}
            ),
            await client.post(
                f"{allocation}/disassociate",
                data={"csrf": token, "association_id": held.association_id or ""},
            ),
            await client.post(f"{allocation}/release", data={"csrf": token, **_CONFIRMED}),
        ]
    assert page.status_code == 403 and "ec2:DescribeAddresses" in page.text
    for answer in [page, *changes]:
        assert "(UnauthorizedOperation)" in answer.text and ":user/intern" in answer.text
        assert "Access denied: your policies do not allow this." in answer.text
    actions = [
        "ec2:AllocateAddress",
        "ec2:AssociateAddress",
        "ec2:DisassociateAddress",
        "ec2:ReleaseAddress",
    ]
    for answer, action in zip(changes, actions, strict=True):
        assert answer.status_code == 403 and action in answer.text
    failures = [
        (e.action, e.details.get("status"))
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.FAILURE and e.action.endswith("Address")
    ]
    assert failures == [(action, "403") for action in actions]
    assert await compute.describe_addresses(tenant, [], []) == [held]


async def test_a_user_allowed_to_read_instances_only(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    """An instance's page still shows the instance to a user EC2 refuses DescribeAddresses;
    a reader of addresses who may not associate sees EC2's refusal of that one call."""
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    instance_id = await _instance(console, tmp_path, tenant, "web")
    address = await compute.allocate_address(tenant)
    for user, actions in (
        ("operator", ["ec2:DescribeInstances", "ec2:GetConsoleOutput"]),
        ("reader", ["ec2:DescribeAddresses", "ec2:DescribeInstances"]),
    ):
        await console.user_with_password(tenant, user)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        await console.identity.put_user_policy(tenant, user, "read", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "operator")).status_code == 303
        detail = await client.get(f"/instances/{instance_id}")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        listing = await client.get("/elastic-ips")
        associated = await client.post(
            f"/elastic-ips/{address.allocation_id}/associate",
            data={"csrf": csrf_of(listing), "instance_id": instance_id},
        )
    assert detail.status_code == 200 and '<td id="elastic-ip">-</td>' in detail.text
    assert listing.status_code == 200 and address.allocation_id in listing.text
    assert f'<option value="{instance_id}">' in listing.text
    assert associated.status_code == 403 and "ec2:AssociateAddress" in associated.text
    assert (await _address(console, tenant, address.allocation_id)).association_id is None


async def test_another_tenants_address_is_not_found(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    async with console.client() as owner:
        tenant = await sign_in_root(console, owner)
        instance_id = await _instance(console, tmp_path, tenant, "payroll")
        allocation_id = await _allocate(owner, "payroll-eip")
        token = await csrf(owner, "/elastic-ips")
        await owner.post(
            f"/elastic-ips/{allocation_id}/associate",
            data={"csrf": token, "instance_id": instance_id},
        )
    [held] = await compute.describe_addresses(tenant, [], [])
    assert held.association_id
    async with console.client() as intruder:
        intruder_tenant = await sign_in_root(console, intruder, account="intruder")
        theirs = await _instance(console, tmp_path, intruder_tenant, "theirs")
        mine = await _allocate(intruder)
        token = await csrf(intruder, "/elastic-ips")
        allocation = f"/elastic-ips/{allocation_id}"
        answers = [
            await intruder.post(
                f"{allocation}/associate",
                data={"csrf": token, "instance_id": theirs, "allow_reassociation": "yes"},
            ),
            await intruder.post(f"{allocation}/release", data={"csrf": token, **_CONFIRMED}),
        ]
        disassociated = await intruder.post(
            f"{allocation}/disassociate",
            data={"csrf": token, "association_id": held.association_id or ""},
        )
        to_their_instance = await intruder.post(
            f"/elastic-ips/{mine}/associate", data={"csrf": token, "instance_id": instance_id}
        )
        page = await intruder.get("/elastic-ips")
    for answer in answers:
        assert answer.status_code == 400 and "(InvalidAllocationID.NotFound)" in answer.text
    assert disassociated.status_code == 400
    assert "(InvalidAssociationID.NotFound)" in disassociated.text
    assert to_their_instance.status_code == 400
    assert "(InvalidInstanceID.NotFound)" in to_their_instance.text
    assert _ADDRESS_ROW.findall(page.text) == [mine]
    for secret in (allocation_id, POOL_FIRST, "payroll", instance_id):
        assert secret not in page.text
    assert await compute.describe_addresses(tenant, [], []) == [held]


async def test_forms_without_the_sessions_token_are_refused(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        instance_id = await _instance(console, tmp_path, tenant, "web")
        allocation_id = await _allocate(client)
        forged = "0" * len(await csrf(client, "/elastic-ips"))
        allocation = f"/elastic-ips/{allocation_id}"
        answers = [
            await client.post(path, data={"csrf": forged, **data})
            for path, data in [
                ("/elastic-ips", {"name": "forged"}),
                (f"{allocation}/associate", {"instance_id": instance_id}),
                (f"{allocation}/disassociate", {"association_id": "eipassoc-0123456789abcdef0"}),
                (f"{allocation}/release", _CONFIRMED),
                (f"{allocation}/release", {}),
            ]
        ]
        no_token = await client.post(f"{allocation}/release", data=_CONFIRMED)
    for answer in [*answers, no_token]:
        assert answer.status_code == 403 and "Form refused" in answer.text
    [still] = await compute.describe_addresses(tenant, [], [])
    assert still.allocation_id == allocation_id and still.association_id is None


async def test_signed_out_the_page_and_its_forms_go_to_the_login(console: ConsoleHarness) -> None:
    async with console.client() as client:
        answers = [
            await client.get("/elastic-ips"),
            await client.post("/elastic-ips", data={"name": "x"}),
            await client.post("/elastic-ips/eipalloc-0123456789abcdef0/release", data=_CONFIRMED),
        ]
    for answer in answers:
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


async def test_the_page_in_french(console: ConsoleHarness, tmp_path: Path) -> None:
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        tenant = await sign_in_root(console, client)
        instance_id = await _instance(console, tmp_path, tenant, "web")
        instances = await client.get("/instances")
        empty = await client.get("/elastic-ips")
        allocation_id = await _allocate(client)
        token = await csrf(client, "/elastic-ips")
        await client.post(
            f"/elastic-ips/{allocation_id}/associate",
            data={"csrf": token, "instance_id": instance_id},
        )
        listing = await client.get("/elastic-ips")
        detail = await client.get(f"/instances/{instance_id}")
        in_use = await client.post(
            f"/elastic-ips/{allocation_id}/release", data={"csrf": token, **_CONFIRMED}
        )
        unconfirmed = await client.post(
            f"/elastic-ips/{allocation_id}/release", data={"csrf": token}
        )
    assert "Adresses IP Elastic" in instances.text
    assert '<html lang="fr">' in empty.text and "Aucune adresse IP Elastic." in empty.text
    assert "Allouer une adresse IP Elastic" in empty.text
    assert "Identifiant d\N{RIGHT SINGLE QUOTATION MARK}allocation" in listing.text
    assert "Autoriser la réassociation" in listing.text and "Dissocier" in listing.text
    assert "Libérer cette adresse" in listing.text
    assert "Adresse IP Elastic" in detail.text
    assert in_use.status_code == 400
    assert "L\N{RIGHT SINGLE QUOTATION MARK}adresse est associée" in in_use.text
    assert "(InvalidIPAddress.InUse)" in in_use.text
    assert unconfirmed.status_code == 400
    assert "Cochez la case pour confirmer la suppression." in unconfirmed.text


async def test_a_server_without_ec2_says_so(console: ConsoleHarness) -> None:
    running = console.application._running
    assert running is not None
    running.console.console.ec2 = None
    async with console.client() as client:
        await sign_in_root(console, client)
        pages = [await client.get("/elastic-ips")]
        token = await csrf(client, "/instances")
        pages.append(await client.post("/elastic-ips", data={"csrf": token}))
        pages.append(
            await client.post(
                "/elastic-ips/eipalloc-0123456789abcdef0/release",
                data={"csrf": token, **_CONFIRMED},
            )
        )
    for page in pages:
        assert page.status_code == 404 and "This server serves no EC2." in page.text


async def test_an_address_a_nat_gateway_holds_names_it_and_offers_no_change(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    """Its row names the gateway (linked to its row) where an instance would be, with its
    private address, and offers neither associate, disassociate nor release; a forged change
    still gets EC2's refusal (decision 0129)."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        instance_id = await _instance(console, tmp_path, tenant, "web")
        subnet_id = (await compute.default_network(tenant)).subnet.subnet_id
        address = await compute.allocate_address(tenant)
        free = await compute.allocate_address(tenant)
        nat = await compute.create_nat_gateway(
            tenant, subnet_id, address.allocation_id, tags=(("Name", "egress"),)
        )
        held = await _address(console, tenant, address.allocation_id)
        assert held.nat_gateway_id == nat.nat_gateway_id and held.association_id
        listing = await client.get("/elastic-ips")
        token = csrf_of(listing)
        allocation = f"/elastic-ips/{address.allocation_id}"
        forged = [
            await client.post(
                f"{allocation}/associate",
                data={"csrf": token, "instance_id": instance_id, "allow_reassociation": "yes"},
            ),
            await client.post(
                f"{allocation}/disassociate",
                data={"csrf": token, "association_id": held.association_id},
            ),
            await client.post(f"{allocation}/release", data={"csrf": token, **_CONFIRMED}),
        ]
        nat_page = await client.get("/nat-gateways")
        french = await client.get("/elastic-ips", headers={"accept-language": "fr"})
    french_row = _row(french, f"elastic-ip-{address.allocation_id}")
    assert listing.status_code == 200
    row = _row(listing, f"elastic-ip-{address.allocation_id}")
    cell = row.split('<td class="instance">', 1)[1].split("</td>", 1)[0]
    assert cell.startswith("NAT gateway ") and "(egress)" in cell
    assert f'href="/console/nat-gateways#nat-gateway-{nat.nat_gateway_id}"' in cell
    assert f'id="nat-gateway-{nat.nat_gateway_id}"' in nat_page.text
    assert f'<td class="private-ip">{nat.private_ip}</td>' in row and nat.private_ip
    assert f"<code>{held.association_id}</code>" in row
    for action in ("/associate", "/disassociate", "/release", "<form", "<button"):
        assert action not in row
    assert "Held by a NAT gateway: delete the gateway to free it." in row
    # The free address beside it still offers every change.
    other = _row(listing, f"elastic-ip-{free.allocation_id}")
    assert "/associate" in other and "/release" in other and "Held by" not in other
    for answer in forged:
        assert answer.status_code == 400 and "(AuthFailure)" in answer.text
        assert "You do not have permission to access the specified resource." in answer.text
    assert await _address(console, tenant, address.allocation_id) == held
    assert "Passerelle NAT" in french_row
    assert "Détenue par une passerelle NAT : supprimez la passerelle pour la libérer." in french_row


async def test_a_user_not_allowed_to_read_nat_gateways_sees_the_interface(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    subnet_id = (await compute.default_network(tenant)).subnet.subnet_id
    address = await compute.allocate_address(tenant)
    nat = await compute.create_nat_gateway(tenant, subnet_id, address.allocation_id)
    held = await _address(console, tenant, address.allocation_id)
    assert held.network_interface_id
    await console.user_with_password(tenant, "reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeAddresses"], "Resource": "*"}],
    }
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        listing = await client.get("/elastic-ips")
    assert listing.status_code == 200 and 'role="alert"' not in listing.text
    row = _row(listing, f"elastic-ip-{address.allocation_id}")
    assert f"Network interface <code>{held.network_interface_id}</code>" in row
    assert nat.nat_gateway_id not in row and f'<td class="private-ip">{nat.private_ip}</td>' in row
    assert "Held by a NAT gateway: delete the gateway to free it." in row
    assert "/release" not in row and "/disassociate" not in row
