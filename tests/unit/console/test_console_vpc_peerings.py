"""The console's peering connections page (decision 0139), and a route table's routes to a
connection: each read and change EC2's own call as the signed-in user, so EC2's transition
table, rights, quota, policies and errors answer, and EC2 audits the changes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from andromede.audit.model import Outcome
from andromede.compute.routing import Route
from andromede.compute.vpc_peering import PeeringState, VpcPeeringConnection
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

_PEERING_ROW = re.compile(r'<tr class="peering ([\w-]+)" id="peering-(pcx-[0-9a-f]+)">')
_ROUTE_ROW = re.compile(r'<tr class="route (\w+)" id="route-([0-9./]+)">')
_CONFIRMED = {"confirm": "yes"}


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


def _form(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


async def _peering(console: ConsoleHarness, tenant: str, peering_id: str) -> VpcPeeringConnection:
    [peering] = await running_compute(console).describe_vpc_peering_connections(
        tenant, [peering_id]
    )
    return peering


async def test_two_accounts_peer_route_and_delete_through_the_console(
    console: ConsoleHarness,
) -> None:
    compute = running_compute(console)
    async with console.client() as requester, console.client() as accepter:
        tenant = await sign_in_root(console, requester)
        other = await sign_in_root(console, accepter, account="globex")
        mine = await compute.create_vpc(tenant, "10.1.0.0/16", tags=(("Name", "apps"),))
        theirs = await compute.create_vpc(other, "10.2.0.0/16")
        instances = await requester.get("/instances")
        vpcs = await requester.get("/vpcs")
        assert 'href="/console/peering-connections"' in instances.text
        assert f'href="/console/peering-connections?vpc_id={mine.vpc_id}"' in vpcs.text
        empty = await requester.get("/peering-connections")
        assert empty.status_code == 200 and "No peering connections." in empty.text
        form = _form(empty, "create-peering-form")
        assert f'<option value="{mine.vpc_id}">{mine.vpc_id} (10.1.0.0/16, apps)</option>' in form
        assert theirs.vpc_id not in form  # another account's VPC is named, never listed

        made = await requester.post(
            "/peering-connections",
            data={
                "csrf": csrf_of(empty), "vpc_id": mine.vpc_id, "peer_vpc_id": theirs.vpc_id,
                "peer_owner_id": other, "name": "to <globex>",
            },
        )  # fmt: skip
        assert made.status_code == 303, made.text
        assert made.headers["location"] == "/console/peering-connections"
        [held] = await compute.describe_vpc_peering_connections(tenant, [])
        peering_id = held.peering_id
        assert held.state is PeeringState.PENDING_ACCEPTANCE
        assert held.accepter_tenant_id == other and held.tags == (("Name", "to <globex>"),)

        # Both sides list it: the requester may only delete it, the accepter answers it.
        listing = await requester.get("/peering-connections")
        assert _PEERING_ROW.findall(listing.text) == [("pending-acceptance", peering_id)]
        row = _row(listing, f"peering-{peering_id}")
        assert "to &lt;globex&gt;" in row and "to <globex>" not in row
        assert f"Pending Acceptance by {other}" in row and '<span class="expires">' in row
        assert f'href="/console/vpcs#vpc-{mine.vpc_id}"' in row and "10.1.0.0/16" in row
        assert f"<code>{theirs.vpc_id}</code>" in row and f"<code>{other}</code>" in row
        assert f'href="/console/vpcs#vpc-{theirs.vpc_id}"' not in row  # not the requester's
        assert "/accept" not in row and "/reject" not in row and "/delete" in row
        seen = await accepter.get("/peering-connections")
        row = _row(seen, f"peering-{peering_id}")
        assert "to &lt;globex&gt;" not in row  # each side's own tags
        assert "/accept" in row and "/reject" in row and "/delete" not in row
        assert f'href="/console/vpcs#vpc-{theirs.vpc_id}"' in row
        assert "(this account)" in _form_cell(row, "accepter")
        # A VPC's filter lists it on either side's VPC only.
        assert _PEERING_ROW.findall(
            (await accepter.get(f"/peering-connections?vpc_id={theirs.vpc_id}")).text
        ) == [("pending-acceptance", peering_id)]
        default = (await compute.default_network(tenant)).vpc.vpc_id
        assert not _PEERING_ROW.findall(
            (await requester.get(f"/peering-connections?vpc_id={default}")).text
        )

        # The requester may not accept its request to another account: EC2's refusal.
        token = csrf_of(listing)
        refused = await requester.post(
            f"/peering-connections/{peering_id}/accept", data={"csrf": token}
        )
        assert refused.status_code == 400 and "(OperationNotPermitted)" in refused.text
        assert f"cannot accept peering {peering_id}" in refused.text
        assert "EC2 does not permit this operation." in refused.text
        # Not yet active: a route to it is refused, and no table offers it.
        [main] = [t for t in await compute.describe_route_tables(tenant, []) if t.vpc_id == default]
        table = await compute.create_route_table(tenant, mine.vpc_id)
        table_url = f"/route-tables/{table.route_table_id}"
        route = {"csrf": token, "destination": "10.2.0.0/16", "gateway_id": peering_id}
        early = await requester.post(f"{table_url}/routes/add", data=route)
        assert early.status_code == 400 and "(InvalidParameterValue)" in early.text
        assert "is not active" in early.text
        assert 'value="10.2.0.0/16"' in _form(early, "add-route")  # the form as sent
        assert peering_id not in _form(early, "add-route")

        accepted = await accepter.post(
            f"/peering-connections/{peering_id}/accept", data={"csrf": csrf_of(seen)}
        )
        assert accepted.status_code == 303, accepted.text
        assert (await _peering(console, tenant, peering_id)).state is PeeringState.ACTIVE
        listing = await requester.get("/peering-connections")
        row = _row(listing, f"peering-{peering_id}")
        assert ("active", peering_id) in _PEERING_ROW.findall(listing.text)
        assert "10.2.0.0/16" in row and '<span class="expires">' not in row
        assert "/delete" in row and "/accept" not in row

        # A table of its VPC offers it beside the gateways and routes to it; another VPC's
        # table does not offer it.
        page = await requester.get(table_url)
        add_form = _form(page, "add-route")
        assert 'optgroup label="Peering connections"' in add_form
        assert (
            f'<option value="{peering_id}">{peering_id} (to &lt;globex&gt;) · {theirs.vpc_id}'
            " (10.2.0.0/16)</option>"
        ) in add_form
        assert peering_id not in _form(
            await requester.get(f"/route-tables/{main.route_table_id}"), "add-route"
        )
        added = await requester.post(f"{table_url}/routes/add", data=route)
        assert added.status_code == 303, added.text
        routes = (await compute.describe_route_tables(tenant, [table.route_table_id]))[0].routes
        assert Route("10.2.0.0/16", "", vpc_peering_connection_id=peering_id) in routes
        page = await requester.get(table_url)
        row = _row(page, "route-10.2.0.0/16")
        assert f'href="/console/peering-connections#peering-{peering_id}"' in row
        assert f"<code>{peering_id}</code>" in row and "Peering connection" in row
        assert "internet-gateways" not in _form_cell(row, "target")
        assert ("active", "10.2.0.0/16") in _ROUTE_ROW.findall(page.text)
        assert f'<option value="{peering_id}" selected>' in row  # the replace form's choice
        # Replaced by the internet gateway and back: the id says which parameter EC2 gets.
        gateway = await compute.create_internet_gateway(tenant)
        await compute.attach_internet_gateway(tenant, gateway.gateway_id, mine.vpc_id)
        for target in (gateway.gateway_id, peering_id):
            replaced = await requester.post(
                f"{table_url}/routes/replace", data={**route, "gateway_id": target}
            )
            assert replaced.status_code == 303, replaced.text
        routes = (await compute.describe_route_tables(tenant, [table.route_table_id]))[0].routes
        assert Route("10.2.0.0/16", "", vpc_peering_connection_id=peering_id) in routes

        # Deleted by the accepter after a ticked box: the requester's route a blackhole.
        unconfirmed = await accepter.post(
            f"/peering-connections/{peering_id}/delete", data={"csrf": csrf_of(seen)}
        )
        assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
        assert (await _peering(console, tenant, peering_id)).state is PeeringState.ACTIVE
        deleted = await accepter.post(
            f"/peering-connections/{peering_id}/delete", data={"csrf": csrf_of(seen), **_CONFIRMED}
        )
        assert deleted.status_code == 303, deleted.text
        assert (await _peering(console, tenant, peering_id)).state is PeeringState.DELETED
        listing = await requester.get("/peering-connections")
        row = _row(listing, f"peering-{peering_id}")
        assert ("deleted", peering_id) in _PEERING_ROW.findall(listing.text)
        assert "<form" not in row  # nothing more to do to it
        page = await requester.get(table_url)
        assert ("blackhole", "10.2.0.0/16") in _ROUTE_ROW.findall(page.text)
        assert f"<code>{peering_id}</code>" in _row(page, "route-10.2.0.0/16")
        assert "<strong>blackhole</strong>" in _row(page, "route-10.2.0.0/16")
        assert 'optgroup label="Peering connections"' not in _form(page, "add-route")
    changes = [
        (t, e.action)
        for t in (tenant, other)
        for e in await logged_events(console, t)
        if e.outcome is Outcome.SUCCESS and "VpcPeeringConnection" in e.action
        and not e.action.startswith("ec2:Describe")
    ]  # fmt: skip
    assert changes == [
        (tenant, "ec2:CreateVpcPeeringConnection"),
        (other, "ec2:AcceptVpcPeeringConnection"),
        (other, "ec2:DeleteVpcPeeringConnection"),
    ]


def _form_cell(row: str, cell: str) -> str:
    return row.split(f'<td class="{cell}">', 1)[1].split("</td>", 1)[0]


async def test_ec2s_refusals_show_with_the_form_as_sent(tmp_path: Path) -> None:
    async with console_harness(tmp_path, max_vpc_peerings_per_vpc=1) as console:
        compute = running_compute(console)
        async with console.client() as client:
            tenant = await sign_in_root(console, client)
            hub = await compute.create_vpc(tenant, "10.1.0.0/16")
            spoke = await compute.create_vpc(tenant, "10.2.0.0/16")
            third = await compute.create_vpc(tenant, "10.3.0.0/16")
            overlapping = await compute.create_vpc(tenant, "10.1.128.0/24")
            token = await csrf(client, "/peering-connections")

            async def create(
                peer_vpc_id: str, vpc_id: str = hub.vpc_id, **more: str
            ) -> httpx.Response:
                fields = {"csrf": token, "vpc_id": vpc_id, "peer_vpc_id": peer_vpc_id, **more}
                return await client.post("/peering-connections", data=fields)

            # Overlapping blocks: EC2 makes the connection failed; shown as a refusal, the
            # form as sent, and the failed connection listed.
            failed = await create(overlapping.vpc_id, name="overlap")
            # Within one account, a peer VPC that is not there is refused at once.
            missing = await create("vpc-0123456789abcdef0")
            not_an_account = await create(spoke.vpc_id, peer_owner_id="globex")
            first = await create(spoke.vpc_id)
            assert first.status_code == 303, first.text
            again = await create(spoke.vpc_id, name="twice")
            ids = {p.accepter_vpc_id: p.peering_id
                   for p in await compute.describe_vpc_peering_connections(tenant, [])}  # fmt: skip
            accepted = await client.post(
                f"/peering-connections/{ids[spoke.vpc_id]}/accept", data={"csrf": token}
            )
            assert accepted.status_code == 303, accepted.text
            # The hub holds its one active connection: a second accepted is over its quota.
            second = await create(third.vpc_id)
            assert second.status_code == 303, second.text
            ids = {p.accepter_vpc_id: p.peering_id
                   for p in await compute.describe_vpc_peering_connections(tenant, [])}  # fmt: skip
            over = await client.post(
                f"/peering-connections/{ids[third.vpc_id]}/accept", data={"csrf": token}
            )
            rejected = await client.post(
                f"/peering-connections/{ids[third.vpc_id]}/reject", data={"csrf": token}
            )
            assert rejected.status_code == 303, rejected.text
            # A rejected connection is neither accepted nor deleted: EC2's transition table.
            late = await client.post(
                f"/peering-connections/{ids[third.vpc_id]}/accept", data={"csrf": token}
            )
            undeletable = await client.post(
                f"/peering-connections/{ids[third.vpc_id]}/delete",
                data={"csrf": token, **_CONFIRMED},
            )
            nowhere = await client.post(
                "/peering-connections/pcx-0123456789abcdef0/accept", data={"csrf": token}
            )
            listing = await client.get("/peering-connections")
        assert failed.status_code == 400 and "(failed)" in failed.text
        assert "The peering connection failed. Overlapping CIDRs" in failed.text
        form = _form(failed, "create-peering-form")
        assert f'<option value="{hub.vpc_id}" selected>' in form
        assert f'value="{overlapping.vpc_id}"' in form and 'value="overlap"' in form
        assert ("failed", ids[overlapping.vpc_id]) in _PEERING_ROW.findall(failed.text)
        assert "Overlapping CIDRs" in _row(listing, f"peering-{ids[overlapping.vpc_id]}")
        assert "<form" not in _row(listing, f"peering-{ids[overlapping.vpc_id]}")
        assert missing.status_code == 400 and "(InvalidVpcID.NotFound)" in missing.text
        assert "No such VPC." in missing.text
        assert 'value="vpc-0123456789abcdef0"' in _form(missing, "create-peering-form")
        assert not_an_account.status_code == 400
        assert "(InvalidParameterValue)" in not_an_account.text
        assert "12-digit account ID" in not_an_account.text
        assert 'value="globex"' in _form(not_an_account, "create-peering-form")
        assert again.status_code == 400 and "(VpcPeeringConnectionAlreadyExists)" in again.text
        assert "A peering of these two VPCs exists already." in again.text
        assert 'value="twice"' in _form(again, "create-peering-form")
        assert over.status_code == 400
        assert "(ActiveVpcPeeringConnectionPerVpcLimitExceeded)" in over.text
        assert "A VPC&#39;s peering quota is full." in over.text
        for answer in (late, undeletable):
            assert answer.status_code == 400 and "(InvalidStateTransition)" in answer.text
            assert "The peering connection&#39;s status does not allow this." in answer.text
        assert "attempted to transition from rejected to active" in late.text
        assert nowhere.status_code == 400
        assert "(InvalidVpcPeeringConnectionID.NotFound)" in nowhere.text
        assert "No such peering connection." in nowhere.text
        states = {
            p.accepter_vpc_id: p.state
            for p in await compute.describe_vpc_peering_connections(tenant, [])
        }
        assert states == {
            overlapping.vpc_id: PeeringState.FAILED,
            spoke.vpc_id: PeeringState.ACTIVE,
            third.vpc_id: PeeringState.REJECTED,
        }


async def test_the_requester_deletes_its_pending_request_and_a_stranger_finds_nothing(
    console: ConsoleHarness,
) -> None:
    compute = running_compute(console)
    async with (
        console.client() as requester,
        console.client() as accepter,
        console.client() as stranger,
    ):
        tenant = await sign_in_root(console, requester)
        other = await sign_in_root(console, accepter, account="globex")
        await sign_in_root(console, stranger, account="initech")
        mine = await compute.create_vpc(tenant, "10.1.0.0/16")
        theirs = await compute.create_vpc(other, "10.2.0.0/16")
        pending = await compute.create_vpc_peering_connection(
            tenant, mine.vpc_id, theirs.vpc_id, peer_owner_id=other, tags=(("Name", "payroll"),)
        )
        pcx = pending.peering_id
        token = await csrf(stranger, "/peering-connections")
        answers = [
            await stranger.post(f"/peering-connections/{pcx}/{verb}", data={"csrf": token, **more})
            for verb, more in (("accept", {}), ("reject", {}), ("delete", _CONFIRMED))
        ]
        looked = await stranger.get("/peering-connections")
        # The accepter may not delete a pending request (it rejects it).
        accepter_deletes = await accepter.post(
            f"/peering-connections/{pcx}/delete",
            data={"csrf": await csrf(accepter, "/peering-connections"), **_CONFIRMED},
        )
        deleted = await requester.post(
            f"/peering-connections/{pcx}/delete",
            data={"csrf": await csrf(requester, "/peering-connections"), **_CONFIRMED},
        )
    for answer in answers:
        assert answer.status_code == 400
        assert "(InvalidVpcPeeringConnectionID.NotFound)" in answer.text
    assert looked.status_code == 200 and "No peering connections." in looked.text
    for secret in (pcx, "payroll", mine.vpc_id, theirs.vpc_id):
        assert secret not in looked.text
    assert accepter_deletes.status_code == 400
    assert "(OperationNotPermitted)" in accepter_deletes.text
    assert deleted.status_code == 303, deleted.text
    assert (await _peering(console, tenant, pcx)).state is PeeringState.DELETED


async def test_a_user_without_ec2_permissions_gets_ec2s_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    a = await compute.create_vpc(tenant, "10.1.0.0/16")
    b = await compute.create_vpc(tenant, "10.2.0.0/16")
    pcx = (await compute.create_vpc_peering_connection(tenant, a.vpc_id, b.vpc_id)).peering_id
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        page = await client.get("/peering-connections")
        token = await csrf(client, "/peering-connections")
        changes = [
            await client.post(
                "/peering-connections",
                data={"csrf": token, "vpc_id": a.vpc_id, "peer_vpc_id": b.vpc_id},
            ),
            await client.post(f"/peering-connections/{pcx}/accept", data={"csrf": token}),
            await client.post(f"/peering-connections/{pcx}/reject", data={"csrf": token}),
            await client.post(
                f"/peering-connections/{pcx}/delete", data={"csrf": token, **_CONFIRMED}
            ),
        ]
    assert page.status_code == 403 and "ec2:DescribeVpcPeeringConnections" in page.text
    for answer in [page, *changes]:
        assert "(UnauthorizedOperation)" in answer.text and ":user/intern" in answer.text
        assert "Access denied: your policies do not allow this." in answer.text
    actions = [
        "ec2:CreateVpcPeeringConnection",
        "ec2:AcceptVpcPeeringConnection",
        "ec2:RejectVpcPeeringConnection",
        "ec2:DeleteVpcPeeringConnection",
    ]
    for answer, action in zip(changes, actions, strict=True):
        assert answer.status_code == 403 and action in answer.text
    assert (await _peering(console, tenant, pcx)).state is PeeringState.PENDING_ACCEPTANCE


async def test_a_reader_sees_the_connections_and_only_ec2_decides_a_change(
    console: ConsoleHarness,
) -> None:
    """A user allowed DescribeVpcPeeringConnections only sees the list (the form's VPCs
    empty, EC2 refusing that read) and EC2's refusal of an accept."""
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    a = await compute.create_vpc(tenant, "10.1.0.0/16")
    b = await compute.create_vpc(tenant, "10.2.0.0/16")
    pcx = (await compute.create_vpc_peering_connection(tenant, a.vpc_id, b.vpc_id)).peering_id
    await console.user_with_password(tenant, "reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["ec2:DescribeVpcPeeringConnections"], "Resource": "*"}
        ],
    }
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        listing = await client.get("/peering-connections")
        accepted = await client.post(
            f"/peering-connections/{pcx}/accept", data={"csrf": csrf_of(listing)}
        )
    assert listing.status_code == 200
    assert _PEERING_ROW.findall(listing.text) == [("pending-acceptance", pcx)]
    assert "<option" not in _form(listing, "create-peering-form")
    assert accepted.status_code == 403 and "ec2:AcceptVpcPeeringConnection" in accepted.text


async def test_forms_without_the_sessions_token_are_refused(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        a = await compute.create_vpc(tenant, "10.1.0.0/16")
        b = await compute.create_vpc(tenant, "10.2.0.0/16")
        pcx = (await compute.create_vpc_peering_connection(tenant, a.vpc_id, b.vpc_id)).peering_id
        forged = "0" * len(await csrf(client, "/peering-connections"))
        create = {"vpc_id": a.vpc_id, "peer_vpc_id": b.vpc_id}
        answers = [
            await client.post("/peering-connections", data={"csrf": forged, **create}),
            await client.post(f"/peering-connections/{pcx}/accept", data={"csrf": forged}),
            await client.post(f"/peering-connections/{pcx}/reject", data={"csrf": forged}),
            await client.post(
                f"/peering-connections/{pcx}/delete", data={"csrf": forged, **_CONFIRMED}
            ),
            await client.post("/peering-connections", data=create),
        ]
    for answer in answers:
        assert answer.status_code == 403 and "Form refused" in answer.text
    [held] = await compute.describe_vpc_peering_connections(tenant, [])
    assert held.peering_id == pcx and held.state is PeeringState.PENDING_ACCEPTANCE


async def test_signed_out_the_page_and_its_forms_go_to_the_login(console: ConsoleHarness) -> None:
    pcx = "pcx-0123456789abcdef0"
    async with console.client() as client:
        answers = [
            await client.get("/peering-connections"),
            await client.post("/peering-connections", data={"vpc_id": "x"}),
            await client.post(f"/peering-connections/{pcx}/accept", data={}),
            await client.post(f"/peering-connections/{pcx}/reject", data={}),
            await client.post(f"/peering-connections/{pcx}/delete", data=_CONFIRMED),
        ]
    for answer in answers:
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


async def test_the_page_in_french(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        tenant = await sign_in_root(console, client)
        instances = await client.get("/instances")
        empty = await client.get("/peering-connections")
        a = await compute.create_vpc(tenant, "10.1.0.0/16")
        b = await compute.create_vpc(tenant, "10.2.0.0/16")
        pcx = (await compute.create_vpc_peering_connection(tenant, a.vpc_id, b.vpc_id)).peering_id
        listing = await client.get("/peering-connections")
        token = csrf_of(listing)
        unconfirmed = await client.post(f"/peering-connections/{pcx}/delete", data={"csrf": token})
        accepted = await client.post(f"/peering-connections/{pcx}/accept", data={"csrf": token})
        assert accepted.status_code == 303, accepted.text
        table = await compute.create_route_table(tenant, a.vpc_id)
        page = await client.get(f"/route-tables/{table.route_table_id}")
        late = await client.post(f"/peering-connections/{pcx}/reject", data={"csrf": token})
    assert "Connexions d\N{RIGHT SINGLE QUOTATION MARK}appairage" in instances.text
    assert '<html lang="fr">' in empty.text
    assert "Aucune connexion d\N{RIGHT SINGLE QUOTATION MARK}appairage." in empty.text
    assert "Demander la connexion d\N{RIGHT SINGLE QUOTATION MARK}appairage" in empty.text
    assert "Identifiant de la connexion d\N{RIGHT SINGLE QUOTATION MARK}appairage" in (listing.text)
    assert "Accepter" in listing.text and "Rejeter" in listing.text
    assert "VPC demandeur" in listing.text and "(ce compte)" in listing.text
    assert unconfirmed.status_code == 400
    assert "Cochez la case pour confirmer la suppression." in unconfirmed.text
    assert 'optgroup label="Connexions d\N{RIGHT SINGLE QUOTATION MARK}appairage"' in page.text
    assert late.status_code == 400 and "(InvalidStateTransition)" in late.text
    assert (
        "L\N{RIGHT SINGLE QUOTATION MARK}état de la connexion d\N{RIGHT SINGLE QUOTATION MARK}"
        "appairage ne le permet pas."
    ) in late.text


async def test_a_server_without_ec2_says_so(console: ConsoleHarness) -> None:
    running = console.application._running
    assert running is not None
    running.console.console.ec2 = None
    pcx = "pcx-0123456789abcdef0"
    async with console.client() as client:
        await sign_in_root(console, client)
        pages = [await client.get("/peering-connections")]
        token = await csrf(client, "/instances")
        pages.append(await client.post("/peering-connections", data={"csrf": token}))
        for verb in ("accept", "reject"):
            pages.append(
                await client.post(f"/peering-connections/{pcx}/{verb}", data={"csrf": token})
            )
        pages.append(
            await client.post(
                f"/peering-connections/{pcx}/delete", data={"csrf": token, **_CONFIRMED}
            )
        )
    for page in pages:
        assert page.status_code == 404 and "This server serves no EC2." in page.text
