"""Resource policies in the console (decision 0252): a Kinesis stream's (GetResourcePolicy
shown, PutResourcePolicy from JSON, DeleteResourcePolicy after a ticked box) and an Advanced
parameter's (GetResourcePolicies shown, PutResourcePolicy with the PolicyHash the page read so
a change made meanwhile is refused, DeleteResourcePolicy), and the parameters another account
shares listed under "Shared with me" (DescribeParameters ``Shared``) and read by their ARN.
The services' refusals in their words with the form as typed; each the service's own call as
the signed-in user, checked against what it answers apart from the console."""

from __future__ import annotations

import json
from html import unescape

import httpx

from support.console import ConsoleHarness, csrf, sign_in_root
from unit.console.test_console_kinesis import kinesis, summary
from unit.console.test_console_parameters import ssm


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def between(page: httpx.Response, start: str, end: str) -> str:
    return unescape(page.text.split(start, 1)[1].split(end, 1)[0])


def kinesis_policy(partner: str, arn: str) -> str:
    statement = {
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner}:root"},
        "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator"], "Resource": arn,
    }  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def parameter_policy(partner: str, arn: str, action: str = "ssm:GetParameter") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": partner},
        "Action": [action, "ssm:DescribeParameters"],
        "Resource": arn}]})  # fmt: skip


async def test_a_kinesis_streams_policy_put_shown_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as partner_client:
        partner = await sign_in_root(console, partner_client, "partner")
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/kinesis")
        made = await client.post("/kinesis", data={"csrf": token, "name": "clicks",
                                                    "mode": "ON_DEMAND"})  # fmt: skip
        assert made.status_code == 303, alert(made)
        arn = (await summary(console, client, "clicks"))["StreamARN"]
        page = await client.get("/kinesis/clicks")
        assert '<p id="stream-policy">None</p>' in page.text
        assert "/delete-policy" not in page.text

        bad = await client.post("/kinesis/clicks/put-policy",
                                data={"csrf": token, "policy": '{"Statement": ['})  # fmt: skip
        assert bad.status_code == 400 and "InvalidArgumentException" in alert(bad)
        assert '{"Statement": [' in between(bad, 'id="policy-form"', "</form>")
        unshareable = kinesis_policy(partner, arn).replace(
            "kinesis:GetRecords", "kinesis:DeleteStream"
        )
        refused = await client.post("/kinesis/clicks/put-policy",
                                    data={"csrf": token, "policy": unshareable})  # fmt: skip
        assert refused.status_code == 400 and "InvalidArgumentException" in alert(refused)

        policy = kinesis_policy(partner, arn)
        put = await client.post(
            "/kinesis/clicks/put-policy", data={"csrf": token, "policy": policy}
        )
        assert put.status_code == 303, alert(put)
        assert put.headers["location"] == "/console/kinesis/clicks?saved=policy#resource-policy"
        held = await kinesis(console, client, "GetResourcePolicy", {"ResourceARN": arn})
        assert json.loads(held["Policy"]) == json.loads(kinesis_policy(partner, arn))
        page = await client.get("/kinesis/clicks")
        shown = json.loads(between(page, '<pre id="stream-policy">', "</pre>"))
        assert shown["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{partner}:root"}

        unticked = await client.post("/kinesis/clicks/delete-policy", data={"csrf": token})
        assert unticked.status_code == 400
        assert (await kinesis(console, client, "GetResourcePolicy", {"ResourceARN": arn}))["Policy"]
        deleted = await client.post("/kinesis/clicks/delete-policy",
                                    data={"csrf": token, "confirm": "yes"})  # fmt: skip
        assert deleted.status_code == 303, alert(deleted)
        held = await kinesis(console, client, "GetResourcePolicy", {"ResourceARN": arn})
        assert held["Policy"] in ("", "{}")
        french = await client.get("/kinesis/clicks", headers={"accept-language": "fr"})
        assert "Stratégie de ressource" in french.text


async def test_parameter_policies_put_guarded_deleted_and_shared(console: ConsoleHarness) -> None:
    async with console.client() as partner_client:
        partner = await sign_in_root(console, partner_client, "partner")
        async with console.client() as client:
            owner = await sign_in_root(console, client)
            token = await csrf(client, "/parameters")
            for name, tier in (("/app/db-host", "Advanced"), ("/app/plain", "Standard")):
                made = await client.post("/parameters", data={
                    "csrf": token, "name": name, "type": "String", "value": "db.internal",
                    "tier": tier})  # fmt: skip
                assert made.status_code == 303, alert(made)
            plain = await client.get("/parameters//app/plain")
            assert 'id="resource-policies"' not in plain.text  # only an Advanced one is shared
            page = await client.get("/parameters//app/db-host")
            assert '<p id="no-policies">None</p>' in page.text
            arn = f"arn:aws:ssm:eu-fr-1:{owner}:parameter/app/db-host"

            writing = parameter_policy(partner, arn, "ssm:PutParameter")
            wrong = await client.post(
                "/parameters//app/db-host/put-policy", data={"csrf": token, "policy": writing}
            )
            assert wrong.status_code == 400 and "ssm:PutParameter" in between(
                wrong, 'id="new-policy-form"', "</form>")  # fmt: skip
            assert alert(wrong)
            reading = parameter_policy(partner, arn)
            put = await client.post(
                "/parameters//app/db-host/put-policy", data={"csrf": token, "policy": reading}
            )
            assert put.status_code == 303, alert(put)
            assert put.headers["location"].endswith("?saved=policy#resource-policies")
            (held,) = (await ssm(console, client, "GetResourcePolicies", {"ResourceArn": arn}))[
                "Policies"]  # fmt: skip
            page = await client.get("/parameters//app/db-host")
            card = between(page, f'id="policy-{held["PolicyId"]}"', "</div>")
            assert f'name="policy_hash" value="{held["PolicyHash"]}"' in card
            text = card.split("<textarea", 1)[1].split(">", 1)[1].split("</textarea")[0]
            assert json.loads(text) == json.loads(reading)

            # The other account lists it under "Shared with me" and reads it by its ARN.
            shared = await partner_client.get("/parameters?shared=yes")
            assert shared.status_code == 200 and "/app/db-host" in shared.text
            assert f'href="/console/parameters/{arn.replace(":", "%3A")}"' in shared.text or (
                f'<code class="arn">{arn}</code>' in shared.text
            )
            opened = await partner_client.get(f"/parameters/{arn}")
            assert opened.status_code == 200, alert(opened)
            assert "db.internal" in opened.text
            assert 'id="resource-policies"' not in opened.text  # the owner's to change
            own = await partner_client.get("/parameters")
            assert "/app/db-host" not in own.text and 'id="shared-parameters"' in own.text

            # An update at the hash read; a second one with that stale hash is refused by SSM.
            update = {
                "csrf": token, "policy_id": held["PolicyId"], "policy_hash": held["PolicyHash"],
                "policy": parameter_policy(partner, arn, "ssm:GetParameters"),
            }  # fmt: skip
            updated = await client.post("/parameters//app/db-host/put-policy", data=update)
            assert updated.status_code == 303, alert(updated)
            stale = await client.post("/parameters//app/db-host/put-policy", data=update)
            assert stale.status_code == 400
            assert "ResourcePolicyConflictException" in alert(stale)
            (now,) = (await ssm(console, client, "GetResourcePolicies", {"ResourceArn": arn}))[
                "Policies"]  # fmt: skip
            assert "ssm:GetParameters" in now["Policy"] and now["PolicyHash"] != held["PolicyHash"]

            gone = {"csrf": token, "policy_id": now["PolicyId"], "policy_hash": now["PolicyHash"]}
            unticked = await client.post("/parameters//app/db-host/delete-policy", data=gone)
            assert unticked.status_code == 400
            deleted = await client.post("/parameters//app/db-host/delete-policy",
                                        data=gone | {"confirm": "yes"})  # fmt: skip
            assert deleted.status_code == 303, alert(deleted)
            assert not (await ssm(console, client, "GetResourcePolicies", {"ResourceArn": arn}))[
                "Policies"]  # fmt: skip
            shared = await partner_client.get("/parameters?shared=yes")
            assert 'id="no-parameters"' in shared.text
            french = await client.get("/parameters//app/db-host", headers={"accept-language": "fr"})
            assert "Stratégies de ressource" in french.text
