"""The console's security groups, images and VPCs pages: each read and change EC2's own call as
the signed-in user, so EC2's rules, policies and errors answer, and EC2 audits the changes."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from andromede.audit.model import Outcome
from andromede.compute.model import Rule
from support.console import (
    ConsoleHarness,
    csrf,
    csrf_of,
    log_in,
    logged_events,
    running_compute,
    sign_in_root,
)

_GROUP_ROW = re.compile(r'<tr class="security-group" id="security-group-(sg-[0-9a-f]+)">')
_IMAGE_ROW = re.compile(r'<tr class="image" id="image-(ami-[0-9a-f]+)">')
_VPC_ROW = re.compile(r'<tr class="vpc" id="vpc-(vpc-[0-9a-f]+)">')
_SUBNET_ROW = re.compile(r'<tr class="subnet" id="subnet-(subnet-[0-9a-f]+)">')
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_SSH_RULE = {"protocol": "tcp", "from_port": "22", "to_port": "22", "peer": "203.0.113.0/24"}


async def _rules(console: ConsoleHarness, tenant: str, group_id: str) -> tuple[set[Rule], ...]:
    """The group's inbound and outbound rules as EC2's service holds them, but for their ids
    (decision 0146), which the forms never name."""
    [group] = await running_compute(console).describe_security_groups(tenant, [group_id], [])
    return tuple({replace(r, rule_id="") for r in rules} for rules in (group.ingress, group.egress))


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


def _remove_forms(page: httpx.Response, group_id: str, direction: str) -> list[dict[str, str]]:
    """The hidden fields of each rule's remove button, as the browser would send them."""
    action = f'action="/console/security-groups/{group_id}/{direction}/remove"'
    forms = page.text.split(action)[1:]
    return [
        {name: html.unescape(value) for name, value in _HIDDEN.findall(f.split("</form>")[0])}
        for f in forms
    ]


async def _create_group(
    client: httpx.AsyncClient, name: str, description: str = "a group", vpc_id: str = ""
) -> httpx.Response:
    token = await csrf(client, "/security-groups")
    data = {"csrf": token, "name": name, "description": description, "vpc_id": vpc_id}
    return await client.post("/security-groups", data=data)


async def _group_of(client: httpx.AsyncClient, name: str) -> str:
    created = await _create_group(client, name)
    assert created.status_code == 303, created.text
    return created.headers["location"].rsplit("/", 1)[1]


async def test_a_security_groups_rules_round_trip(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        instances = await client.get("/instances")
        for link in ("/console/security-groups", "/console/images", "/console/vpcs"):
            assert f'href="{link}"' in instances.text
        listing = await client.get("/security-groups")
        assert listing.status_code == 200
        default_vpc = (await compute.default_network(tenant)).vpc.vpc_id
        [default_group] = _GROUP_ROW.findall(listing.text)
        assert ">default<" in _row(listing, f"security-group-{default_group}")
        assert "Delete" not in _row(listing, f"security-group-{default_group}")
        assert f'<option value="{default_vpc}" selected>' in listing.text

        created = await _create_group(client, "web", "web servers <b>", default_vpc)
        assert created.status_code == 303, created.text
        group_id = created.headers["location"].rsplit("/", 1)[1]
        assert created.headers["location"] == f"/console/security-groups/{group_id}"
        page = await client.get(f"/security-groups/{group_id}")
        assert page.status_code == 200 and "web servers &lt;b&gt;" in page.text
        assert "web servers <b>" not in page.text
        # A new group: no inbound rule, all traffic out, as EC2 makes it.
        assert "No rules." in page.text and "All traffic" in page.text
        assert _remove_forms(page, group_id, "outbound") == [
            {"csrf": csrf_of(page), "protocol": "-1", "from_port": "", "to_port": "",
             "peer": "0.0.0.0/0"}
        ]  # fmt: skip

        token = csrf_of(page)
        rules = {
            "ssh": {**_SSH_RULE, "description": "office"},
            "dns": {"protocol": "udp", "from_port": "53", "to_port": "53",
                    "peer": "2001:db8::/32", "description": ""},
            "peers": {"protocol": "-1", "from_port": "", "to_port": "", "peer": default_group,
                      "description": "the default group"},
            "ping": {"protocol": "icmp", "from_port": "8", "to_port": "-1",
                     "peer": "198.51.100.7/32", "description": ""},
        }  # fmt: skip
        for fields in rules.values():
            added = await client.post(
                f"/security-groups/{group_id}/inbound/add", data={"csrf": token, **fields}
            )
            assert added.status_code == 303, added.text
            assert added.headers["location"] == f"/console/security-groups/{group_id}"
        inbound, _ = await _rules(console, tenant, group_id)
        assert inbound == {
            Rule("tcp", 22, 22, "203.0.113.0/24", "office"),
            Rule("udp", 53, 53, "2001:db8::/32"),
            Rule("-1", -1, -1, "", "the default group", group_id=default_group),
            Rule("icmp", 8, -1, "198.51.100.7/32"),
        }
        page = await client.get(f"/security-groups/{group_id}")
        shown = re.sub(r"\s+", " ", page.text)
        assert "<td>TCP</td> <td>22</td> <td><code>203.0.113.0/24</code></td> <td>office</td>" in (
            shown
        )
        assert f'href="/console/security-groups/{default_group}"' in page.text
        assert "<td>ICMP</td> <td>8 / -1</td>" in shown
        # Each rule shows its id (decision 0146), the one EC2's service holds for it.
        [held] = await compute.describe_security_groups(tenant, [group_id], [])
        for rule in (*held.ingress, *held.egress):
            assert f"<td><code>{rule.rule_id}</code></td>" in page.text
        listing = await client.get("/security-groups")
        row = _row(listing, f"security-group-{group_id}")
        assert '<td class="inbound">4</td>' in row and '<td class="outbound">1</td>' in row

        # EC2's refusals, the add form kept as typed.
        twice = await client.post(
            f"/security-groups/{group_id}/inbound/add", data={"csrf": token, **_SSH_RULE}
        )
        assert twice.status_code == 400 and "(InvalidPermission.Duplicate)" in twice.text
        assert 'value="203.0.113.0/24"' in twice.text.split('id="add-inbound"')[1]
        assert 'value="203.0.113.0/24"' not in twice.text.split('id="add-outbound"')[1]

        # Each remove button sends its rule exactly: EC2 revokes that one and no other.
        removes = _remove_forms(page, group_id, "inbound")
        assert len(removes) == 4
        ssh = next(f for f in removes if f["peer"] == "203.0.113.0/24")
        removed = await client.post(f"/security-groups/{group_id}/inbound/remove", data=ssh)
        assert removed.status_code == 303, removed.text
        inbound, _ = await _rules(console, tenant, group_id)
        assert len(inbound) == 3 and all(r.cidr != "203.0.113.0/24" for r in inbound)
        again = await client.post(f"/security-groups/{group_id}/inbound/remove", data=ssh)
        assert again.status_code == 400 and "(InvalidPermission.NotFound)" in again.text
        for fields in removes:
            if fields["peer"] != "203.0.113.0/24":
                answer = await client.post(
                    f"/security-groups/{group_id}/inbound/remove", data=fields
                )
                assert answer.status_code == 303, answer.text

        # Outbound: all traffic out replaced by HTTPS out.
        [everything] = _remove_forms(page, group_id, "outbound")
        assert (
            await client.post(f"/security-groups/{group_id}/outbound/remove", data=everything)
        ).status_code == 303
        https = {"csrf": token, "protocol": "tcp", "from_port": "443", "to_port": "443",
                 "peer": "0.0.0.0/0", "description": ""}  # fmt: skip
        assert (
            await client.post(f"/security-groups/{group_id}/outbound/add", data=https)
        ).status_code == 303
        assert await _rules(console, tenant, group_id) == (
            set(),
            {Rule("tcp", 443, 443, "0.0.0.0/0")},
        )

        deleted = await client.post(f"/security-groups/{group_id}/delete", data={"csrf": token})
        assert deleted.status_code == 303 and deleted.headers["location"].endswith(
            "/security-groups"
        )
        after = await client.get("/security-groups")
        gone = await client.get(f"/security-groups/{group_id}")
        default_delete = await client.post(
            f"/security-groups/{default_group}/delete", data={"csrf": token}
        )
    assert _GROUP_ROW.findall(after.text) == [default_group]
    assert gone.status_code == 400 and "(InvalidGroup.NotFound)" in gone.text
    assert default_delete.status_code == 400 and "(CannotDelete)" in default_delete.text
    assert 'role="alert"' in default_delete.text
    assert await compute.describe_security_groups(tenant, [default_group], [])


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"peer": "203.0.113.0/33"}, "InvalidParameterValue"),
        ({"peer": "203.0.113.1/24"}, "InvalidParameterValue"),
        ({"peer": "my laptop"}, "InvalidParameterValue"),
        ({"peer": ""}, "MissingParameter"),
        ({"peer": "sg-0123456789abcdef0"}, "InvalidGroup.NotFound"),
        ({"from_port": "ssh"}, "InvalidParameterValue"),
        ({"from_port": "", "to_port": ""}, "InvalidParameterValue"),
        ({"from_port": "70000", "to_port": "70000"}, "InvalidParameterValue"),
        ({"from_port": "23", "to_port": "22"}, "InvalidParameterValue"),
        ({"protocol": "gre"}, "InvalidParameterValue"),
        ({"protocol": ""}, "MissingParameter"),
    ],
)
async def test_a_refused_rule_shows_ec2s_error_and_the_form_again(
    console: ConsoleHarness, fields: dict[str, str], code: str
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        group_id = await _group_of(client, "web")
        token = await csrf(client, f"/security-groups/{group_id}")
        sent = {**_SSH_RULE, "description": "kept <i>", **fields}
        refused = await client.post(
            f"/security-groups/{group_id}/inbound/add", data={"csrf": token, **sent}
        )
    assert refused.status_code == 400, refused.text
    assert f"({code})" in refused.text and 'role="alert"' in refused.text
    form = refused.text.split('id="add-inbound"')[1].split("</form>")[0]
    assert 'value="kept &lt;i&gt;"' in form
    assert await _rules(console, tenant, group_id) == (set(), {Rule("-1", -1, -1, "0.0.0.0/0")})


async def test_a_malformed_group_id_is_ec2s_refusal(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/security-groups")
        page = await client.get("/security-groups/nonsense")
        added = await client.post(
            "/security-groups/nonsense/inbound/add", data={"csrf": token, **_SSH_RULE}
        )
        unnamed = await client.post(
            "/security-groups", data={"csrf": token, "name": "", "description": "d"}
        )
        reserved = await client.post(
            "/security-groups", data={"csrf": token, "name": "default", "description": "mine"}
        )
    assert page.status_code == added.status_code == 400
    assert "(InvalidGroupId.Malformed)" in page.text and "(InvalidGroupId.Malformed)" in added.text
    assert unnamed.status_code == 400 and "(MissingParameter)" in unnamed.text
    assert reserved.status_code == 400 and "(InvalidGroup.Reserved)" in reserved.text
    assert 'value="mine"' in reserved.text  # the create form, as typed


async def _snapshot(console: ConsoleHarness, tenant: str) -> str:
    compute = running_compute(console)
    volume = await compute.create_volume(
        tenant, size_gib=1, snapshot_id=None, availability_zone="eu-fr-1a"
    )
    await compute.settle()
    snapshot = await compute.create_snapshot(tenant, volume.volume_id, "golden disk")
    await compute.settle()
    return snapshot.snapshot_id


async def test_images_listed_registered_launched_deregistered(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    compute = running_compute(console)
    public = (await compute.import_image_file(disk, name="debian-12", owner_id=None)).image_id
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        snapshot_id = await _snapshot(console, tenant)
        listing = await client.get("/images")
        assert listing.status_code == 200
        row = _row(listing, f"image-{public}")
        assert "debian-12" in row and "Public" in row and ">available<" in row
        assert "Deregister" not in row
        assert f'href="/console/instances/launch?image_id={public}"' in row
        assert f'<option value="{snapshot_id}">1 GiB, completed, golden disk</option>' in (
            listing.text
        )

        token = csrf_of(listing)
        image = {"csrf": token, "name": "golden", "description": "our base <3",
                 "snapshot_id": snapshot_id, "root_device": "/dev/xvda"}  # fmt: skip
        registered = await client.post("/images", data=image)
        assert registered.status_code == 303, registered.text
        listing = await client.get("/images")
        [mine] = set(_IMAGE_ROW.findall(listing.text)) - {public}
        row = _row(listing, f"image-{mine}")
        assert "golden" in row and "our base &lt;3" in row and "Private" in row
        assert "Deregister" in row and f"image_id={mine}" in row
        [described] = await compute.describe_images(tenant, [mine])
        assert described.snapshot_id == snapshot_id and described.owner_id == tenant

        twice = await client.post("/images", data=image)
        no_snapshot = await client.post(
            "/images", data={**image, "name": "other", "snapshot_id": "snap-0123456789abcdef0"}
        )
        launch = await client.get(f"/instances/launch?image_id={mine}")
        theirs = await client.post(f"/images/{public}/deregister", data={"csrf": token})
        deregistered = await client.post(f"/images/{mine}/deregister", data={"csrf": token})
        after = await client.get("/images")
    assert twice.status_code == 400 and "(InvalidAMIName.Duplicate)" in twice.text
    assert 'value="our base &lt;3"' in twice.text  # the register form, as typed
    assert no_snapshot.status_code == 400 and "(InvalidSnapshot.NotFound)" in no_snapshot.text
    assert launch.status_code == 200
    assert f'<option value="{mine}" selected>golden ({mine})</option>' in launch.text
    assert f'<option value="{public}">' in launch.text
    assert theirs.status_code == 400 and "(InvalidAMIID.NotFound)" in theirs.text
    assert deregistered.status_code == 303, deregistered.text
    assert _IMAGE_ROW.findall(after.text) == [public]


async def test_vpcs_and_subnets_round_trip(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        page = await client.get("/vpcs")
        assert page.status_code == 200
        default = await compute.default_network(tenant)
        row = _row(page, f"vpc-{default.vpc.vpc_id}")
        # The default VPC and subnet are deleted like any other, once the box is ticked
        # (decision 0137); with one, nothing offers to create it.
        assert "<td>Yes</td>" in row and "Delete this default VPC" in row
        assert "Delete this default subnet" in _row(page, f"subnet-{default.subnet.subnet_id}")
        assert "create-default-vpc" not in page.text
        token = csrf_of(page)
        confirmed = {"csrf": token, "confirm": "yes"}

        created = await client.post("/vpcs", data={"csrf": token, "cidr": "10.1.0.0/16",
                                                   "name": "lab <1>"})  # fmt: skip
        assert created.status_code == 303, created.text
        page = await client.get("/vpcs")
        [vpc_id] = set(_VPC_ROW.findall(page.text)) - {default.vpc.vpc_id}
        row = _row(page, f"vpc-{vpc_id}")
        assert "lab &lt;1&gt;" in row and "10.1.0.0/16" in row and "<td>No</td>" in row

        subnet = {"csrf": token, "vpc_id": vpc_id, "cidr": "10.1.1.0/24", "zone": "eu-fr-1a",
                  "name": "lab-a"}  # fmt: skip
        made = await client.post("/subnets", data=subnet)
        assert made.status_code == 303, made.text
        page = await client.get("/vpcs")
        [subnet_id] = set(_SUBNET_ROW.findall(page.text)) - {default.subnet.subnet_id}
        row = re.sub(r"\s+", " ", _row(page, f"subnet-{subnet_id}"))
        assert "lab-a" in row and vpc_id in row and "10.1.1.0/24" in row and "eu-fr-1a" in row
        assert "<td>No</td> <td>No</td> <td>251</td>" in row
        [held] = await compute.describe_subnets(tenant, [subnet_id])
        assert (held.vpc_id, held.cidr) == (vpc_id, "10.1.1.0/24")

        overlapping = await client.post("/subnets", data={**subnet, "cidr": "10.1.1.128/25"})
        outside = await client.post("/subnets", data={**subnet, "cidr": "10.2.0.0/24"})
        bad_vpcs = [
            (code, await client.post("/vpcs", data={"csrf": token, "cidr": cidr, "name": "bad"}))
            for cidr, code in [
                ("10.9.0.0/33", "InvalidParameterValue"),
                ("not-a-cidr", "InvalidParameterValue"),
                ("10.9.0.0/8", "InvalidVpc.Range"),  # larger than a VPC may be
            ]
        ]
        group = await _create_group(client, "lab-web", vpc_id=vpc_id)
        assert group.status_code == 303, group.text
        group_id = group.headers["location"].rsplit("/", 1)[1]
        in_use = await client.post(f"/vpcs/{vpc_id}/delete", data=confirmed)
        unticked = [
            await client.post(f"/subnets/{subnet_id}/delete", data={"csrf": token}),
            await client.post(f"/vpcs/{vpc_id}/delete", data={"csrf": token}),
        ]
        steps = [
            await client.post(f"/security-groups/{group_id}/delete", data={"csrf": token}),
            await client.post(f"/subnets/{subnet_id}/delete", data=confirmed),
            await client.post(f"/vpcs/{vpc_id}/delete", data=confirmed),
        ]
        default_vpc = await client.post(f"/vpcs/{default.vpc.vpc_id}/delete", data=confirmed)
        after = await client.get("/vpcs")
    assert overlapping.status_code == 400 and "(InvalidSubnet.Conflict)" in overlapping.text
    subnet_form = overlapping.text.split('action="/console/subnets"')[1].split("</form>")[0]
    assert 'value="10.1.1.128/25"' in subnet_form and f'<option value="{vpc_id}" selected>' in (
        subnet_form
    )
    assert outside.status_code == 400 and "(InvalidSubnet.Range)" in outside.text
    for code, refused in bad_vpcs:
        assert refused.status_code == 400 and f"({code})" in refused.text, refused.text
        assert 'value="bad"' in refused.text  # the VPC form, as typed
    assert in_use.status_code == 400 and "(DependencyViolation)" in in_use.text
    for refused in unticked:
        assert refused.status_code == 400 and "Tick the box to confirm" in refused.text
    assert [s.status_code for s in steps] == [303, 303, 303]
    # EC2's rules for any VPC: the default one still holds its subnet (decision 0137).
    assert default_vpc.status_code == 400 and "(DependencyViolation)" in default_vpc.text
    assert _VPC_ROW.findall(after.text) == [default.vpc.vpc_id]
    assert _SUBNET_ROW.findall(after.text) == [default.subnet.subnet_id]


async def test_a_user_without_ec2_permissions_gets_ec2s_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "intern")
    default_group = (await running_compute(console).default_network(tenant)).group.group_id
    before = await _rules(console, tenant, default_group)
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        pages = {
            path: await client.get(path)
            for path in ("/security-groups", f"/security-groups/{default_group}", "/images",
                         "/vpcs")
        }  # fmt: skip
        token = await csrf(client, "/security-groups")
        changes = [
            await client.post("/security-groups", data={"csrf": token, "name": "web",
                                                        "description": "web"}),
            await client.post(f"/security-groups/{default_group}/inbound/add",
                              data={"csrf": token, **_SSH_RULE}),
            await client.post("/vpcs", data={"csrf": token, "cidr": "10.1.0.0/16"}),
            await client.post("/images", data={"csrf": token, "name": "mine",
                                               "snapshot_id": "snap-0123456789abcdef0"}),
        ]  # fmt: skip
    for path, page in pages.items():
        assert page.status_code == 403, path
        assert "(UnauthorizedOperation)" in page.text and ":user/intern" in page.text
    assert "ec2:DescribeSecurityGroups" in pages["/security-groups"].text
    assert "ec2:DescribeImages" in pages["/images"].text
    assert "ec2:DescribeVpcs" in pages["/vpcs"].text
    actions = ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateVpc",
               "ec2:RegisterImage"]  # fmt: skip
    for answer, action in zip(changes, actions, strict=True):
        assert answer.status_code == 403 and action in answer.text
    failures = [
        (e.action, e.details.get("status"))
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.FAILURE and e.action.startswith("ec2:")
    ]
    assert failures == [(action, "403") for action in actions]
    groups = await running_compute(console).describe_security_groups(tenant, [], [])
    assert [g.name for g in groups] == ["default"]
    assert await _rules(console, tenant, default_group) == before


async def test_a_policy_decides_each_rule_change(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    group = await running_compute(console).create_security_group(tenant, "web", "web", (), None)
    await console.user_with_password(tenant, "operator")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["ec2:Describe*",
                                           "ec2:AuthorizeSecurityGroupIngress"],
             "Resource": "*"},
        ],
    }  # fmt: skip
    await console.identity.put_user_policy(tenant, "operator", "rules", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "operator")).status_code == 303
        page = await client.get(f"/security-groups/{group.group_id}")
        token = csrf_of(page)
        added = await client.post(
            f"/security-groups/{group.group_id}/inbound/add", data={"csrf": token, **_SSH_RULE}
        )
        page = await client.get(f"/security-groups/{group.group_id}")
        [remove] = _remove_forms(page, group.group_id, "inbound")
        removed = await client.post(
            f"/security-groups/{group.group_id}/inbound/remove", data=remove
        )
        deleted = await client.post(
            f"/security-groups/{group.group_id}/delete", data={"csrf": token}
        )
    assert added.status_code == 303, added.text
    assert removed.status_code == 403 and "ec2:RevokeSecurityGroupIngress" in removed.text
    assert 'id="add-inbound"' in removed.text  # the group's page, with EC2's refusal
    assert deleted.status_code == 403 and "ec2:DeleteSecurityGroup" in deleted.text
    inbound, _ = await _rules(console, tenant, group.group_id)
    assert inbound == {Rule("tcp", 22, 22, "203.0.113.0/24")}


async def test_a_group_shows_without_rule_ids_to_whom_may_not_read_rules(
    console: ConsoleHarness,
) -> None:
    """DescribeSecurityGroups allowed, DescribeSecurityGroupRules denied: the page and its
    rules show, their ids do not."""
    tenant = console.admin_tenant_id
    compute = running_compute(console)
    group = await compute.create_security_group(tenant, "web", "web", (), None)
    await console.user_with_password(tenant, "reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeSecurityGroups", "Resource": "*"}],
    }
    await console.identity.put_user_policy(tenant, "reader", "groups", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get(f"/security-groups/{group.group_id}")
    assert page.status_code == 200, page.text
    assert "0.0.0.0/0" in page.text and "sgr-" not in page.text


async def test_another_tenants_resources_are_not_found(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    async with console.client() as owner:
        tenant = await sign_in_root(console, owner)
        group_id = (
            (await _create_group(owner, "payroll-db", "secret payroll")).headers["location"]
        ).rsplit("/", 1)[1]
        token = await csrf(owner, f"/security-groups/{group_id}")
        await owner.post(
            f"/security-groups/{group_id}/inbound/add", data={"csrf": token, **_SSH_RULE}
        )
        await owner.post("/vpcs", data={"csrf": token, "cidr": "10.7.0.0/16", "name": "their-vpc"})
        [vpc] = [v for v in await compute.describe_vpcs(tenant, []) if not v.is_default]
        snapshot_id = await _snapshot(console, tenant)
        await owner.post("/images", data={"csrf": token, "name": "private-base",
                                          "snapshot_id": snapshot_id})  # fmt: skip
        [image] = [i for i in await compute.describe_images(tenant, []) if i.owner_id == tenant]
    before = await _rules(console, tenant, group_id)
    async with console.client() as intruder:
        await sign_in_root(console, intruder, account="intruder")
        token = await csrf(intruder, "/security-groups")
        answers = [
            await intruder.get(f"/security-groups/{group_id}"),
            await intruder.post(f"/security-groups/{group_id}/inbound/add",
                                data={"csrf": token, **_SSH_RULE, "peer": "0.0.0.0/0"}),
            await intruder.post(f"/security-groups/{group_id}/inbound/remove",
                                data={"csrf": token, **_SSH_RULE}),
            await intruder.post(f"/security-groups/{group_id}/delete", data={"csrf": token}),
        ]  # fmt: skip
        in_their_vpc = await intruder.post(
            "/subnets", data={"csrf": token, "vpc_id": vpc.vpc_id, "cidr": "10.7.1.0/24"}
        )
        their_vpc = await intruder.post(
            f"/vpcs/{vpc.vpc_id}/delete", data={"csrf": token, "confirm": "yes"}
        )
        their_image = await intruder.post(
            f"/images/{image.image_id}/deregister", data={"csrf": token}
        )
        pages = [await intruder.get(path) for path in ("/security-groups", "/vpcs", "/images")]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert "(InvalidGroup.NotFound)" in answer.text
        assert "payroll" not in answer.text and "203.0.113.0/24" not in answer.text
    assert in_their_vpc.status_code == 400 and "(InvalidVpcID.NotFound)" in in_their_vpc.text
    assert their_vpc.status_code == 400 and "(InvalidVpcID.NotFound)" in their_vpc.text
    assert their_image.status_code == 400 and "(InvalidAMIID.NotFound)" in their_image.text
    for page in pages:
        assert page.status_code == 200
        for secret in (
            group_id,
            "payroll",
            vpc.vpc_id,
            "their-vpc",
            image.image_id,
            "private-base",
        ):
            assert secret not in page.text
    assert await _rules(console, tenant, group_id) == before
    assert await compute.describe_vpcs(tenant, [vpc.vpc_id])
    assert await compute.describe_images(tenant, [image.image_id])


async def test_forms_without_the_sessions_token_are_refused(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        group_id = await _group_of(client, "kept")
        default = await compute.default_network(tenant)
        forged = "0" * len(await csrf(client, "/security-groups"))
        answers = [
            await client.post(path, data={"csrf": forged, **data})
            for path, data in [
                ("/security-groups", {"name": "forged", "description": "forged"}),
                (f"/security-groups/{group_id}/delete", {}),
                (f"/security-groups/{group_id}/inbound/add", _SSH_RULE),
                (f"/security-groups/{group_id}/outbound/remove",
                 {"protocol": "-1", "peer": "0.0.0.0/0"}),
                ("/images", {"name": "forged", "snapshot_id": "snap-0123456789abcdef0"}),
                ("/vpcs", {"cidr": "10.1.0.0/16", "name": "forged"}),
                ("/subnets", {"vpc_id": default.vpc.vpc_id, "cidr": "172.31.200.0/24"}),
                (f"/subnets/{default.subnet.subnet_id}/delete", {}),
            ]
        ]  # fmt: skip
        no_token = await client.post(f"/security-groups/{group_id}/delete")
    for answer in [*answers, no_token]:
        assert answer.status_code == 403 and "Form refused" in answer.text
    groups = await compute.describe_security_groups(tenant, [], [])
    assert sorted(g.name for g in groups) == ["default", "kept"]
    assert await _rules(console, tenant, group_id) == (set(), {Rule("-1", -1, -1, "0.0.0.0/0")})
    assert [v.vpc_id for v in await compute.describe_vpcs(tenant, [])] == [default.vpc.vpc_id]
    assert len(await compute.describe_subnets(tenant, [])) == 1


async def test_the_pages_in_french(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await sign_in_root(console, client)
        instances = await client.get("/instances")
        groups = await client.get("/security-groups")
        group_id = await _group_of(client, "web")
        group = await client.get(f"/security-groups/{group_id}")
        images = await client.get("/images")
        vpcs = await client.get("/vpcs")
        token = csrf_of(vpcs)
        refused = await client.post("/vpcs", data={"csrf": token, "cidr": "10.9.0.0/33"})
    assert "Groupes de sécurité" in instances.text and "VPC et sous-réseaux" in instances.text
    assert '<html lang="fr">' in groups.text and "Créer le groupe de sécurité" in groups.text
    assert "Règles entrantes" in group.text and "Règles sortantes" in group.text
    assert "Aucune règle." in group.text and "Tout le trafic" in group.text
    assert "Source (CIDR ou identifiant de groupe de sécurité)" in group.text
    assert "Enregistrer l\u2019image" in images.text and "Aucune image." in images.text
    assert "Créer le sous-réseau" in vpcs.text and "Oui" in vpcs.text
    # EC2's own message stays EC2's, its code shown.
    assert refused.status_code == 400 and '<html lang="fr">' in refused.text
    assert "(InvalidParameterValue)" in refused.text


async def test_a_server_without_ec2_says_so(console: ConsoleHarness) -> None:
    running = console.application._running
    assert running is not None
    running.console.console.ec2 = None
    async with console.client() as client:
        await sign_in_root(console, client)
        paths = ("/security-groups", "/security-groups/sg-0123456789abcdef0", "/images", "/vpcs")
        pages = [await client.get(path) for path in paths]
        token = await csrf(client, "/security-groups")
        pages.append(await client.post("/vpcs", data={"csrf": token, "cidr": "10.1.0.0/16"}))
    for page in pages:
        assert page.status_code == 404 and "This server serves no EC2." in page.text
