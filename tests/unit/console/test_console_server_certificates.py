"""IAM server certificates in the console (decision 0111, session 50 second part; decision
0205 served): uploaded from files or pasted text, IAM's refusals in its words with the form kept
and the private key never shown back, listed with their expiry marked, renamed and moved,
tagged, deleted after a ticked box — each IAM's own call as the signed-in user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from andromede.console.wire_server_certificates import CertificateRow
from support.console import ConsoleHarness, csrf, csrf_of, log_in, sign_in_root

_LIST = "/iam/server-certificates"


def _pair(days: int) -> tuple[str, str]:
    """A self-signed certificate valid for ``days`` more days, and its PEM key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.org")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), pem.decode()


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def _row(page: httpx.Response, name: str) -> str:
    return page.text.split(f'id="certificate-{name}"', 1)[1].split("</tr>", 1)[0]


def test_expired_and_expiring_soon_are_marked() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)

    def row(expiration: datetime | None) -> CertificateRow:
        return CertificateRow("c", "/", "ASCA", "arn", "", expiration)

    assert row(now - timedelta(seconds=1)).expiry(now, 30) == "expired"
    assert row(now + timedelta(days=29, hours=23)).expiry(now, 30) == "soon"
    assert row(now + timedelta(days=30)).expiry(now, 30) == ""
    assert row(None).expiry(now, 30) == ""


async def test_certificates_uploaded_listed_changed_and_deleted(console: ConsoleHarness) -> None:
    soon_body, soon_key = _pair(days=10)
    body, key = _pair(days=200)
    _other_body, other_key = _pair(days=200)
    async with console.client(**{"accept-language": "fr"}) as client:
        tenant = await sign_in_root(console, client)
        empty = await client.get(_LIST)
        assert empty.status_code == 200 and "Aucun certificat de serveur" in empty.text
        token = csrf_of(empty)
        files = {
            "body_file": ("site.crt", soon_body.encode(), "application/x-pem-file"),
            "private_key_file": ("site.key", soon_key.encode(), "application/x-pem-file"),
            "chain_file": ("", b"", "application/octet-stream"),  # none chosen, as a browser
        }
        forged = await client.post(_LIST, data={"csrf": "x", "name": "site"}, files=files)
        assert forged.status_code == 403
        # Without a key: the page's own refusal, in French.
        keyless = await client.post(_LIST, data={"csrf": token, "name": "site", "body": body})
        assert keyless.status_code == 400 and "clé privée" in _alert(keyless)
        # IAM's refusal of a key that is not the certificate's; the key never shown back.
        mismatched = await client.post(
            _LIST, data={"csrf": token, "name": "site", "path": "/web/", "body": body,
                         "private_key": other_key},
        )  # fmt: skip
        assert mismatched.status_code == 400 and "(KeyPairMismatch)" in _alert(mismatched)
        assert 'value="site"' in mismatched.text and 'value="/web/"' in mismatched.text
        assert body.strip() in unescape(mismatched.text)
        assert "PRIVATE KEY" not in mismatched.text and other_key not in mismatched.text

        # From files (the chain's input left empty), then from pasted text.
        made = await client.post(_LIST, data={"csrf": token, "name": "site"}, files=files)
        assert made.status_code == 303 and made.headers["location"].endswith(f"{_LIST}/site")
        pasted = await client.post(
            _LIST, data={"csrf": token, "name": "api", "path": "/web/", "body": body,
                         "private_key": key},
        )  # fmt: skip
        assert pasted.status_code == 303
        listed = await client.get(_LIST)
        assert "expire dans les 30 jours" in _row(listed, "site")
        assert "expiry-soon" in _row(listed, "site") and "expiry-" not in _row(listed, "api")
        assert "<code>/web/</code>" in _row(listed, "api") and "ASCA" in _row(listed, "api")
        assert "PRIVATE KEY" not in listed.text

        page = await client.get(f"{_LIST}/api")
        assert page.status_code == 200 and body.strip() in unescape(page.text)
        assert f"arn:aws:iam::{tenant}:server-certificate/web/api" in page.text
        assert "PRIVATE KEY" not in page.text

        # Renamed and moved: IAM's refusal of a bad path kept as typed, then done.
        rename = {"csrf": token, "new_name": "api2", "new_path": "no-slash"}
        refused = await client.post(f"{_LIST}/api/update", data=rename)
        assert refused.status_code == 400 and 'value="no-slash"' in refused.text
        renamed = await client.post(f"{_LIST}/api/update", data={**rename, "new_path": "/edge/"})
        assert renamed.status_code == 303 and renamed.headers["location"].endswith("/api2")
        page = await client.get(f"{_LIST}/api2")
        assert f"arn:aws:iam::{tenant}:server-certificate/edge/api2" in page.text
        assert (await client.get(f"{_LIST}/api")).status_code == 404

        # Tags: added, listed, removed.
        tagged = await client.post(f"{_LIST}/api2/tags", data={"csrf": token, "key": "team",
                                                              "value": "web"})  # fmt: skip
        assert tagged.status_code == 303
        page = await client.get(f"{_LIST}/api2")
        assert "<td>team</td><td>web</td>" in page.text
        untagged = await client.post(f"{_LIST}/api2/untag", data={"csrf": token, "key": "team"})
        assert untagged.status_code == 303
        assert "<td>team</td>" not in (await client.get(f"{_LIST}/api2")).text

        # Deleted once the box is ticked.
        unticked = await client.post(f"{_LIST}/api2/delete", data={"csrf": token})
        assert unticked.status_code == 400
        gone = await client.post(f"{_LIST}/api2/delete", data={"csrf": token, "confirm": "yes"})
        assert gone.status_code == 303 and gone.headers["location"].endswith(_LIST)
        listed = await client.get(_LIST)
        assert 'id="certificate-api2"' not in listed.text and 'id="certificate-site"' in listed.text


async def test_a_user_without_policies_reads_iams_refusal(console: ConsoleHarness) -> None:
    body, key = _pair(days=90)
    async with console.client() as client:
        await console.user_with_password(console.admin_tenant_id, "nobody")
        assert (await log_in(client, "admin", "nobody")).status_code == 303
        page = await client.get(_LIST)
        assert page.status_code == 403 and "(AccessDenied)" in page.text
        token = await csrf(client, _LIST)
        refused = await client.post(
            _LIST, data={"csrf": token, "name": "x", "body": body, "private_key": key}
        )
        assert refused.status_code == 403 and "(AccessDenied)" in refused.text
        assert "PRIVATE KEY" not in refused.text
