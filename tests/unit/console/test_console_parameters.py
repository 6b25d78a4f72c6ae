"""Systems Manager Parameter Store in the console (decisions 0229 and 0236): parameters listed
under a path (one level or recursive) and in pages, created (String, StringList, SecureString
under a KMS key of the account; description, tier, tags) and overwritten, a parameter's page
(its versions, labels put and taken off, tags added and removed), deleted after a ticked box.
A SecureString's value read only on the "Show value" POST — GetParameter WithDecryption as
the user, so a user KMS refuses is refused — answered ``no-store``, and found in no GET answer,
no refusal's page, no URL, no log record and no audit event. Refusals in Parameter Store's
words; a form without the session's token refused."""

from __future__ import annotations

import json
import logging
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import (
    ConsoleHarness,
    console_harness,
    csrf,
    csrf_of,
    log_in,
    logged_events,
    sign_in_root,
)

_VALUE = "pa55-w0rd-91c3ab"  # what no log line, GET answer nor URL may hold


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_of(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


def shown_value(page: httpx.Response) -> str:
    return unescape(page.text.split('<pre id="parameter-value">', 1)[1].split("</pre>", 1)[0])


def names_listed(page: httpx.Response) -> list[str]:
    return [
        unescape(row.split("</a>", 1)[0].rsplit(">", 1)[1])
        for row in page.text.split('<tr class="parameter">')[1:]
    ]


async def ssm(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    """A Parameter Store call as the client's signed-in user, apart from the pages."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.parameters
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await wire._json(scope, principal, action, params)


async def test_parameters_created_listed_by_path_labelled_tagged_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        empty = await client.get("/parameters")
        assert empty.status_code == 200 and "No parameters here yet." in empty.text
        token = csrf_of(empty)
        for name, kind, value in (
            ("/app/prod/host", "String", "db.internal"),
            ("/app/prod/zones", "StringList", "a,b,c"),
            ("/app/prod/deep/flag", "String", "on"),
            ("/other", "String", "x"),
        ):
            made = await client.post(
                "/parameters",
                data={"csrf": token, "name": name, "type": kind, "value": value,
                      "tier": "Standard", "description": f"the {name}", "tags": "team=web"},
            )  # fmt: skip
            assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/parameters/%2Fother"
        everything = await client.get("/parameters")
        assert sorted(names_listed(everything)) == [
            "/app/prod/deep/flag", "/app/prod/host", "/app/prod/zones", "/other",
        ]  # fmt: skip
        one_level = await client.get("/parameters", params={"path": "/app/prod"})
        assert sorted(names_listed(one_level)) == ["/app/prod/host", "/app/prod/zones"]
        below = await client.get("/parameters", params={"path": "/app", "recursive": "yes"})
        assert len(names_listed(below)) == 3
        row = everything.text.split('<a href="/console/parameters//app/prod/zones">', 1)[1]
        assert '<td class="type">StringList</td>' in row.split("</tr>", 1)[0]

        page = await client.get("/parameters/%2Fapp%2Fprod%2Fhost")
        assert page.status_code == 200
        assert shown_value(page) == "db.internal"  # a String is no secret
        assert '<td id="parameter-type">String</td>' in page.text
        assert '<td id="parameter-description">the /app/prod/host</td>' in page.text
        assert "<code>team=web</code>" in page.text

        # A new version, from the page; labels on the first, one moved, one taken off.
        put = await client.post("/parameters/%2Fapp%2Fprod%2Fhost/put",
                                data={"csrf": token, "type": "String", "value": "db2.internal",
                                      "description": "moved", "tier": "Standard"})  # fmt: skip
        assert put.status_code == 303, alert(put)
        labelled = await client.post("/parameters/%2Fapp%2Fprod%2Fhost/label",
                                     data={"csrf": token, "version": "1",
                                           "labels": "stable, old"})  # fmt: skip
        assert labelled.status_code == 303, alert(labelled)
        host = "/parameters/%2Fapp%2Fprod%2Fhost"
        second = {"csrf": token, "version": "2", "labels": "stable"}
        moved = await client.post(f"{host}/label", data=second)
        assert moved.status_code == 303
        old = {"csrf": token, "version": "1", "label": "old"}
        unlabelled = await client.post(f"{host}/unlabel", data=old)
        assert unlabelled.status_code == 303
        history = await ssm(console, client, "GetParameterHistory", {"Name": "/app/prod/host"})
        versions = history["Parameters"]
        assert [(v["Version"], v["Value"], v["Labels"]) for v in versions] == [
            (1, "db.internal", []), (2, "db2.internal", ["stable"]),
        ]  # fmt: skip
        assert versions[1]["Description"] == "moved"
        bad_label = await client.post("/parameters/%2Fapp%2Fprod%2Fhost/label",
                                      data={"csrf": token, "version": "1",
                                            "labels": "aws-reserved"})  # fmt: skip
        assert bad_label.status_code == 400 and "refused these labels: aws-reserved" in alert(
            bad_label
        )
        page = await client.get("/parameters/%2Fapp%2Fprod%2Fhost")
        assert shown_value(page) == "db2.internal" and "<code>stable</code>" in page.text
        newest = page.text.split('id="version-2"', 1)[1].split("</tr>", 1)[0]
        assert "<code>db2.internal</code>" in newest and "<code>stable</code>" in newest
        assert page.text.index('id="version-2"') < page.text.index('id="version-1"')

        tagged = await client.post("/parameters/%2Fapp%2Fprod%2Fhost/tag",
                                   data={"csrf": token, "tags": "env=prod"})  # fmt: skip
        untagged = await client.post("/parameters/%2Fapp%2Fprod%2Fhost/untag",
                                     data={"csrf": token, "key": "team"})  # fmt: skip
        assert tagged.status_code == untagged.status_code == 303
        tags = await ssm(console, client, "ListTagsForResource",
                         {"ResourceType": "Parameter", "ResourceId": "/app/prod/host"})  # fmt: skip
        assert tags["TagList"] == [{"Key": "env", "Value": "prod"}]

        french = await client.get("/parameters/%2Fapp%2Fprod%2Fhost",
                                  headers={"accept-language": "fr"})  # fmt: skip
        assert "Libellés" in french.text and "Nouvelle valeur" in french.text

        unticked = await client.post("/parameters/%2Fother/delete", data={"csrf": token})
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        deleted = await client.post("/parameters/%2Fother/delete",
                                    data={"csrf": token, "confirm": "yes"})  # fmt: skip
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/parameters"
        gone = await client.get("/parameters/%2Fother")
        assert gone.status_code == 400 and "(ParameterNotFound)" in alert(gone)
    actions = [e.action for e in await logged_events(console, tenant)]
    for action in ("PutParameter", "LabelParameterVersion", "UnlabelParameterVersion",
                   "AddTagsToResource", "RemoveTagsFromResource", "DeleteParameter"):  # fmt: skip
        assert f"ssm:{action}" in actions


async def test_a_securestring_shown_only_when_asked_and_as_kms_allows(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gets: list[httpx.Response] = []
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client, "/parameters")
        assert (await client.post("/keys", data={"csrf": token})).status_code == 303
        listed = await client.get("/parameters")
        gets.append(listed)
        choices = form_of(listed, "create-parameter-form").split('name="kms_key">', 1)[1]
        assert '<option value="">alias/aws/ssm</option>' in choices
        key_id = choices.split('<option value="', 2)[2].split('"', 1)[0]
        made = await client.post(
            "/parameters",
            data={"csrf": token, "name": "db-password", "type": "SecureString",
                  "value": _VALUE, "kms_key": key_id, "tier": "Advanced"},
        )  # fmt: skip
        assert made.status_code == 303, alert(made)
        described = await ssm(console, client, "DescribeParameters", {})
        (held,) = described["Parameters"]
        assert (held["Type"], held["KeyId"], held["Tier"]) == ("SecureString", key_id, "Advanced")
        page = await client.get("/parameters/db-password")
        gets.append(page)
        assert 'id="show-value"' in page.text and 'id="parameter-value"' not in page.text
        assert f"<code>{key_id}</code>" in page.text
        assert '<td class="value"><em>hidden</em></td>' in page.text
        shown = await client.post("/parameters/db-password/value", data={"csrf": token})
        assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
        assert shown_value(shown) == _VALUE
        no_token = await client.post("/parameters/db-password/value", data={})
        # Overwriting refused (a type Parameter Store refuses): the value is not typed back.
        wrong_type = {"csrf": token, "type": "Secret", "value": _VALUE}
        refused = await client.post("/parameters/db-password/put", data=wrong_type)
        exists = await client.post("/parameters", data={"csrf": token, "name": "db-password",
                                                        "type": "SecureString",
                                                        "value": _VALUE})  # fmt: skip
        overwritten = await client.post(
            "/parameters", data={"csrf": token, "name": "db-password", "type": "SecureString",
                                 "value": f"{_VALUE}-2", "kms_key": key_id,
                                 "overwrite": "yes"},
        )  # fmt: skip
        after = await client.get("/parameters/db-password")
        gets.append(after)
        again = await client.post("/parameters/db-password/value", data={"csrf": token})
    # A user allowed Parameter Store but not the key: KMS refuses the decryption as them.
    await console.user_with_password(tenant, "ops")
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]}  # fmt: skip
    await console.identity.put_user_policy(tenant, "ops", "ssm", json.dumps(policy))
    async with console.client() as ops:
        assert (await log_in(ops, "admin", "ops")).status_code == 303
        ops_page = await ops.get("/parameters/db-password")
        gets.append(ops_page)
        ops_read = await ops.post("/parameters/db-password/value",
                                  data={"csrf": csrf_of(ops_page)})  # fmt: skip
    assert no_token.status_code == 403
    assert refused.status_code == 400 and "(ValidationException)" in alert(refused)
    assert exists.status_code == 400 and "(ParameterAlreadyExists)" in alert(exists)
    assert overwritten.status_code == 303, alert(overwritten)
    assert '<td id="parameter-version">2</td>' in after.text
    assert f'<option value="{key_id}" selected>' in form_of(after, "put-parameter-form")
    assert shown_value(again) == f"{_VALUE}-2"
    assert ops_page.status_code == 200 and 'id="show-value"' in ops_page.text
    assert ops_read.status_code == 400 and "(AccessDeniedException)" in alert(ops_read)
    for answer in (*gets, no_token, refused, exists, ops_read):
        assert _VALUE not in answer.text
        assert _VALUE not in str(answer.url)
    for answer in (made, overwritten):
        assert _VALUE not in answer.headers.get("location", "")
    assert _VALUE not in caplog.text
    assert all(_VALUE not in str(r.args) for r in caplog.records)
    events = await logged_events(console, tenant)
    assert _VALUE not in repr(events)
    assert "ssm:GetParameter" in [e.action for e in events]


async def test_the_list_in_pages_and_a_user_refused(tmp_path: Path) -> None:
    async with console_harness(tmp_path, console_page_size=2) as console:
        async with console.client() as client:
            tenant = await sign_in_root(console, client)
            token = await csrf(client, "/parameters")
            for name in ("a", "b", "c"):
                made = await client.post(
                    "/parameters", data={"csrf": token, "name": name, "value": "v"}
                )
                assert made.status_code == 303, alert(made)
            first = await client.get("/parameters")
            href = first.text.split('rel="next" id="parameters-next"', 1)[0].rsplit('href="', 1)[1]
            second = await client.get(unescape(href.split('"', 1)[0]).removeprefix("/console"))
            forged = await client.post("/parameters", data={"csrf": "forged", "name": "d",
                                                            "value": "v"})  # fmt: skip
        await console.user_with_password(tenant, "nobody")
        async with console.client() as nobody:
            assert (await log_in(nobody, "admin", "nobody")).status_code == 303
            refused = await nobody.get("/parameters")
    assert sorted(names_listed(first) + names_listed(second)) == ["a", "b", "c"]
    assert 'id="parameters-next"' not in second.text
    assert forged.status_code == 403
    assert refused.status_code == 400 and "(AccessDeniedException)" in alert(refused)
    assert "ssm:DescribeParameters" in alert(refused)
