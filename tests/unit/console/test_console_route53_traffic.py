"""Route 53 traffic policies in the console (decision 0340): a policy created from a pasted
document (an invalid one refused in Route 53's words, the form kept as typed), a version
added, a version's comment changed (a too long one refused as typed), the versions listed
with their documents; a policy record created for a zone by a name relative to it (an
unreadable TTL refused with the form kept), its version and TTL updated, a version in use
refused deletion (``TrafficPolicyInUse``), the record deleted after a ticked box, then the
versions. A user whose IAM allows reading only sees the page and AWS's refusal of a
creation; one without policies sees ``AccessDenied``. Each checked through Route 53's own
answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from andromede.console.wire_route53_traffic import TrafficCalls
from support.console import (
    WIRE_ORIGIN,
    ConsoleHarness,
    console_harness,
    csrf_of,
    log_in,
    sign_in_root,
)
from support.traffic_policies import ONE_VALUE, WEIGHTED
from unit.console.test_console_dynamodb_edits import alert, form_of

_BAD = {**ONE_VALUE, "Endpoints": {"only": {"Type": "value", "Value": "not-an-address"}}}


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path) as harness:
        yield harness


def _after(response: httpx.Response, anchor: str) -> str:
    """The id the redirect's fragment names (``#policy-<id>``, ``#instance-<id>``)."""
    assert response.status_code == 303, alert(response)
    location = response.headers["location"]
    assert location.startswith(f"/console/traffic-policies#{anchor}-"), location
    return location.rsplit(f"#{anchor}-", 1)[1]


def _textarea(form: str) -> str:
    return form.split('name="document"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]


async def test_policies_versions_and_records_made_changed_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        calls = TrafficCalls(wires.route53)
        page = await client.get("/traffic-policies")
        assert page.status_code == 200 and 'id="no-policies"' in page.text
        assert 'id="menu-traffic-policies"' in page.text and 'id="no-policy-records"' in page.text
        token = csrf_of(page)
        create = {"csrf": token, "name": "flow", "comment": "first",
                  "document": json.dumps(_BAD)}  # fmt: skip
        forged = await client.post("/traffic-policies", data={**create, "csrf": "forged"})
        assert forged.status_code == 403
        refused = await client.post("/traffic-policies", data=create)
        assert refused.status_code == 400 and "(InvalidTrafficPolicyDocument)" in alert(refused)
        assert "not-an-address" in alert(refused)
        kept = form_of(refused, "create-policy-form")
        assert json.loads(_textarea(kept)) == _BAD and 'value="flow"' in kept
        made = await client.post(
            "/traffic-policies", data={**create, "document": json.dumps(ONE_VALUE)}
        )
        policy_id = _after(made, "policy")
        (first,) = await calls.versions(WIRE_ORIGIN, principal, policy_id)
        assert (first.version, first.comment, json.loads(first.document)) == (1, "first", ONE_VALUE)

        version = {"csrf": token, "policy_id": policy_id, "comment": "split"}
        refused = await client.post(
            "/traffic-policies/version", data={**version, "document": "{not json"}
        )
        assert refused.status_code == 400 and "(InvalidTrafficPolicyDocument)" in alert(refused)
        assert _textarea(form_of(refused, f"version-form-{policy_id}")) == "{not json"
        added = await client.post(
            "/traffic-policies/version", data={**version, "document": json.dumps(WEIGHTED)}
        )
        assert _after(added, "policy") == policy_id
        versions = await calls.versions(WIRE_ORIGIN, principal, policy_id)
        assert [(v.version, v.comment) for v in versions] == [(1, "first"), (2, "split")]
        comment = {"csrf": token, "policy_id": policy_id, "version": "1", "comment": "x" * 1025}
        refused = await client.post("/traffic-policies/comment", data=comment)
        assert refused.status_code == 400 and "(InvalidInput)" in alert(refused)
        assert 'value="' + "x" * 1025 + '"' in form_of(refused, f"comment-form-{policy_id}-1")
        commented = await client.post(
            "/traffic-policies/comment", data={**comment, "comment": "the only answer"}
        )
        assert _after(commented, "policy") == policy_id
        versions = await calls.versions(WIRE_ORIGIN, principal, policy_id)
        assert [(v.version, v.comment) for v in versions] == [(1, "the only answer"), (2, "split")]
        page = await client.get("/traffic-policies")
        assert f'id="version-{policy_id}-1"' in page.text
        assert f'id="version-{policy_id}-2"' in page.text
        assert '<span class="version-count">2</span>' in page.text
        assert '"RuleType": "weighted"' in unescape(page.text)  # the document, indented

        no_zone = {"csrf": token, "zone": "", "name": "www", "ttl": "60",
                   "policy": f"{policy_id}/1"}  # fmt: skip
        refused = await client.post("/traffic-policy-instances", data=no_zone)
        assert refused.status_code == 400 and alert(refused) == "Choose a hosted zone."
        zone_id = await wires.route53.create_zone(
            WIRE_ORIGIN, principal, name="flow.example.", comment="", vpc=None
        )
        page = await client.get("/traffic-policies")
        assert f'<option value="{zone_id}">flow.example. ({zone_id})</option>' in page.text
        record = {"csrf": token, "zone": zone_id, "name": "www", "ttl": "soon",
                  "policy": f"{policy_id}/1"}  # fmt: skip
        refused = await client.post("/traffic-policy-instances", data=record)
        assert refused.status_code == 400 and "(InvalidInput)" in alert(refused)
        kept = form_of(refused, "create-record-form")
        assert 'value="soon"' in kept and f'value="{policy_id}/1" selected' in kept
        assert 'value="www"' in kept  # as typed, not the full name sent
        unchosen = await client.post("/traffic-policy-instances", data={**record, "policy": ""})
        assert unchosen.status_code == 400 and alert(unchosen) == "Choose a policy version."
        made = await client.post("/traffic-policy-instances", data={**record, "ttl": "60"})
        instance_id = _after(made, "instance")
        listed = (await calls.instances(WIRE_ORIGIN, principal, marker=None, limit=10)).instances
        assert [(i.instance_id, i.name, i.ttl, i.policy_version, i.state) for i in listed] == [
            (instance_id, "www.flow.example.", 60, 1, "Applied")
        ]
        page = await client.get("/traffic-policies")
        row = page.text.split(f'id="instance-{instance_id}"', 1)[1].split("</tr>", 1)[0]
        assert f'<a href="#policy-{policy_id}">flow</a> v<span class="version">1</span>' in row

        update = {"csrf": token, "instance_id": instance_id, "ttl": "120",
                  "policy": f"{policy_id}/2"}  # fmt: skip
        updated = await client.post("/traffic-policy-instances/update", data=update)
        assert _after(updated, "instance") == instance_id
        (moved,) = (await calls.instances(WIRE_ORIGIN, principal, marker=None, limit=10)).instances
        assert (moved.ttl, moved.policy_version) == (120, 2)
        in_use = await client.post(
            "/traffic-policies/delete",
            data={"csrf": token, "policy_id": policy_id, "version": "2", "confirm": "yes"},
        )
        assert in_use.status_code == 400 and "(TrafficPolicyInUse)" in alert(in_use)

        gone = {"csrf": token, "instance_id": instance_id}
        unticked = await client.post("/traffic-policy-instances/delete", data=gone)
        assert unticked.status_code == 400
        assert len((await calls.instances(WIRE_ORIGIN, principal, marker=None, limit=10)).instances)
        deleted = await client.post(
            "/traffic-policy-instances/delete", data={**gone, "confirm": "yes"}
        )
        assert deleted.status_code == 303
        assert (
            await calls.instances(WIRE_ORIGIN, principal, marker=None, limit=10)
        ).instances == []
        for number in ("1", "2"):
            deleted = await client.post(
                "/traffic-policies/delete",
                data={"csrf": token, "policy_id": policy_id, "version": number, "confirm": "yes"},
            )
            assert deleted.status_code == 303, alert(deleted)
        page = await client.get("/traffic-policies")
        assert 'id="no-policies"' in page.text


async def test_no_route53_french_and_the_callers_own_permissions(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await console.user_with_password(tenant, "reader")
        await console.user_with_password(tenant, "nobody")
        reading = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                   "Action": ["route53:List*", "route53:Get*"], "Resource": "*"}]}  # fmt: skip
        await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(reading))
        async with console.without(client, "route53"):
            page = await client.get("/traffic-policies")
            assert page.status_code == 404 and "serves no Amazon Route 53" in alert(page)
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        french = await client.get("/traffic-policies")
        assert "<h1>Politiques de trafic Route 53</h1>" in french.text
        assert "Cr\u00e9er un enregistrement de politique" in french.text
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/traffic-policies")
        assert page.status_code == 200 and 'id="no-policies"' in page.text
        create = {"csrf": csrf_of(page), "name": "flow", "document": json.dumps(ONE_VALUE)}
        refused = await client.post("/traffic-policies", data=create)
        assert refused.status_code == 403 and "(AccessDenied)" in alert(refused)
        assert json.loads(_textarea(form_of(refused, "create-policy-form"))) == ONE_VALUE
    async with console.client() as client:
        assert (await log_in(client, "admin", "nobody")).status_code == 303
        page = await client.get("/traffic-policies")
        assert page.status_code == 403 and "(AccessDenied)" in alert(page)
