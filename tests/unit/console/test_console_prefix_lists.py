"""The console's managed prefix lists page (decision 0149), read only: the account's lists
with their current entries, each read EC2's own call as the signed-in user, so EC2's
policies decide what shows; another account's lists never do."""

from __future__ import annotations

import json

from support.console import ConsoleHarness, log_in, running_compute, sign_in_root


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
