"""The console's ALB trust stores (decision 0263): stores listed, one created from a CA bundle
at a bucket and key of the account's (ELBv2 reading it as the user: a missing object and a
bundle that is no CA's refused in its words, the form as typed), deleted after a ticked box
(refused while a listener uses it); an HTTPS listener's mutual authentication shown and set
to verify with a store, passthrough and off — each checked against what ELBv2 answers apart
from the console, every form needing the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from support.client_pki import ClientCa
from support.console import ConsoleHarness, csrf_of, sign_in_root
from unit.console.test_console_application_load_balancers import _alb
from unit.console.test_console_dynamodb_edits import alert
from unit.console.test_console_load_balancers import _form, _row
from unit.console.test_console_server_certificates import _pair

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}


async def _principal(console: ConsoleHarness, client: httpx.AsyncClient) -> Any:
    return await console.identity.resolve_console_session(client.cookies["andromede_console"])


def _wires(console: ConsoleHarness) -> Any:
    running = console.application._running
    assert running is not None
    return running.console.console


async def _object(
    console: ConsoleHarness, client: httpx.AsyncClient, bucket: str, key: str, body: bytes
) -> None:
    """``body`` put at ``bucket``/``key`` as the client's user, apart from the pages."""
    s3 = _wires(console).s3
    principal = await _principal(console, client)

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    await s3.put_object(
        _SCOPE, principal, bucket, key, size=len(body), content_type="application/x-pem-file",
        chunks=chunks(),
    )  # fmt: skip


async def _described(console: ConsoleHarness, client: httpx.AsyncClient, action: str,
                     params: dict[str, str]) -> Any:  # fmt: skip
    """An ELBv2 call's answer as the client's user, apart from the pages."""
    return await _wires(console).elb.call(_SCOPE, await _principal(console, client), action, params)


async def _bucket(console: ConsoleHarness, client: httpx.AsyncClient) -> None:
    s3 = _wires(console).s3
    await s3.create_bucket(_SCOPE, await _principal(console, client), "pki", "eu-fr-1")
    await _object(console, client, "pki", "ca.pem", ClientCa().pem.encode())
    await _object(console, client, "pki", "leaf.pem", _pair(days=30)[0].encode())


async def test_a_trust_store_created_from_a_bucket_listed_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        await _bucket(console, client)
        page = await client.get("/trust-stores")
        assert 'id="no-trust-stores"' in page.text
        form = _form(page, "create-trust-store-form")
        assert '<option value="pki">pki</option>' in form
        token = csrf_of(page)
        missing = await client.post(
            "/trust-stores", data={"csrf": token, "name": "clients", "bucket": "pki",
                                   "key": "nothing.pem"},
        )  # fmt: skip
        assert missing.status_code == 400
        assert "(CaCertificatesBundleNotFound)" in alert(missing)
        assert 'value="nothing.pem"' in _form(missing, "create-trust-store-form")
        assert 'value="clients"' in _form(missing, "create-trust-store-form")
        leaf = await client.post(
            "/trust-stores",
            data={"csrf": token, "name": "clients", "bucket": "pki", "key": "leaf.pem"},
        )
        assert leaf.status_code == 400
        assert "(InvalidCaCertificatesBundle)" in alert(leaf)
        made = await client.post(
            "/trust-stores",
            data={"csrf": token, "name": "clients", "bucket": "pki", "key": "ca.pem"},
        )
        assert made.status_code == 303, alert(made)
        root = await _described(console, client, "DescribeTrustStores", {})
        [arn] = [e.text for e in root.iter("TrustStoreArn")]
        row = _row(await client.get("/trust-stores"), "trust-store-clients")
        assert '<td class="status">ACTIVE</td>' in row
        assert '<td class="ca-certificates">1</td>' in row
        assert arn in row
        unticked = await client.post(
            "/trust-stores/delete", data={"csrf": token, "trust_store_arn": arn}
        )
        assert unticked.status_code == 400
        kept = await _described(console, client, "DescribeTrustStores", {})
        assert [e.text for e in kept.iter("TrustStoreArn")] == [arn]
        forged = await client.post(
            "/trust-stores/delete",
            data={"csrf": "forged", "trust_store_arn": arn, "confirm": "yes"},
        )
        assert forged.status_code == 403
        deleted = await client.post(
            "/trust-stores/delete", data={"csrf": token, "trust_store_arn": arn, "confirm": "yes"}
        )
        assert deleted.status_code == 303, alert(deleted)
        root = await _described(console, client, "DescribeTrustStores", {})
        assert list(root.iter("TrustStoreArn")) == []


async def test_an_https_listeners_mutual_authentication_shown_and_changed(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        ids = await _alb(client, console, tenant)
        token = ids["csrf"]
        await _bucket(console, client)
        made = await client.post(
            "/trust-stores",
            data={"csrf": token, "name": "clients", "bucket": "pki", "key": "ca.pem"},
        )
        assert made.status_code == 303, alert(made)
        root = await _described(console, client, "DescribeTrustStores", {})
        [store_arn] = [e.text for e in root.iter("TrustStoreArn")]
        body, key = _pair(days=200)
        uploaded = await client.post(
            "/iam/server-certificates",
            data={"csrf": token, "name": "www", "body": body, "private_key": key},
        )
        assert uploaded.status_code == 303, uploaded.text
        form = _form(await client.get("/load-balancers/front"), "create-listener-form")
        [cert_arn] = re.findall(r'<option value="(arn:[^"]+:server-certificate/[^"]+)">', form)
        [group_arn] = re.findall(r'<option value="(arn:[^"]+:targetgroup/[^"]+)">', form)
        https = {"csrf": token, "protocol": "HTTPS", "port": "443", "action_type": "forward",
                 "target_group_arn": group_arn, "certificate_arn": cert_arn}  # fmt: skip
        listener = await client.post("/load-balancers/front/listeners", data=https)
        assert listener.status_code == 303, listener.text
        page = await client.get("/load-balancers/front")
        row = _row(page, "listener-443")
        assert '<dd class="mutual-mode">off' in row
        assert f'<option value="{store_arn}">clients</option>' in _form(page, "mutual-443")
        listener_arn = re.search(r'name="listener_arn" value="([^"]+)"', _form(page, "mutual-443"))
        assert listener_arn is not None
        change = {"csrf": token, "listener_arn": listener_arn.group(1)}
        bare = await client.post(
            "/load-balancers/front/mutual-authentication",
            data={**change, "mode": "verify", "trust_store_arn": ""},
        )
        assert bare.status_code == 400
        assert "(InvalidConfigurationRequest)" in alert(bare)
        assert '<option value="verify" selected>' in _form(bare, "mutual-443")
        verify = await client.post(
            "/load-balancers/front/mutual-authentication",
            data={**change, "mode": "verify", "trust_store_arn": store_arn},
        )
        assert verify.status_code == 303, alert(verify)
        root = await _described(
            console, client, "DescribeListeners", {"ListenerArns.member.1": listener_arn.group(1)}
        )
        assert [e.text for e in root.iter("Mode")] == ["verify"]
        row = _row(await client.get("/load-balancers/front"), "listener-443")
        assert '<dd class="mutual-mode">verify · <span class="mutual-trust-store">clients' in row
        in_use = await client.post(
            "/trust-stores/delete",
            data={"csrf": token, "trust_store_arn": store_arn, "confirm": "yes"},
        )
        assert in_use.status_code == 400
        assert "(TrustStoreInUse)" in alert(in_use)
        passthrough = await client.post(
            "/load-balancers/front/mutual-authentication",
            data={**change, "mode": "passthrough", "trust_store_arn": store_arn},
        )
        assert passthrough.status_code == 303, alert(passthrough)
        root = await _described(
            console, client, "DescribeListeners", {"ListenerArns.member.1": listener_arn.group(1)}
        )
        assert [e.text for e in root.iter("Mode")] == ["passthrough"]
        assert list(root.iter("TrustStoreArn")) == []
        off = await client.post(
            "/load-balancers/front/mutual-authentication", data={**change, "mode": "off"}
        )
        assert off.status_code == 303, alert(off)
        row = _row(await client.get("/load-balancers/front"), "listener-443")
        assert '<dd class="mutual-mode">off' in row
