"""AWS Certificate Manager in the console (decisions 0230 and 0239): certificates imported from
files or pasted PEM (the key never shown back, never in a log), listed (domain, status, type,
key algorithm, expiry, in use, every key type), a certificate's page (DescribeCertificate's
fields, its PEM and chain, tags added and removed, a re-import under the same ARN), deleted
after a ticked box, ACM's ``ResourceInUseException`` shown while a load balancer's TLS
listener presents it (the listener form offering ACM's certificates beside IAM's); with the
operator's private CA, a private certificate requested and renewed. ACM's refusals in its
words with the form as typed; a user ACM refuses sees its refusal. Each the service's own
call as the signed-in user, checked against what it answers apart from the console."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.acmapp import ca_files, issue, key_of, private_ca
from support.console import (
    ConsoleHarness,
    console_harness,
    csrf_of,
    log_in,
    logged_events,
    running_compute,
    sign_in_root,
)

_LIST = "/certificates"


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_of(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


def row_of(page: httpx.Response, row_id: str) -> str:
    return page.text.split(f'id="{row_id}"', 1)[1].split("</tr>", 1)[0]


async def acm(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    """An ACM call as the client's signed-in user, apart from the pages."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.acm
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await wire._json(scope, principal, action, params)


def certificate_id(response: httpx.Response) -> str:
    location = response.headers["location"]
    assert location.startswith("/console/certificates/"), location
    return location.rsplit("/", 1)[-1]


async def test_a_certificate_imported_listed_changed_and_deleted(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = issue("www.example.test", "api.example.test", kind="ec256")
    other_key = key_of("rsa2048")
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        empty = await client.get(_LIST)
        assert empty.status_code == 200 and "No certificates yet." in empty.text
        assert 'id="menu-certificates"' in empty.text and 'id="no-private-ca"' in empty.text
        assert 'id="request-certificate-form"' not in empty.text
        token = csrf_of(empty)
        files = {
            "body_file": ("site.crt", issued.body.encode(), "application/x-pem-file"),
            "private_key_file": ("site.key", issued.key.encode(), "application/x-pem-file"),
            "chain_file": ("", b"", "application/octet-stream"),  # none chosen, as a browser
        }
        forged = await client.post(_LIST, data={"csrf": "x"}, files=files)
        assert forged.status_code == 403
        keyless = await client.post(_LIST, data={"csrf": token, "body": issued.body})
        assert keyless.status_code == 400 and "its private key" in alert(keyless)
        # ACM's refusal of a key that is not the certificate's: the key never shown back.
        mismatched = await client.post(
            _LIST, data={"csrf": token, "body": issued.body, "private_key": other_key,
                         "chain": issued.chain, "tags": "team=web"},
        )  # fmt: skip
        assert mismatched.status_code == 400 and "Exception)" in alert(mismatched)
        typed = unescape(form_of(mismatched, "import-certificate-form"))
        assert issued.body.strip() in typed and "team=web" in typed
        assert "PRIVATE KEY" not in mismatched.text
        assert (await acm(console, client, "ListCertificates", {}))["CertificateSummaryList"] == []

        # From files, the chain pasted, tagged.
        made = await client.post(
            _LIST, data={"csrf": token, "chain": issued.chain, "tags": "team=web"}, files=files
        )
        assert made.status_code == 303, alert(made)
        cert_id = certificate_id(made)
        arn = f"arn:aws:acm:eu-fr-1:{tenant}:certificate/{cert_id}"
        held = (await acm(console, client, "DescribeCertificate", {"CertificateArn": arn}))[
            "Certificate"
        ]
        assert held["DomainName"] == "www.example.test" and held["Type"] == "IMPORTED"

        listed = await client.get(_LIST)
        row = row_of(listed, f"certificate-{cert_id}")
        assert f'<a href="/console/certificates/{cert_id}">www.example.test</a>' in row
        assert '<td class="status">ISSUED</td>' in row and '<td class="type">IMPORTED</td>' in row
        assert '<td class="key-algorithm">EC_prime256v1</td>' in row  # every key type listed
        assert '<td class="in-use">No</td>' in row and '<td class="not-after">20' in row
        assert "PRIVATE KEY" not in listed.text

        page = await client.get(f"{_LIST}/{cert_id}")
        assert page.status_code == 200
        assert f'<code id="certificate-arn">{arn}</code>' in page.text
        assert "<code>api.example.test</code>" in page.text
        assert issued.body.strip() in unescape(page.text.split('id="certificate-pem">', 1)[1])
        assert issued.chain.strip() in unescape(page.text.split('id="certificate-chain">', 1)[1])
        assert 'id="certificate-not-in-use"' in page.text
        assert '<td class="key">team</td><td class="value">web</td>' in page.text
        assert "PRIVATE KEY" not in page.text

        # Tags added and removed.
        untyped = await client.post(f"{_LIST}/{cert_id}/tags", data={"csrf": token, "tags": ""})
        assert untyped.status_code == 400 and "at least one tag" in alert(untyped)
        tagged = await client.post(f"{_LIST}/{cert_id}/tags",
                                   data={"csrf": token, "tags": "env=prod"})  # fmt: skip
        assert tagged.status_code == 303
        untagged = await client.post(f"{_LIST}/{cert_id}/untag",
                                     data={"csrf": token, "key": "team"})  # fmt: skip
        assert untagged.status_code == 303
        tags = await acm(console, client, "ListTagsForCertificate", {"CertificateArn": arn})
        assert tags["Tags"] == [{"Key": "env", "Value": "prod"}]

        # Re-imported under the same ARN: a new serial.
        renewed = issue("www.example.test", kind="ec256", days=200)
        again = await client.post(
            f"{_LIST}/{cert_id}/reimport",
            data={"csrf": token, "body": renewed.body, "private_key": renewed.key,
                  "chain": renewed.chain},
        )  # fmt: skip
        assert again.status_code == 303 and certificate_id(again) == cert_id
        now = (await acm(console, client, "DescribeCertificate", {"CertificateArn": arn}))[
            "Certificate"
        ]
        assert now["Serial"] != held["Serial"] and now["NotAfter"] > held["NotAfter"]
        bad = await client.post(
            f"{_LIST}/{cert_id}/reimport",
            data={"csrf": token, "body": renewed.body, "private_key": other_key},
        )
        assert bad.status_code == 400 and "Exception)" in alert(bad)
        assert "PRIVATE KEY" not in bad.text and 'id="reimport-certificate-form"' in bad.text

        # Deleted once the box is ticked.
        unticked = await client.post(f"{_LIST}/{cert_id}/delete", data={"csrf": token})
        assert unticked.status_code == 400
        gone = await client.post(f"{_LIST}/{cert_id}/delete",
                                 data={"csrf": token, "confirm": "yes"})  # fmt: skip
        assert gone.status_code == 303 and gone.headers["location"] == "/console/certificates"
        missing = await client.get(f"{_LIST}/{cert_id}")
        assert missing.status_code == 400 and "(ResourceNotFoundException)" in alert(missing)

        actions = {e.action for e in await logged_events(console, tenant)}
        assert {"acm:ImportCertificate", "acm:DeleteCertificate"} <= actions
    assert "PRIVATE KEY" not in caplog.text and issued.key not in caplog.text


async def test_a_listener_presents_an_acm_certificate(console: ConsoleHarness) -> None:
    """The TLS listener form offers ACM's issued certificates beside IAM's; a listener made
    with one is ACM's ``InUseBy`` and its deletion ACM's ``ResourceInUseException``."""
    compute = running_compute(console)
    issued = issue("tls.example.test", kind="ec256")
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        token = csrf_of(await client.get(_LIST))
        made = await client.post(
            _LIST, data={"csrf": token, "body": issued.body, "private_key": issued.key}
        )
        cert_id = certificate_id(made)
        group = await client.post(
            "/target-groups", data={"csrf": token, "name": "web", "port": "443",
                                    "vpc_id": vpc_id, "target_type": "instance"},
        )  # fmt: skip
        assert group.status_code == 303
        lb = await client.post(
            "/load-balancers", data={"csrf": token, "name": "tls", f"subnet_{subnet_id}": "yes"}
        )
        assert lb.status_code == 303
        form = form_of(await client.get("/load-balancers/tls"), "create-listener-form")
        arn = f"arn:aws:acm:eu-fr-1:{tenant}:certificate/{cert_id}"
        assert f'<option value="{arn}">tls.example.test (ACM)</option>' in form
        [group_arn] = re.findall(r'<option value="(arn:[^"]+:targetgroup/[^"]+)">', form)
        listener = await client.post(
            "/load-balancers/tls/listeners",
            data={"csrf": token, "protocol": "TLS", "port": "443", "target_group_arn": group_arn,
                  "certificate_arn": arn},
        )  # fmt: skip
        assert listener.status_code == 303, listener.text
        # Shown by its ACM label; a second ACM certificate offered and added for SNI.
        second = issue("sni.example.test", kind="ec256")
        more = await client.post(
            _LIST, data={"csrf": token, "body": second.body, "private_key": second.key}
        )
        sni_arn = f"arn:aws:acm:eu-fr-1:{tenant}:certificate/{certificate_id(more)}"
        lb_page = await client.get("/load-balancers/tls")
        assert '<dd class="certificate">tls.example.test (ACM)</dd>' in lb_page.text
        adding = lb_page.text.split('class="inline add-certificate-form"', 1)[1].split("</form>")[0]
        assert f'<option value="{sni_arn}">sni.example.test (ACM)</option>' in adding
        assert arn not in adding  # the listener's own certificate is not offered again
        listener_arn = re.findall(r'name="listener_arn" value="([^"]+)"', adding)[0]
        added = await client.post(
            "/load-balancers/tls/listener-certificates",
            data={"csrf": token, "listener_arn": listener_arn, "certificate_arn": sni_arn},
        )
        assert added.status_code == 303, added.text
        lb_page = await client.get("/load-balancers/tls")
        sni = lb_page.text.split('<dd class="sni-certificates">', 1)[1].split("</dd>", 1)[0]
        assert "sni.example.test (ACM)" in sni
        page = await client.get(f"{_LIST}/{cert_id}")
        in_use = page.text.split('id="certificate-in-use-by">', 1)[1].split("</ul>", 1)[0]
        assert ":loadbalancer/net/tls/" in in_use
        assert '<td class="in-use">Yes</td>' in (await client.get(_LIST)).text
        refused = await client.post(f"{_LIST}/{cert_id}/delete",
                                    data={"csrf": token, "confirm": "yes"})  # fmt: skip
        assert refused.status_code == 400 and "(ResourceInUseException)" in alert(refused)


@pytest.fixture
async def with_private_ca(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    pem, key = ca_files()
    (tmp_path / "ca.pem").write_bytes(pem)
    (tmp_path / "ca-key.pem").write_bytes(key)
    async with console_harness(
        tmp_path, acm_private_ca_certificate=tmp_path / "ca.pem",
        acm_private_ca_key=tmp_path / "ca-key.pem",
    ) as harness:  # fmt: skip
        yield harness


async def test_a_private_certificate_requested_and_renewed(
    with_private_ca: ConsoleHarness,
) -> None:
    console = with_private_ca
    async with console.client() as client:
        await sign_in_root(console, client)
        page = await client.get(_LIST)
        authority = private_ca().arn
        assert f'<code id="authority-arn">{authority}</code>' in page.text
        token = csrf_of(page)
        request = {"csrf": token, "domain": "not a name", "alternative_names": "a.internal.test",
                   "key_algorithm": "EC_prime256v1"}  # fmt: skip
        refused = await client.post(f"{_LIST}/request", data=request)
        assert refused.status_code == 400 and "(ValidationException)" in alert(refused)
        typed = form_of(refused, "request-certificate-form")
        assert 'value="not a name"' in typed and "a.internal.test" in typed
        assert '<option value="EC_prime256v1" selected>' in typed
        made = await client.post(f"{_LIST}/request", data=request | {"domain": "internal.test"})
        assert made.status_code == 303, alert(made)
        cert_id = certificate_id(made)
        shown = await client.get(f"{_LIST}/{cert_id}")
        assert '<td id="certificate-type">PRIVATE</td>' in shown.text
        assert "<code>a.internal.test</code>" in shown.text
        assert 'id="renew-certificate-form"' in shown.text
        assert 'id="reimport-certificate-form"' not in shown.text
        arn = shown.text.split('<code id="certificate-arn">', 1)[1].split("<", 1)[0]
        before = await acm(console, client, "DescribeCertificate", {"CertificateArn": arn})
        renewed = await client.post(f"{_LIST}/{cert_id}/renew", data={"csrf": token})
        assert renewed.status_code == 303, alert(renewed)
        after = await acm(console, client, "DescribeCertificate", {"CertificateArn": arn})
        assert after["Certificate"]["Serial"] != before["Certificate"]["Serial"]


async def test_a_user_acm_refuses_sees_its_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    issued = issue("www.example.test", kind="ec256")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get(_LIST)
        assert page.status_code == 400
        assert "(AccessDeniedException)" in alert(page) and "acm:ListCertificates" in alert(page)
        made = await client.post(
            _LIST, data={"csrf": csrf_of(page), "body": issued.body, "private_key": issued.key}
        )
        assert made.status_code == 400 and "acm:ImportCertificate" in alert(made)
        assert "PRIVATE KEY" not in made.text
