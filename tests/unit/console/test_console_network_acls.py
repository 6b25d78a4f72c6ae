"""The console's network ACL pages (decision 0128): each read and change EC2's own call as the
signed-in user, so EC2's rules, quotas, policies and errors answer, and EC2 audits the
changes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from andromede.audit.model import Outcome
from andromede.compute.network_acl import NetworkAcl, NetworkAclEntry
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

_ACL_ROW = re.compile(r'<tr class="network-acl" id="network-acl-(acl-[0-9a-f]+)">')
_ENTRY_ROW = re.compile(r'<tr class="entry (ingress|egress) (allow|deny)" id="\w+-([\w-]+)">')
_ASSOCIATION_ROW = re.compile(r'<tr class="association" id="association-(aclassoc-[0-9a-f]+)">')
_CONFIRMED = {"confirm": "yes"}


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


def _form(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


async def _acl(console: ConsoleHarness, tenant: str, network_acl_id: str) -> NetworkAcl:
    [acl] = await running_compute(console).describe_network_acls(tenant, [network_acl_id])
    return acl


async def _default_acl(console: ConsoleHarness, tenant: str, vpc_id: str) -> NetworkAcl:
    acls = await running_compute(console).describe_network_acls(tenant, [])
    [acl] = [a for a in acls if a.vpc_id == vpc_id and a.is_default]
    return acl


async def _vpc_with_subnet(console: ConsoleHarness, tenant: str, cidr: str) -> tuple[str, str]:
    """A VPC of ``cidr`` (a /16) and a subnet of its first /24: their ids."""
    compute = running_compute(console)
    vpc = await compute.create_vpc(tenant, cidr)
    subnet = await compute.create_subnet(tenant, vpc.vpc_id, cidr.replace(".0.0/16", ".1.0/24"))
    return vpc.vpc_id, subnet.subnet_id


async def _new_acl(client: httpx.AsyncClient, vpc_id: str, name: str = "") -> str:
    """An ACL made through the page: its id."""
    token = await csrf(client, "/network-acls")
    made = await client.post("/network-acls", data={"csrf": token, "vpc_id": vpc_id, "name": name})
    assert made.status_code == 303, made.text
    network_acl_id = made.headers["location"].rsplit("/", 1)[1]
    assert made.headers["location"] == f"/console/network-acls/{network_acl_id}"
    return network_acl_id


def _entry_form(token: str, number: int, **given: str) -> dict[str, str]:
    return {
        "csrf": token, "rule_number": str(number), "direction": "ingress",
        "rule_action": "allow", "protocol": "tcp", "cidr": "10.0.0.0/8",
        "from_port": "22", "to_port": "22", **given,
    }  # fmt: skip


async def test_the_ec2_pages_link_network_acls(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        instances = await client.get("/instances")
        vpcs = await client.get("/vpcs")
        everything = await client.get("/network-acls")
        listing = await client.get(f"/network-acls?vpc_id={vpc_id}")
    for page in (instances, vpcs):
        assert 'href="/console/network-acls"' in page.text
    assert f'href="/console/network-acls?vpc_id={vpc_id}"' in _row(vpcs, f"vpc-{vpc_id}")
    default = await _default_acl(console, tenant, vpc_id)
    # The default VPC's ACL and this VPC's, only this VPC's when filtered.
    assert len(_ACL_ROW.findall(everything.text)) == 2
    assert _ACL_ROW.findall(listing.text) == [default.network_acl_id]
    assert f'<option value="{vpc_id}" selected>' in listing.text
    row = _row(listing, f"network-acl-{default.network_acl_id}")
    assert '<td class="default">Yes</td>' in row
    assert f'href="/console/vpcs#subnet-{subnet_id}"' in row
    assert f'href="/console/network-acls/{default.network_acl_id}"' in row


async def test_an_acls_entries_added_replaced_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        acl_id = await _new_acl(client, vpc_id, "db <tier>")
        held = await _acl(console, tenant, acl_id)
        assert held.vpc_id == vpc_id and held.tags == (("Name", "db <tier>"),)
        assert held.entries == () and held.associations == () and not held.is_default
        page = await client.get(f"/network-acls/{acl_id}")
        assert page.status_code == 200 and "db &lt;tier&gt;" in page.text
        assert "db <tier>" not in page.text
        # A new ACL: the * rule each way, denying, with no button.
        assert _ENTRY_ROW.findall(page.text) == [
            ("ingress", "deny", "catch-all"),
            ("egress", "deny", "catch-all"),
        ]
        catch_all = _row(page, "ingress-catch-all")
        assert '<td class="rule">*</td>' in catch_all and "<form" not in catch_all
        assert "No associations." in page.text and 'id="delete-network-acl"' in page.text
        token = csrf_of(page)

        added = await client.post(
            f"/network-acls/{acl_id}/entries/add", data=_entry_form(token, 200)
        )
        assert added.status_code == 303, added.text
        assert added.headers["location"] == f"/console/network-acls/{acl_id}"
        others = [
            _entry_form(token, 100, protocol="-1", cidr="10.1.0.0/16", from_port="", to_port=""),
            _entry_form(token, 300, protocol="udp", rule_action="deny", from_port="53",
                        to_port="60"),
            _entry_form(token, 100, direction="egress", protocol="icmp", cidr="0.0.0.0/0",
                        from_port="", to_port=""),
            _entry_form(token, 110, direction="egress", cidr="::/0", from_port="1024",
                        to_port="65535"),
        ]  # fmt: skip
        for form in others:
            answer = await client.post(f"/network-acls/{acl_id}/entries/add", data=form)
            assert answer.status_code == 303, answer.text
        assert (await _acl(console, tenant, acl_id)).entries == (
            NetworkAclEntry(100, False, "allow", "-1", "10.1.0.0/16"),
            NetworkAclEntry(200, False, "allow", "6", "10.0.0.0/8", 22, 22),
            NetworkAclEntry(300, False, "deny", "17", "10.0.0.0/8", 53, 60),
            NetworkAclEntry(100, True, "allow", "1", "0.0.0.0/0", None, None, -1, -1),
            NetworkAclEntry(110, True, "allow", "6", "::/0", 1024, 65535),
        )
        page = await client.get(f"/network-acls/{acl_id}")
        # In rule order in each direction, as EC2 evaluates them, the * rule last.
        assert _ENTRY_ROW.findall(page.text) == [
            ("ingress", "allow", "100"),
            ("ingress", "allow", "200"),
            ("ingress", "deny", "300"),
            ("ingress", "deny", "catch-all"),
            ("egress", "allow", "100"),
            ("egress", "allow", "110"),
            ("egress", "deny", "catch-all"),
        ]
        row = _row(page, "ingress-100")
        assert '<td class="protocol">All</td>' in row and '<td class="ports">All</td>' in row
        row = _row(page, "ingress-200")
        assert '<td class="protocol">tcp</td>' in row and '<td class="ports">22</td>' in row
        assert "/entries/replace" in row and "/entries/delete" in row
        assert '<td class="ports">53\N{EN DASH}60</td>' in _row(page, "ingress-300")
        assert "<strong>Deny</strong>" in _row(page, "ingress-300")
        assert '<td class="protocol">icmp</td>' in _row(page, "egress-100")
        assert "<code>::/0</code>" in _row(page, "egress-110")

        # EC2's refusals, shown as the other pages show them; the form as typed.
        taken = await client.post(
            f"/network-acls/{acl_id}/entries/add",
            data=_entry_form(token, 200, rule_action="deny", cidr="192.0.2.0/24"),
        )
        assert taken.status_code == 400 and 'role="alert"' in taken.text
        assert "(NetworkAclEntryAlreadyExists)" in taken.text
        assert "That rule number is taken in that direction." in taken.text
        assert "The network acl entry identified by 200 already exists." in taken.text
        typed = _form(taken, "add-entry")
        assert (
            'name="rule_number" inputmode="numeric" size="6" required placeholder="100" '
            'value="200"' in typed
        )
        assert 'value="192.0.2.0/24"' in typed and '<option value="deny" selected>' in typed
        no_ports = await client.post(
            f"/network-acls/{acl_id}/entries/add",
            data=_entry_form(token, 400, protocol="udp", from_port="", to_port=""),
        )
        assert no_ports.status_code == 400 and "(MissingParameter)" in no_ports.text
        assert '<option value="udp" selected>' in _form(no_ports, "add-entry")
        bad_block = await client.post(
            f"/network-acls/{acl_id}/entries/add", data=_entry_form(token, 400, cidr="10.0.0.0/33")
        )
        assert bad_block.status_code == 400 and "(InvalidParameterValue)" in bad_block.text
        not_a_number = await client.post(
            f"/network-acls/{acl_id}/entries/add", data=_entry_form(token, 0, rule_number="x")
        )
        assert not_a_number.status_code == 400, not_a_number.text
        star = await client.post(
            f"/network-acls/{acl_id}/entries/delete",
            data={"csrf": token, "direction": "ingress", "rule_number": "32767"},
        )
        assert star.status_code == 400 and "(InvalidParameterValue)" in star.text

        # Replaced: the entry of that direction and number, in place.
        replace = _entry_form(token, 200, rule_action="deny", cidr="192.0.2.0/24",
                              from_port="80", to_port="443")  # fmt: skip
        replaced = await client.post(f"/network-acls/{acl_id}/entries/replace", data=replace)
        assert replaced.status_code == 303, replaced.text
        held = await _acl(console, tenant, acl_id)
        assert held.entry(False, 200) == NetworkAclEntry(
            200, False, "deny", "6", "192.0.2.0/24", 80, 443
        )
        missing = await client.post(
            f"/network-acls/{acl_id}/entries/replace", data={**replace, "rule_number": "201"}
        )
        assert missing.status_code == 400 and "(InvalidNetworkAclEntry.NotFound)" in missing.text
        assert "no ingress entry with number 201" in missing.text
        assert "No entry of that number in that direction." in missing.text
        refused = await client.post(
            f"/network-acls/{acl_id}/entries/replace",
            data={**replace, "from_port": "90", "to_port": "80", "cidr": "198.51.100.0/24"},
        )
        # The refused replacement as sent, in its own row; the others as they are.
        assert refused.status_code == 400 and "(InvalidParameterValue)" in refused.text
        row = _row(refused, "ingress-200")
        assert 'value="198.51.100.0/24"' in row and 'value="90"' in row
        assert 'value="10.0.0.0/8"' in _row(refused, "ingress-300")
        assert held == await _acl(console, tenant, acl_id)

        deleted = await client.post(
            f"/network-acls/{acl_id}/entries/delete",
            data={"csrf": token, "direction": "egress", "rule_number": "110"},
        )
        assert deleted.status_code == 303, deleted.text
        again = await client.post(
            f"/network-acls/{acl_id}/entries/delete",
            data={"csrf": token, "direction": "egress", "rule_number": "110"},
        )
        assert again.status_code == 400 and "(InvalidNetworkAclEntry.NotFound)" in again.text
        assert "no egress entry with number 110" in again.text
    held = await _acl(console, tenant, acl_id)
    assert [(e.egress, e.rule_number) for e in held.entries] == [
        (False, 100), (False, 200), (False, 300), (True, 100)
    ]  # fmt: skip
    changes = [
        e.action
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.SUCCESS and "NetworkAcl" in e.action
    ]
    assert changes == [
        "ec2:CreateNetworkAcl",
        *["ec2:CreateNetworkAclEntry"] * 5,
        "ec2:ReplaceNetworkAclEntry",
        "ec2:DeleteNetworkAclEntry",
    ]


async def test_an_icmp_entry_by_type_and_code(console: ConsoleHarness) -> None:
    """ICMP's type and code sent as EC2's ``Icmp.Type``/``Icmp.Code``, empty for all (-1);
    EC2 checks them (decision 0130)."""
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        acl_id = await _new_acl(client, vpc_id)
        page = await client.get(f"/network-acls/{acl_id}")
        add_form = _form(page, "add-entry")
        assert 'name="icmp_type"' in add_form and 'name="icmp_code"' in add_form
        token = csrf_of(page)
        icmp = {"protocol": "icmp", "from_port": "", "to_port": "", "cidr": "0.0.0.0/0"}
        for form in (
            _entry_form(token, 100, **icmp, icmp_type="8", icmp_code=""),
            _entry_form(token, 100, **icmp, direction="egress"),
            # A port range typed is EC2's to keep or not; the ICMP fields are icmp's only.
            _entry_form(token, 200, icmp_type="8", icmp_code="0"),
        ):
            added = await client.post(f"/network-acls/{acl_id}/entries/add", data=form)
            assert added.status_code == 303, added.text
        assert (await _acl(console, tenant, acl_id)).entries == (
            NetworkAclEntry(100, False, "allow", "1", "0.0.0.0/0", None, None, 8, -1),
            NetworkAclEntry(200, False, "allow", "6", "10.0.0.0/8", 22, 22),
            NetworkAclEntry(100, True, "allow", "1", "0.0.0.0/0", None, None, -1, -1),
        )
        page = await client.get(f"/network-acls/{acl_id}")
        assert "<th>ICMP type and code</th>" in page.text
        row = _row(page, "ingress-100")
        assert '<td class="icmp">echo-request (8), all codes</td>' in row
        assert 'aria-label="ICMP type" placeholder="All" value="8"' in row
        assert 'aria-label="ICMP code" placeholder="All" value=""' in row
        assert '<td class="icmp">All</td>' in _row(page, "egress-100")
        assert '<td class="icmp"></td>' in _row(page, "ingress-200")

        replace = _entry_form(token, 100, **icmp, icmp_type="3", icmp_code="4")
        replaced = await client.post(f"/network-acls/{acl_id}/entries/replace", data=replace)
        assert replaced.status_code == 303, replaced.text
        held = await _acl(console, tenant, acl_id)
        assert held.entry(False, 100) == NetworkAclEntry(
            100, False, "allow", "1", "0.0.0.0/0", None, None, 3, 4
        )
        page = await client.get(f"/network-acls/{acl_id}")
        row = _row(page, "ingress-100")
        assert '<td class="icmp">destination-unreachable (3), code 4</td>' in row

        # EC2's refusals, with the form as typed.
        bad_type = await client.post(
            f"/network-acls/{acl_id}/entries/add",
            data=_entry_form(token, 300, **icmp, icmp_type="256", icmp_code="0"),
        )
        assert bad_type.status_code == 400 and "(InvalidParameterValue)" in bad_type.text
        assert "icmpTypeCode.type" in bad_type.text
        typed = _form(bad_type, "add-entry")
        assert '<option value="icmp" selected>' in typed
        assert 'name="icmp_type" inputmode="numeric" size="4" placeholder="All" value="256"' in (
            typed
        )
        code_alone = await client.post(
            f"/network-acls/{acl_id}/entries/add",
            data=_entry_form(token, 300, **icmp, icmp_code="3"),
        )
        assert code_alone.status_code == 400 and "(InvalidParameterValue)" in code_alone.text
        assert 'placeholder="All" value="3"' in _form(code_alone, "add-entry")
        refused = await client.post(
            f"/network-acls/{acl_id}/entries/replace", data={**replace, "icmp_code": "999"}
        )
        assert refused.status_code == 400 and "(InvalidParameterValue)" in refused.text
        assert 'aria-label="ICMP code" placeholder="All" value="999"' in _row(
            refused, "ingress-100"
        )
        assert held == await _acl(console, tenant, acl_id)


async def test_a_subnet_moved_to_an_acl_and_the_acl_deleted(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        other_vpc, other_subnet = await _vpc_with_subnet(console, tenant, "10.2.0.0/16")
        default = await _default_acl(console, tenant, vpc_id)
        [first] = default.associations
        acl_id = await _new_acl(client, vpc_id, "db")
        page = await client.get(f"/network-acls/{acl_id}")
        # The move offers the VPC's subnets, each with the ACL holding it now.
        form = _form(page, "associate-subnet")
        assert f'<option value="{subnet_id}">' in form and default.network_acl_id in form
        assert other_subnet not in form
        token = csrf_of(page)

        moved = await client.post(
            f"/network-acls/{acl_id}/associate", data={"csrf": token, "subnet_id": subnet_id}
        )
        assert moved.status_code == 303, moved.text
        assert moved.headers["location"] == f"/console/network-acls/{acl_id}"
        [association] = (await _acl(console, tenant, acl_id)).associations
        assert association.subnet_id == subnet_id
        assert association.association_id != first.association_id
        assert (await _default_acl(console, tenant, vpc_id)).associations == ()
        page = await client.get(f"/network-acls/{acl_id}")
        assert _ASSOCIATION_ROW.findall(page.text) == [association.association_id]
        row = _row(page, f"association-{association.association_id}")
        assert f'href="/console/vpcs#subnet-{subnet_id}"' in row
        assert 'id="associate-subnet"' not in page.text  # the VPC's only subnet is here
        listing = await client.get(f"/network-acls?vpc_id={vpc_id}")
        assert subnet_id in _row(listing, f"network-acl-{acl_id}")
        assert '<td class="subnets">-</td>' in _row(
            listing, f"network-acl-{default.network_acl_id}"
        )

        # Another VPC's subnet: EC2's refusal; the refused choice is not this VPC's.
        elsewhere = await client.post(
            f"/network-acls/{acl_id}/associate", data={"csrf": token, "subnet_id": other_subnet}
        )
        assert elsewhere.status_code == 400 and "(InvalidParameterValue)" in elsewhere.text
        assert "belong to different networks" in elsewhere.text
        nothing = await client.post(
            f"/network-acls/{acl_id}/associate", data={"csrf": token, "subnet_id": ""}
        )
        assert nothing.status_code == 400 and "(InvalidSubnetID.Malformed)" in nothing.text
        associated = await client.post(
            f"/network-acls/{acl_id}/delete", data={"csrf": token, **_CONFIRMED}
        )
        assert associated.status_code == 400 and "(DependencyViolation)" in associated.text
        assert f"The networkAcl &#39;{acl_id}&#39; has dependencies" in associated.text
        assert 'id="add-entry"' in associated.text  # the ACL's page, with EC2's refusal

        # Back to the default ACL, from its page; then deleted, once the box is ticked.
        back = await client.post(
            f"/network-acls/{default.network_acl_id}/associate",
            data={"csrf": token, "subnet_id": subnet_id},
        )
        assert back.status_code == 303, back.text
        [returned] = (await _default_acl(console, tenant, vpc_id)).associations
        assert returned.subnet_id == subnet_id
        unconfirmed = await client.post(f"/network-acls/{acl_id}/delete", data={"csrf": token})
        assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
        assert (await _acl(console, tenant, acl_id)).network_acl_id == acl_id
        deleted = await client.post(
            f"/network-acls/{acl_id}/delete", data={"csrf": token, **_CONFIRMED}
        )
        assert deleted.status_code == 303 and deleted.headers["location"] == (
            "/console/network-acls"
        )
        gone = await client.get(f"/network-acls/{acl_id}")
        listing = await client.get("/network-acls")
    assert gone.status_code == 400 and "(InvalidNetworkAclID.NotFound)" in gone.text
    assert acl_id not in _ACL_ROW.findall(listing.text)
    remaining = await compute.describe_network_acls(tenant, [])
    assert acl_id not in {a.network_acl_id for a in remaining}
    assert other_vpc in {a.vpc_id for a in remaining}


async def test_the_default_acl_offers_no_deletion(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        default = await _default_acl(console, tenant, vpc_id)
        page = await client.get(f"/network-acls/{default.network_acl_id}")
        tried = await client.post(
            f"/network-acls/{default.network_acl_id}/delete",
            data={"csrf": csrf_of(page), **_CONFIRMED},
        )
    assert page.status_code == 200 and "Default network ACL" in page.text
    assert 'id="delete-network-acl"' not in page.text
    assert "default network ACL cannot be deleted: it goes with its VPC" in page.text
    # EC2's rule 100 each way, editable, and the * rule.
    assert _ENTRY_ROW.findall(page.text) == [
        ("ingress", "allow", "100"),
        ("ingress", "deny", "catch-all"),
        ("egress", "allow", "100"),
        ("egress", "deny", "catch-all"),
    ]
    assert "/entries/replace" in _row(page, "egress-100")
    assert tried.status_code == 400 and "(InvalidParameterValue)" in tried.text
    assert f"cannot delete default network ACL {default.network_acl_id}" in tried.text
    assert await _default_acl(console, tenant, vpc_id) == default


async def test_the_entry_quota_is_ec2s_refusal(tmp_path: Path) -> None:
    async with console_harness(tmp_path, max_network_acl_entries=1) as console:
        async with console.client() as client:
            tenant = await sign_in_root(console, client)
            vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
            acl_id = await _new_acl(client, vpc_id)
            token = await csrf(client, f"/network-acls/{acl_id}")
            path = f"/network-acls/{acl_id}/entries/add"
            first = await client.post(path, data=_entry_form(token, 100))
            over = await client.post(path, data=_entry_form(token, 110, cidr="192.0.2.0/24"))
            other_way = await client.post(path, data=_entry_form(token, 110, direction="egress"))
        assert first.status_code == 303 and other_way.status_code == 303
        assert over.status_code == 400 and "(NetworkAclEntryLimitExceeded)" in over.text
        assert "The entry quota of that direction is reached." in over.text
        assert 'value="192.0.2.0/24"' in _form(over, "add-entry")
        assert len((await _acl(console, tenant, acl_id)).entries) == 2


async def test_a_user_without_ec2_permissions_gets_ec2s_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
    acl = await compute.create_network_acl(tenant, vpc_id)
    before = await compute.describe_network_acls(tenant, [])
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        pages = [
            await client.get(p) for p in ("/network-acls", f"/network-acls/{acl.network_acl_id}")
        ]
        token = await csrf(client, "/network-acls")
        acl_path = f"/network-acls/{acl.network_acl_id}"
        changes = [
            await client.post("/network-acls", data={"csrf": token, "vpc_id": vpc_id}),
            await client.post(f"{acl_path}/entries/add", data=_entry_form(token, 100)),
            await client.post(f"{acl_path}/entries/replace", data=_entry_form(token, 100)),
            await client.post(
                f"{acl_path}/entries/delete",
                data={"csrf": token, "direction": "ingress", "rule_number": "100"},
            ),
            await client.post(f"{acl_path}/delete", data={"csrf": token, **_CONFIRMED}),
        ]
        moved = await client.post(
            f"{acl_path}/associate", data={"csrf": token, "subnet_id": subnet_id}
        )
    for page in [*pages, *changes, moved]:
        assert page.status_code == 403, page.text
        assert "(UnauthorizedOperation)" in page.text and ":user/intern" in page.text
        assert "Access denied: your policies do not allow this." in page.text
    assert "ec2:DescribeNetworkAcls" in pages[0].text and "ec2:DescribeNetworkAcls" in moved.text
    actions = [
        "ec2:CreateNetworkAcl",
        "ec2:CreateNetworkAclEntry",
        "ec2:ReplaceNetworkAclEntry",
        "ec2:DeleteNetworkAclEntry",
        "ec2:DeleteNetworkAcl",
    ]
    for answer, action in zip(changes, actions, strict=True):
        assert action in answer.text
    failures = [
        e.action
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.FAILURE and e.action in actions
    ]
    assert failures == actions
    assert await compute.describe_network_acls(tenant, []) == before


async def test_a_user_allowed_to_move_subnets_only(console: ConsoleHarness) -> None:
    """The move is ReplaceNetworkAclAssociation after EC2 says where the subnet is now: a user
    allowed both moves it; refused the move itself, EC2's refusal of it is shown."""
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
    acl = await compute.create_network_acl(tenant, vpc_id)
    for user, actions in (
        ("reader", ["ec2:DescribeNetworkAcls", "ec2:DescribeSubnets"]),
        ("mover", ["ec2:DescribeNetworkAcls", "ec2:ReplaceNetworkAclAssociation"]),
    ):
        await console.user_with_password(tenant, user)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        await console.identity.put_user_policy(tenant, user, "acl", json.dumps(policy))
    path = f"/network-acls/{acl.network_acl_id}"
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get(path)
        refused = await client.post(
            f"{path}/associate", data={"csrf": csrf_of(page), "subnet_id": subnet_id}
        )
    assert page.status_code == 200 and f'<option value="{subnet_id}">' in page.text
    assert refused.status_code == 403 and "ec2:ReplaceNetworkAclAssociation" in refused.text
    assert (await _acl(console, tenant, acl.network_acl_id)).associations == ()
    async with console.client() as client:
        assert (await log_in(client, "admin", "mover")).status_code == 303
        page = await client.get(path)
        moved = await client.post(
            f"{path}/associate", data={"csrf": csrf_of(page), "subnet_id": subnet_id}
        )
    # Without DescribeSubnets the page has no choices, but the move itself is allowed.
    assert page.status_code == 200 and 'id="associate-subnet"' not in page.text
    assert moved.status_code == 303, moved.text
    [association] = (await _acl(console, tenant, acl.network_acl_id)).associations
    assert association.subnet_id == subnet_id


async def test_another_tenants_acls_are_not_found(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as owner:
        tenant = await sign_in_root(console, owner)
        vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.7.0.0/16")
        acl_id = await _new_acl(owner, vpc_id, "payroll-acl")
    default = await _default_acl(console, tenant, vpc_id)
    before = await compute.describe_network_acls(tenant, [])
    async with console.client() as intruder:
        intruder_tenant = await sign_in_root(console, intruder, account="intruder")
        their_vpc, their_subnet = await _vpc_with_subnet(console, intruder_tenant, "10.7.0.0/16")
        mine = await _new_acl(intruder, their_vpc)
        token = await csrf(intruder, "/network-acls")
        answers = [
            await intruder.get(f"/network-acls/{acl_id}"),
            await intruder.get(f"/network-acls/{default.network_acl_id}"),
            await intruder.post(f"/network-acls/{acl_id}/entries/add", data=_entry_form(token, 1)),
            await intruder.post(
                f"/network-acls/{default.network_acl_id}/entries/replace",
                data=_entry_form(token, 100, rule_action="deny"),
            ),
            await intruder.post(
                f"/network-acls/{default.network_acl_id}/entries/delete",
                data={"csrf": token, "direction": "ingress", "rule_number": "100"},
            ),
            await intruder.post(
                f"/network-acls/{acl_id}/associate",
                data={"csrf": token, "subnet_id": their_subnet},
            ),
            await intruder.post(
                f"/network-acls/{acl_id}/delete", data={"csrf": token, **_CONFIRMED}
            ),
        ]
        their_subnet_taken = await intruder.post(
            f"/network-acls/{mine}/associate", data={"csrf": token, "subnet_id": subnet_id}
        )
        in_their_vpc = await intruder.post(
            "/network-acls", data={"csrf": token, "vpc_id": vpc_id, "name": "x"}
        )
        listing = await intruder.get("/network-acls")
        filtered = await intruder.get(f"/network-acls?vpc_id={vpc_id}")
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert "(InvalidNetworkAclID.NotFound)" in answer.text and "payroll" not in answer.text
    assert their_subnet_taken.status_code == 400
    assert "(InvalidSubnetID.NotFound)" in their_subnet_taken.text
    assert in_their_vpc.status_code == 400 and "(InvalidVpcID.NotFound)" in in_their_vpc.text
    assert listing.status_code == 200 and mine in _ACL_ROW.findall(listing.text)
    for secret in (acl_id, default.network_acl_id, vpc_id, subnet_id, "payroll"):
        assert secret not in listing.text
    # The VPC named in the query: none of the caller's, so nothing of it listed.
    assert filtered.status_code == 200 and _ACL_ROW.findall(filtered.text) == []
    for secret in (acl_id, default.network_acl_id, subnet_id, "payroll"):
        assert secret not in filtered.text
    assert await compute.describe_network_acls(tenant, []) == before
    [their_default] = [
        a for a in await compute.describe_network_acls(intruder_tenant, []) if a.is_default
        and a.vpc_id == their_vpc
    ]  # fmt: skip
    assert [a.subnet_id for a in their_default.associations] == [their_subnet]


async def test_forms_without_the_sessions_token_are_refused(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, subnet_id = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        acl_id = await _new_acl(client, vpc_id)
        before = await compute.describe_network_acls(tenant, [])
        forged = "0" * len(await csrf(client, "/network-acls"))
        acl_path = f"/network-acls/{acl_id}"
        answers = [
            await client.post(path, data={**data, "csrf": forged})
            for path, data in [
                ("/network-acls", {"vpc_id": vpc_id}),
                (f"{acl_path}/entries/add", _entry_form(forged, 100)),
                (f"{acl_path}/entries/replace", _entry_form(forged, 100)),
                (f"{acl_path}/entries/delete", {"direction": "ingress", "rule_number": "100"}),
                (f"{acl_path}/associate", {"subnet_id": subnet_id}),
                (f"{acl_path}/delete", _CONFIRMED),
                (f"{acl_path}/delete", {}),
            ]
        ]
        no_token = await client.post(f"{acl_path}/delete", data=_CONFIRMED)
    for answer in [*answers, no_token]:
        assert answer.status_code == 403 and "Form refused" in answer.text
    assert await compute.describe_network_acls(tenant, []) == before


async def test_signed_out_the_pages_and_forms_go_to_the_login(console: ConsoleHarness) -> None:
    async with console.client() as client:
        answers = [
            await client.get("/network-acls"),
            await client.get("/network-acls/acl-0123456789abcdef0"),
            await client.post("/network-acls", data={"vpc_id": "vpc-0123456789abcdef0"}),
            await client.post("/network-acls/acl-0123456789abcdef0/delete", data=_CONFIRMED),
        ]
    for answer in answers:
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


async def test_the_pages_in_french(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        tenant = await sign_in_root(console, client)
        vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.1.0.0/16")
        default = await _default_acl(console, tenant, vpc_id)
        instances = await client.get("/instances")
        listing = await client.get("/network-acls")
        page = await client.get(f"/network-acls/{default.network_acl_id}")
        taken = await client.post(
            f"/network-acls/{default.network_acl_id}/entries/add",
            data=_entry_form(csrf_of(page), 100),
        )
        acl_id = await _new_acl(client, vpc_id)
        unconfirmed = await client.post(
            f"/network-acls/{acl_id}/delete", data={"csrf": csrf_of(page)}
        )
        new = await client.get(f"/network-acls/{acl_id}")
    assert "Listes ACL réseau" in instances.text
    assert '<html lang="fr">' in listing.text and "Créer la liste ACL réseau" in listing.text
    assert "Liste ACL réseau par défaut" in page.text and "Entrées entrantes" in page.text
    assert "Entrées sortantes" in page.text and "Numéro de règle" in page.text
    assert (
        "Autoriser" in page.text
        and "Refuser" in page.text
        and "Ajouter l\N{RIGHT SINGLE QUOTATION MARK}entrée" in page.text
    )
    assert "ne peut pas être supprimée" in page.text
    assert taken.status_code == 400
    assert "Ce numéro de règle est déjà pris dans ce sens." in taken.text
    assert "(NetworkAclEntryAlreadyExists)" in taken.text
    assert unconfirmed.status_code == 400
    assert "Cochez la case pour confirmer la suppression." in unconfirmed.text
    assert "Supprimer la liste ACL réseau" in new.text
    assert "Type et code ICMP" in page.text and 'placeholder="Tous"' in page.text


async def test_a_server_without_ec2_says_so(console: ConsoleHarness) -> None:
    running = console.application._running
    assert running is not None
    running.console.console.ec2 = None
    async with console.client() as client:
        await sign_in_root(console, client)
        pages = [
            await client.get("/network-acls"),
            await client.get("/network-acls/acl-0123456789abcdef0"),
        ]
        token = await csrf(client, "/instances")
        pages.append(await client.post("/network-acls", data={"csrf": token}))
        pages.append(
            await client.post(
                "/network-acls/acl-0123456789abcdef0/delete", data={"csrf": token, **_CONFIRMED}
            )
        )
    for page in pages:
        assert page.status_code == 404 and "This server serves no EC2." in page.text


async def test_a_create_form_sent_twice_makes_one_acl(console: ConsoleHarness) -> None:
    """The form carries a ClientToken, as the route table form does: a double click, or the
    browser sending the form again, makes one ACL."""
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id, _ = await _vpc_with_subnet(console, tenant, "10.4.0.0/16")
        listing = await client.get(f"/network-acls?vpc_id={vpc_id}")
        token = re.search(r'name="client_token" value="([^"]+)"', listing.text)
        assert token is not None
        form = {"csrf": csrf_of(listing), "vpc_id": vpc_id, "client_token": token.group(1)}
        first = await client.post("/network-acls", data=form)
        second = await client.post("/network-acls", data=form)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        acls = await running_compute(console).describe_network_acls(tenant, [])
        assert len([a for a in acls if a.vpc_id == vpc_id]) == 2  # its default and this one
        again = await client.get(f"/network-acls?vpc_id={vpc_id}")
        assert token.group(1) not in again.text
