"""The console's managed prefix lists page (decision 0149), read only: the account's lists
with their current entries, each read EC2's own call as the signed-in user, so EC2's
policies decide what shows; another account's lists never do."""

from __future__ import annotations

import html
import json
import re

from support.console import ConsoleHarness, csrf_of, log_in, running_compute, sign_in_root


async def test_the_accounts_lists_show_with_their_current_entries(
    console: ConsoleHarness,
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        instances = await client.get("/instances")
        assert 'href="/console/prefix-lists"' in instances.text
        empty = await client.get("/prefix-lists")
        assert empty.status_code == 200 and "No prefix lists." in empty.text
        plist = await compute.create_managed_prefix_list(
            tenant, "offices", "IPv4", 5, [("192.0.2.0/24", "paris <hq>")]
        )
        await compute.modify_managed_prefix_list(
            tenant, plist.prefix_list_id, current_version=1, add=[("198.51.100.0/24", "")]
        )
        page = await client.get("/prefix-lists")
    assert page.status_code == 200, page.text
    start = page.text.index(f'id="prefix-list-{plist.prefix_list_id}"')
    row = page.text[start : page.text.index("</tr>", start)]
    assert "offices" in row and "IPv4" in row and "modify-complete" in row
    assert '<td class="version">2</td>' in row and '<td class="max-entries">5</td>' in row
    assert "<code>192.0.2.0/24</code> (paris &lt;hq&gt;)" in row
    assert "<code>198.51.100.0/24</code>" in row
    async with console.client() as intruder:
        await sign_in_root(console, intruder, account="intruder")
        theirs = await intruder.get("/prefix-lists")
    assert "No prefix lists." in theirs.text and plist.prefix_list_id not in theirs.text


async def test_ec2s_policies_decide_what_shows(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    plist = await running_compute(console).create_managed_prefix_list(
        tenant, "offices", "IPv4", 5, [("192.0.2.0/24", "")]
    )
    await console.user_with_password(tenant, "intern")
    await console.user_with_password(tenant, "reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:DescribeManagedPrefixLists", "Resource": "*"}
        ],
    }
    await console.identity.put_user_policy(tenant, "reader", "lists", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        refused = await client.get("/prefix-lists")
    assert refused.status_code == 403
    assert "ec2:DescribeManagedPrefixLists" in refused.text
    assert plist.prefix_list_id not in refused.text
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        listed = await client.get("/prefix-lists")
    # Listed, but the entries are GetManagedPrefixListEntries', which the reader may not call.
    assert listed.status_code == 200 and plist.prefix_list_id in listed.text
    assert "192.0.2.0/24" not in listed.text


_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


async def test_a_groups_page_shows_adds_and_removes_a_rule_naming_a_list(
    console: ConsoleHarness,
) -> None:
    """A rule naming a list shows on its group's page (never silently left out), linked to
    the list, with its rule id; the page's forms add and remove one as EC2's calls."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        plist = await compute.create_managed_prefix_list(
            tenant, "offices", "IPv4", 5, [("192.0.2.0/24", "")]
        )
        group = await compute.create_security_group(tenant, "web", "web", (), None)
        page_url = f"/security-groups/{group.group_id}"
        token = csrf_of(await client.get(page_url))
        added = await client.post(
            f"{page_url}/inbound/add",
            data={"csrf": token, "protocol": "tcp", "from_port": "443", "to_port": "443",
                  "peer": plist.prefix_list_id},
        )  # fmt: skip
        assert added.status_code == 303, added.text
        page = await client.get(page_url)
        link = f'<a href="/console/prefix-lists#prefix-list-{plist.prefix_list_id}">'
        assert link in page.text
        [rule] = (await compute.security_group(tenant, group_id=group.group_id, name=None)).ingress
        assert rule.prefix_list_id == plist.prefix_list_id
        assert f"<code>{rule.rule_id}</code>" in page.text
        action = f'action="/console/security-groups/{group.group_id}/inbound/remove"'
        form = page.text.split(action)[1].split("</form>")[0]
        fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(form)}
        removed = await client.post(f"{page_url}/inbound/remove", data=fields)
        assert removed.status_code == 303, removed.text
    held = await compute.security_group(tenant, group_id=group.group_id, name=None)
    assert held.ingress == ()
