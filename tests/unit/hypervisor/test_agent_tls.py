"""The agent's network listener: mutual TLS, both ways, before any call is read.

Real TLS over loopback with throw-away CAs (trustme, on top of ``cryptography``): the agent serves
the in-memory driver on a unix socket and on a TCP port; a gateway's :class:`RemoteDriver` dials
the port. Only a client with a certificate of the agents' CA is served, and a gateway drives only
an agent whose certificate that CA signed for the address it dialled, which reports the declared
host name.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest
import trustme

from andromede.compute.driver import HostCapacity
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import HostUnreachable
from andromede.hypervisor.agent import HOST_HEADER, agent_ready, serve_agent
from andromede.hypervisor.agent_tls import agent_client_context, agent_server_context
from andromede.hypervisor.remote import AgentMisidentified, AgentUnreachable, RemoteDriver


@dataclass(frozen=True)
class Pem:
    cert: Path
    key: Path


def _write(ca: trustme.CA, folder: Path, name: str, *identities: str) -> Pem:
    leaf = ca.issue_cert(*identities)
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    return Pem(cert, key)


@dataclass(frozen=True)
class Pki:
    ca: Path  # the agents' CA: signs agents and gateways
    agent: Pem
    gateway: Pem
    stranger_ca: Path  # another CA, and what it signed
    stranger_agent: Pem
    stranger_gateway: Pem
    agent_for_another_name: Pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("agent-pki")
    ca, stranger = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    ca.private_key_pem.write_to_path(str(folder / "ca-key.pem"))
    stranger.cert_pem.write_to_path(str(folder / "stranger-ca.pem"))
    return Pki(
        ca=folder / "ca.pem",
        agent=_write(ca, folder, "agent", "127.0.0.1"),
        gateway=_write(ca, folder, "gateway", "gateway.example"),
        stranger_ca=folder / "stranger-ca.pem",
        stranger_agent=_write(stranger, folder, "stranger-agent", "127.0.0.1"),
        stranger_gateway=_write(stranger, folder, "stranger-gateway", "gateway.example"),
        agent_for_another_name=_write(ca, folder, "elsewhere", "agent.elsewhere.example"),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class NetworkAgent:
    url: str
    socket_path: Path
    driver: MemoryDriver


class StartAgent(Protocol):
    async def __call__(self, certificate: Pem | None = None) -> NetworkAgent: ...


@pytest.fixture
async def start_agent(tmp_path: Path, pki: Pki) -> AsyncIterator[StartAgent]:
    """Start an agent presenting ``certificate`` (the good one unless told) on a free port."""
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(certificate: Pem | None = None) -> NetworkAgent:
        chosen = certificate or pki.agent
        driver = MemoryDriver(vcpus=4, memory_mib=4096)
        socket_path = tmp_path / f"agent{len(stops)}" / "agent.sock"
        port = _free_port()
        stop = asyncio.Event()
        context = agent_server_context(chosen.cert, chosen.key, pki.ca)
        task = asyncio.create_task(
            serve_agent(driver, socket_path, stop, listen=("127.0.0.1", port), tls=context)
        )
        stops.append((stop, task))
        assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
        return NetworkAgent(f"https://127.0.0.1:{port}", socket_path, driver)

    yield start
    for stop, task in stops:
        stop.set()
        await task


def _remote(url: str, context: ssl.SSLContext, host: str = "memory-host") -> RemoteDriver:
    return RemoteDriver(url, host=host, timeout=10, tls=context)


async def test_a_gateway_with_a_certificate_of_the_ca_drives_the_agent(
    start_agent: StartAgent, pki: Pki
) -> None:
    agent: NetworkAgent = await start_agent()
    remote = _remote(agent.url, agent_client_context(pki.gateway.cert, pki.gateway.key, pki.ca))
    try:
        assert await remote.capacity() == HostCapacity(
            "memory-host",
            4,
            4096,
            "tcg",
            storage_domain="memory-host",  # type: ignore[arg-type]
        )
        assert await remote.running() == {}
    finally:
        await remote.close()


async def test_plaintext_is_refused_at_the_handshake(start_agent: StartAgent, pki: Pki) -> None:
    agent: NetworkAgent = await start_agent()
    plain = agent.url.replace("https://", "http://")
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(httpx.TransportError):
            await client.post(f"{plain}/v1/capacity", json={})
    # Nothing reached the driver: a TLS listener reads no HTTP from a clear connection.
    host, port = agent.url.removeprefix("https://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /v1/running HTTP/1.1\r\nHost: agent\r\nContent-Length: 2\r\n\r\n{}")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(1024), 5)
    writer.close()
    assert b"HTTP/1.1 200" not in answer and b"result" not in answer


async def test_a_client_without_a_certificate_is_refused(start_agent: StartAgent, pki: Pki) -> None:
    agent: NetworkAgent = await start_agent()
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.load_verify_locations(cafile=pki.ca)  # it trusts the agent, shows nothing itself
    remote = _remote(agent.url, anonymous)
    try:
        with pytest.raises(AgentUnreachable):
            await remote.capacity()
    finally:
        await remote.close()


async def test_a_client_certificate_of_another_ca_is_refused(
    start_agent: StartAgent, pki: Pki
) -> None:
    agent: NetworkAgent = await start_agent()
    context = agent_client_context(pki.stranger_gateway.cert, pki.stranger_gateway.key, pki.ca)
    remote = _remote(agent.url, context)
    try:
        with pytest.raises(AgentUnreachable):
            await remote.running()
    finally:
        await remote.close()


@pytest.mark.parametrize("which", ["another CA", "another name"])
async def test_the_gateway_refuses_an_agent_its_ca_did_not_sign_for_the_address(
    start_agent: StartAgent, pki: Pki, which: str
) -> None:
    certificate = pki.stranger_agent if which == "another CA" else pki.agent_for_another_name
    agent: NetworkAgent = await start_agent(certificate)
    remote = _remote(agent.url, agent_client_context(pki.gateway.cert, pki.gateway.key, pki.ca))
    try:
        with pytest.raises(AgentUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            await remote.capacity()
    finally:
        await remote.close()


async def test_an_agent_reporting_another_host_name_is_not_used(
    start_agent: StartAgent, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    agent: NetworkAgent = await start_agent()
    context = agent_client_context(pki.gateway.cert, pki.gateway.key, pki.ca)
    remote = _remote(agent.url, context, host="hv-2")
    try:
        for _ in range(2):
            with pytest.raises(AgentMisidentified, match="'hv-2' reports itself as 'memory-host'"):
                await remote.running()
        # The compute service knows it as an unreachable host: skipped, its instances kept.
        with pytest.raises(HostUnreachable):
            await remote.capacity()
    finally:
        await remote.close()
    assert [r.levelname for r in caplog.records if "reports itself" in r.message] == ["ERROR"]


async def test_every_answer_names_the_host(start_agent: StartAgent) -> None:
    agent: NetworkAgent = await start_agent()
    transport = httpx.AsyncHTTPTransport(uds=str(agent.socket_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        for answer in (
            await client.post("/v1/capacity", json={}),
            await client.post("/v1/no_such_method", json={}),
            await client.post("/v1/kill", content=b"{not json"),
        ):
            assert answer.headers[HOST_HEADER] == "memory-host"


def test_the_contexts_require_tls_1_2_and_a_client_certificate(pki: Pki) -> None:
    server = agent_server_context(pki.agent.cert, pki.agent.key, pki.ca)
    client = agent_client_context(pki.gateway.cert, pki.gateway.key, pki.ca)
    assert server.verify_mode is ssl.CERT_REQUIRED
    assert client.verify_mode is ssl.CERT_REQUIRED and client.check_hostname
    assert server.minimum_version is ssl.TLSVersion.TLSv1_2
    assert client.minimum_version is ssl.TLSVersion.TLSv1_2


async def test_a_listener_without_mutual_tls_is_refused(tmp_path: Path, pki: Pki) -> None:
    one_way = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    one_way.load_cert_chain(pki.agent.cert, pki.agent.key)
    with pytest.raises(ValueError, match="mutual-TLS"):
        await serve_agent(
            MemoryDriver(), tmp_path / "a" / "agent.sock", listen=("127.0.0.1", 1), tls=one_way
        )
    with pytest.raises(ValueError, match="mutual-TLS"):
        await serve_agent(MemoryDriver(), tmp_path / "a" / "agent.sock", listen=("127.0.0.1", 1))


def test_a_networked_agent_is_dialled_over_https_only() -> None:
    with pytest.raises(ValueError, match="https"):
        RemoteDriver("http://127.0.0.1:1", host="h")


async def test_a_host_that_never_answers_is_unreachable_after_the_connect_timeout(
    pki: Pki,
) -> None:
    # A port that takes connections in the kernel but never speaks: the handshake never ends.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"https://127.0.0.1:{silent.getsockname()[1]}"
        context = agent_client_context(pki.gateway.cert, pki.gateway.key, pki.ca)
        remote = RemoteDriver(url, host="h", timeout=60, connect_timeout=0.5, tls=context)
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(AgentUnreachable, match="ConnectTimeout"):
                await remote.capacity()
            assert asyncio.get_running_loop().time() - started < 10
        finally:
            await remote.close()


async def test_a_host_silent_after_the_handshake_is_unreachable_after_the_query_timeout(
    pki: Pki,
) -> None:
    # The agent's TLS, then nothing: a host frozen, or gone behind a kept connection.
    held: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    context = agent_server_context(pki.agent.cert, pki.agent.key, pki.ca)
    server = await asyncio.start_server(never_answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    client = agent_client_context(pki.gateway.cert, pki.gateway.key, pki.ca)
    remote = RemoteDriver(
        f"https://127.0.0.1:{port}",
        host="h",
        timeout=60,
        query_timeout=0.5,
        tls=client,
    )
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(AgentUnreachable, match="ReadTimeout"):
            await remote.capacity()
        with pytest.raises(AgentUnreachable, match="ReadTimeout"):
            await remote.running()
        assert asyncio.get_running_loop().time() - started < 10
    finally:
        await remote.close()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def _server_only_certificate(ca_folder: Path, folder: Path) -> Pem:
    """A certificate of the agents' CA whose extended key usage is serverAuth only: what an
    operator issues to agents so that an agent's key cannot drive other agents."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate((ca_folder / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_folder / "ca-key.pem").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agent")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = Pem(folder / "server-only.pem", folder / "server-only-key.pem")
    pem.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


async def test_an_agent_certificate_for_serving_only_cannot_drive_another_agent(
    start_agent: StartAgent, pki: Pki, tmp_path: Path
) -> None:
    """Agents and gateways share one CA; an agent's certificate whose extended key usage is
    serverAuth only is refused as a client (OpenSSL checks the purpose), so a compromised host
    cannot drive the others with its own key (decision 0022)."""
    server_only = _server_only_certificate(pki.ca.parent, tmp_path)
    agent: NetworkAgent = await start_agent(server_only)  # it serves with it...
    good = _remote(agent.url, agent_client_context(pki.gateway.cert, pki.gateway.key, pki.ca))
    misused = _remote(agent.url, agent_client_context(server_only.cert, server_only.key, pki.ca))
    try:
        assert await good.running() == {}
        with pytest.raises(AgentUnreachable):  # ...but cannot call another agent with it
            await misused.running()
    finally:
        await good.close()
        await misused.close()
