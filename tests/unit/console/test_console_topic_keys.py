"""A notification topic's key and data protection policy in the console (decisions 0212 and
0215; decision 0111, session 52): a topic made under SNS's ``alias/aws/sns``, its key shown in
the list and on its page, changed to a key of the account and removed, a key SNS refuses shown
in its words; the topic's message data protection policy shown as SNS keeps it — each SNS's own
call as the signed-in user, checked against what SNS answers apart from the console."""

from __future__ import annotations

import json
from html import unescape

import httpx

from support.console import ConsoleHarness, csrf, sign_in_root

_POLICY = json.dumps(
    {
        "Name": "pii",
        "Version": "2021-06-01",
        "Statement": [
            {
                "DataDirection": "Inbound",
                "Principal": ["*"],
                "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                "Operation": {"Deny": {}},
            }
        ],
    }
)


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


async def _sns(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, str]
) -> str:
    """An SNS call as the client's signed-in user; its answer's text."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.sns
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    root = await wire.call(scope, principal, action, params)
    return "".join(root.itertext())


async def test_a_topics_key_chosen_changed_and_its_policy_shown(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        arn = f"arn:aws:sns:{console.application.settings.region}:{tenant}:orders"
        token = await csrf(client, "/topics")
        form = await client.get("/topics")
        assert '<option value="alias/aws/sns">KMS key: alias/aws/sns</option>' in form.text
        made = await client.post(
            "/topics", data={"csrf": token, "name": "orders", "kms_key": "alias/aws/sns"}
        )
        assert made.status_code == 303, _alert(made)
        assert "alias/aws/sns" in await _sns(
            console, client, "GetTopicAttributes", {"TopicArn": arn}
        )
        listed = await client.get("/topics")
        assert '<td class="kms-key"><code>alias/aws/sns</code></td>' in listed.text
        page = await client.get("/topics/orders")
        assert 'id="topic-kms-key">KMS key: <code>alias/aws/sns</code>' in page.text
        assert 'id="topic-protection-none"' in page.text

        # A key of the account's, offered by its id, then none.
        assert (await client.post("/keys", data={"csrf": token})).status_code == 303
        page = await client.get("/topics/orders")
        encryption = page.text.split('id="topic-encryption-form"', 1)[1].split("</form>", 1)[0]
        key_id = encryption.split('<option value="', 3)[3].split('"', 1)[0]
        assert key_id and key_id != "alias/aws/sns"
        changed = await client.post(
            "/topics/orders/encryption", data={"csrf": token, "kms_key": key_id}
        )
        assert (
            changed.status_code == 303 and changed.headers["location"] == "/console/topics/orders"
        )
        assert key_id in await _sns(console, client, "GetTopicAttributes", {"TopicArn": arn})
        refused = await client.post(
            "/topics/orders/encryption", data={"csrf": token, "kms_key": "two words"}
        )
        assert refused.status_code == 400 and "(InvalidParameter)" in _alert(refused)
        assert '<option value="two words" selected>' in refused.text  # as typed
        forged = await client.post("/topics/orders/encryption", data={"kms_key": ""})
        assert forged.status_code == 403
        removed = await client.post(
            "/topics/orders/encryption", data={"csrf": token, "kms_key": ""}
        )
        assert removed.status_code == 303
        page = await client.get("/topics/orders")
        assert "None (the platform&#39;s keys only)</p>" in page.text

        # The message data protection policy SNS keeps, shown (put apart from the console).
        await _sns(
            console, client, "PutDataProtectionPolicy",
            {"ResourceArn": arn, "DataProtectionPolicy": _POLICY},
        )  # fmt: skip
        page = await client.get("/topics/orders")
        shown = unescape(page.text.split('id="topic-protection">', 1)[1].split("</pre>", 1)[0])
        assert json.loads(shown) == json.loads(_POLICY)
