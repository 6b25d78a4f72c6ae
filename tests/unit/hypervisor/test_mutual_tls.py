"""An HTTPS listener's mutual TLS on a host (decision 0256), served by the host's HTTP
listeners (the namespace's thread run in place, on loopback) over the TLS terminators' SNI
context, with certificates made by ``cryptography``: in ``verify`` mode a client with a
certificate of the trust store's CA passes and its target is told the certificate's
``X-Amzn-Mtls-Clientcert-*`` headers (a client's own copies dropped); a client without a
certificate, with one of an unknown CA, a revoked or an expired one is refused — the expired
one taken with ``IgnoreClientCertificateExpiry``; in ``passthrough`` mode any certificate,
or none, passes and the target gets ``X-Amzn-Mtls-Clientcert``."""

from __future__ import annotations

import asyncio
import shutil
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import unquote

import pytest
from cryptography import x509

from andromede.hypervisor import http_listeners
from andromede.hypervisor.tls_terminators import sni_context
from andromede.loadbalancing.application import HttpSettings
from andromede.loadbalancing.certificates import CertificateMaterial
from andromede.loadbalancing.http_rules import Forward, Rule
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.tls import TlsSettings
from andromede.loadbalancing.trust_stores import MutualTls, checked_crl
from support.client_pki import ClientCa, ClientCertificate
from support.tls_certificates import TestCa


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Listener:
    """An HTTPS listener with ``mutual`` served in place, its target recording each
    request's headers."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.server_ca = TestCa()
        self.seen: list[dict[str, str]] = []
        self.port = _free_port()
        self.proxies: http_listeners.HttpListeners | None = None

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        headers = {}
        for line in head.split("\r\n")[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        self.seen.append(headers)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    @asynccontextmanager
    async def serving(self, mutual: MutualTls, logs: str = "") -> AsyncIterator[None]:
        """Served with its access and connection logs on for ``logs`` (``app/NAME/ID``)."""
        issued = self.server_ca.issue("www.example.test")

        async def material(tenant_id: str, arn: str) -> CertificateMaterial:
            return CertificateMaterial(arn, issued.body, "", issued.key.encode())

        async def in_place(namespace: str, work: Callable[[], int]) -> int:
            return work()

        target = await asyncio.start_server(self.answer, "127.0.0.1", 0)
        target_port = int(target.sockets[0].getsockname()[1])
        tls = TlsSettings(certificates=("arn:www",), mutual=mutual)
        view = ForwardingView(
            "l-mtls", "vpc-1", ("127.0.0.1",), self.port, tenant_id="1", tls=tls,
            http=HttpSettings(
                rules=(Rule("d", None, (), Forward((("g", 1),))),),
                groups=(("g", (("127.0.0.1", target_port),)),), protocol="HTTPS",
                access_log=logs, connection_log=logs,
            ),
        )  # fmt: skip

        async def context_of(listener: ForwardingView) -> ssl.SSLContext:
            assert listener.tls is not None
            return await sni_context(listener.tenant_id, listener.tls, material)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(http_listeners, "_in_netns", in_place)
            proxies = http_listeners.HttpListeners(lambda vpc: "in-place", context_of)
            self.proxies = proxies
            try:
                await proxies.apply([view])
                assert proxies.listening == {("vpc-1", "l-mtls")}
                yield
            finally:
                await proxies.close()
                target.close()

    async def get(self, certificate: ClientCertificate | None, *extra: str, chain: str = "") -> str:
        """The answer's status line, or "refused" when the connection was refused; the
        client presents ``chain`` (PEM) after its certificate."""
        context = ssl.create_default_context(cadata=self.server_ca.pem)
        if certificate is not None:
            pem = self.tmp_path / f"client-{certificate.serial}.pem"
            pem.write_text(certificate.pem + chain + certificate.key_pem)
            context.load_cert_chain(pem)
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", self.port, ssl=context, server_hostname="www.example.test"
            )
            headers = "".join(f"{line}\r\n" for line in extra)
            writer.write(
                f"GET / HTTP/1.1\r\nHost: www\r\nConnection: close\r\n{headers}\r\n".encode()
            )
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
        except (ssl.SSLError, ConnectionError):
            return "refused"
        return answer.split(b"\r\n")[0].decode() if answer else "refused"


async def test_verify_mode_admits_the_trust_stores_clients_only(tmp_path: Path) -> None:
    ca = ClientCa()
    good, revoked, expired = ca.issue("alice"), ca.issue("mallory"), ca.issue("old", expired=True)
    stranger = ClientCa("Another CA").issue("eve")
    crl = checked_crl(ca.crl(revoked.serial), [ca.certificate], 100)
    mutual = MutualTls(
        "verify", ca_bundle=ca.pem, revoked=frozenset((crl.issuer, s) for s in crl.serials)
    )
    listener = Listener(tmp_path)
    async with listener.serving(mutual):
        assert await listener.get(good, "X-Amzn-Mtls-Clientcert-Subject: CN=admin") == (
            "HTTP/1.1 200 OK"
        )
        headers = listener.seen[-1]
        assert headers["x-amzn-mtls-clientcert-subject"] == "CN=alice"  # the client's dropped
        assert headers["x-amzn-mtls-clientcert-issuer"] == "CN=Andromede Client CA,O=Andromede"
        assert int(headers["x-amzn-mtls-clientcert-serial-number"], 16) == good.serial
        assert headers["x-amzn-mtls-clientcert-validity"].startswith("NotBefore=20")
        leaf = x509.load_pem_x509_certificate(
            unquote(headers["x-amzn-mtls-clientcert-leaf"]).encode()
        )
        assert leaf == good.certificate
        assert "x-amzn-mtls-clientcert" not in headers
        count = len(listener.seen)
        for refused in (None, stranger, revoked, expired):
            assert await listener.get(refused) == "refused", refused
        assert len(listener.seen) == count  # none reached the target
    # IgnoreClientCertificateExpiry: the expired certificate passes.
    listener = Listener(tmp_path)
    async with listener.serving(MutualTls("verify", ca_bundle=ca.pem, ignore_expiry=True)):
        assert await listener.get(expired) == "HTTP/1.1 200 OK"
        assert await listener.get(stranger) == "refused"


async def _acceptable_names(port: int) -> str:
    """What ``openssl s_client`` reads of the server's certificate request."""
    shown = await asyncio.create_subprocess_exec(
        "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
        "www.example.test", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(shown.communicate(), 20)
    return out.decode(errors="replace")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_verify_mode_advertises_the_ca_names_when_asked(tmp_path: Path) -> None:
    ca = ClientCa("Advertised CA")
    listener = Listener(tmp_path)
    mutual = MutualTls("verify", ca_bundle=ca.pem, advertise_ca_names=True)
    async with listener.serving(mutual):
        assert await listener.get(ca.issue("alice")) == "HTTP/1.1 200 OK"
        assert "CN = Advertised CA" in await _acceptable_names(listener.port)
    listener = Listener(tmp_path)
    async with listener.serving(MutualTls("verify", ca_bundle=ca.pem)):
        shown = await _acceptable_names(listener.port)
        assert "No client certificate CA names sent" in shown
        assert "CN = Advertised CA" not in shown


async def test_passthrough_forwards_any_certificate_unverified(tmp_path: Path) -> None:
    anyone = ClientCa("Nobody's CA").issue("bob", expired=True)
    listener = Listener(tmp_path)
    async with listener.serving(MutualTls("passthrough")):
        assert await listener.get(anyone, "X-Amzn-Mtls-Clientcert: forged") == "HTTP/1.1 200 OK"
        forwarded = unquote(listener.seen[-1]["x-amzn-mtls-clientcert"])
        assert x509.load_pem_x509_certificate(forwarded.encode()) == anyone.certificate
        assert "x-amzn-mtls-clientcert-leaf" not in listener.seen[-1]
        # Without a certificate: served, no certificate header (the forged one dropped).
        assert await listener.get(None, "X-Amzn-Mtls-Clientcert: forged") == "HTTP/1.1 200 OK"
        assert "x-amzn-mtls-clientcert" not in listener.seen[-1]


async def test_passthrough_forwards_the_whole_chain_the_client_presented(tmp_path: Path) -> None:
    """Decision 0269: the leaf, then each certificate the client sent after it, in its
    order — as AWS's ``X-Amzn-Mtls-Clientcert`` (URL-encoded PEM)."""
    root = ClientCa("Chain Root CA")
    intermediate = ClientCa("Chain Issuing CA", parent=root)
    leaf = intermediate.issue("carol")
    listener = Listener(tmp_path)
    async with listener.serving(MutualTls("passthrough")):
        presented = intermediate.pem + root.pem
        assert await listener.get(leaf, chain=presented) == "HTTP/1.1 200 OK"
        forwarded = listener.seen[-1]["x-amzn-mtls-clientcert"]
        assert "%0A" in forwarded and "-----BEGIN%20CERTIFICATE-----" in forwarded
        assert x509.load_pem_x509_certificates(unquote(forwarded).encode()) == [
            leaf.certificate,
            intermediate.certificate,
            root.certificate,
        ]
    # verify mode still tells the leaf alone, the chain checked up to the store's root.
    listener = Listener(tmp_path)
    async with listener.serving(MutualTls("verify", ca_bundle=root.pem)):
        assert await listener.get(leaf, chain=intermediate.pem) == "HTTP/1.1 200 OK"
        headers = listener.seen[-1]
        told = unquote(headers["x-amzn-mtls-clientcert-leaf"]).encode()
        assert x509.load_pem_x509_certificates(told) == [leaf.certificate]
        assert headers["x-amzn-mtls-clientcert-issuer"] == "CN=Chain Issuing CA,O=Andromede"


async def test_connection_logs_name_each_handshake_as_aws_words_it(tmp_path: Path) -> None:
    """Decision 0287: one connection log line per HTTPS connection — the established one's
    protocol, cipher, latency and leaf certificate, ``Success``, and the ``conn_trace_id``
    its request's access log line carries; a certificate of no CA of the store, an expired
    one, none, a revoked one and a client speaking no TLS, each with AWS's
    ``Failed:<reason>`` and no latency."""
    import shlex

    ca = ClientCa()
    good, revoked, expired = ca.issue("alice"), ca.issue("mallory"), ca.issue("old", expired=True)
    stranger = ClientCa("Another CA").issue("eve")
    crl = checked_crl(ca.crl(revoked.serial), [ca.certificate], 100)
    mutual = MutualTls(
        "verify", ca_bundle=ca.pem, revoked=frozenset((crl.issuer, s) for s in crl.serials)
    )
    listener = Listener(tmp_path)
    async with listener.serving(mutual, logs="app/shop/50dc6c495c0c9188"):
        assert await listener.get(good) == "HTTP/1.1 200 OK"
        for refused in (stranger, expired, None, revoked):
            assert await listener.get(refused) == "refused"
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP to HTTPS
        await writer.drain()
        await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await asyncio.sleep(0.1)
        assert listener.proxies is not None
        key = ("vpc-1", "127.0.0.1", listener.port)
        connections = listener.proxies.connection_logs()[key]
        accessed = listener.proxies.access_logs()[key]
        tls_errors = listener.proxies.counters()[key][15]
        assert listener.proxies.connection_logs() == {}  # taken once
    lines = [shlex.split(line) for line in connections]
    assert len(lines) == 6 and all(len(line) == 12 for line in lines)
    first = lines[0]
    assert first[1] == "127.0.0.1" and int(first[2]) > 0 and first[3] == str(listener.port)
    assert first[4].startswith("TLSv1.") and first[5] != "-"
    assert float(first[6]) >= 0 and len(first[6].split(".")[1]) == 3
    assert first[7] == "CN=alice"
    assert first[8].startswith("NotBefore=20") and ";NotAfter=20" in first[8]
    assert int(first[9], 16) == good.serial
    assert first[10] == "Success" and first[11].startswith("TID_")
    assert accessed[0].split(" ")[-1] == first[11]  # the same connection's trace id
    assert [line[10] for line in lines[1:]] == [
        "Failed:ClientCertUntrusted",
        "Failed:ClientCertExpired",
        "Failed:ClientCertUntrusted",  # no certificate at all
        "Failed:ClientCertCrlHit",
        "Failed:UnmappedConnectionError",  # no TLS
    ]
    assert all(line[6] == "-" for line in lines[1:])
    assert tls_errors == 5  # ClientTLSNegotiationErrorCount's
    assert lines[4][7] == "CN=mallory"  # revoked after its handshake: its certificate known
    assert all(line[4:10] == ["-"] * 6 for line in (lines[1], lines[2], lines[3], lines[5]))
