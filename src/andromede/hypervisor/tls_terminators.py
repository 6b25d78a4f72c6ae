"""Network Load Balancers' TLS listeners on a host's VPC routers (decision 0210): for each TLS
listener of a VPC whose router is built here, a TLS server on each node address and port in
the router's namespace, presenting the listener's certificates and forwarding each
connection's plaintext to one of the listener's targets — in clear to a TCP group's, over a
new TLS session (the target's certificate not verified, as AWS's) to a TLS group's.

- **Where.** A listening socket is made by a thread that enters the router's namespace (a
  socket stays in the namespace it was made in, as the health checker's), bound with
  ``IP_FREEBIND`` so it does not wait on the node address being held; the event loop then
  serves it. The router's table gives such a listener's new connections a connection mark
  its ``input`` chain accepts (:data:`~andromede.hypervisor.load_balancer_rules.TERMINATED`);
  the kernel DNAT of TCP and UDP listeners is untouched. A connection to a target is made in
  the namespace too, from the node address the client reached (the target sees the load
  balancer's address, as behind an AWS TLS listener).
- **Keys.** The private key is opened by the load balancing service (IAM's sealer) and only
  ever held in memory: Python's ``ssl`` loads a certificate chain from a file name only, so
  the PEM is written to an anonymous ``memfd`` (memory, never a file system on disk) read
  through ``/proc/self/fd`` and closed at once.
- **SNI.** The client's server name picks the listener's certificate whose names (DNS
  subject alternative names, else the common name; ``*.`` matching one label) match it — an
  exact name before a wildcard —, the default certificate otherwise or without SNI.
- **Policies.** The security policy's protocol versions and ciphers
  (:class:`~andromede.loadbalancing.tls.SslPolicy`), the ALPN policy's protocols.
- **Bounds.** At most ``max_connections`` connections a listener at once (a connection
  beyond is closed once accepted); each direction reads at most ``buffer_bytes`` at a time
  and waits for the other side to take what it holds before reading more; a connection idle
  for :data:`IDLE_TIMEOUT` seconds (AWS's, fixed for TLS listeners) is closed.
- **Counts** (``AWS/NetworkELB``'s TLS metrics, session 51 later): per listener and node
  address, the connections taken (within the bound: ``NewFlowCount_TLS``), the bytes moved
  both ways (the plaintext, ``ProcessedBytes_TLS``), the handshakes that failed with the
  client (``ClientTLSNegotiationErrorCount``) and with a TLS group's target
  (``TargetTLSNegotiationErrorCount``), and the connections held now
  (``ActiveFlowCount_TLS``). The counts only grow while the listener is served here (a
  restart keeps them), and go with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import ssl
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from andromede.hypervisor.client_certificates import ask_client_certificates
from andromede.hypervisor.http_access_log import MAX_BUFFERED_LINES, AccessLogBuffer
from andromede.hypervisor.netns_commands import _in_netns
from andromede.loadbalancing.certificates import CertificateMaterial
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.nlb_access_logs import TlsConnectionEntry, tls_log_line
from andromede.loadbalancing.tls import SSL_POLICIES, TlsSettings, alpn_protocols

__all__ = [
    "IDLE_TIMEOUT",
    "RETRY_AFTER",
    "TRANSPORT",
    "Presented",
    "TerminatorLimits",
    "TlsCounts",
    "TlsTerminators",
    "presented",
    "server_context",
    "sni_context",
]

log = logging.getLogger(__name__)

IDLE_TIMEOUT: Final = 350.0  # seconds: an NLB TLS listener's idle timeout
RETRY_AFTER: Final = 60.0  # seconds before a listener that failed to start is tried again
_HANDSHAKE_TIMEOUT: Final = 10.0
_CONNECT_TIMEOUT: Final = 10.0
_IP_FREEBIND: Final = 15  # <linux/in.h>: bind to an address not (yet) held
_VERSIONS: Final = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}

Material = Callable[[str, str], Awaitable[CertificateMaterial]]
TRANSPORT: Final = "tls"  # a TLS listener's counts' transport, beside the routers' tcp/udp
# (VPC, node address, port, transport): what a listener's counts are kept by.
CounterKey = tuple[str, str, int, str]


@dataclass(slots=True)
class TlsCounts:
    """What a TLS listener's terminator counted on one node address, since it was first
    served here."""

    flows: int = 0
    processed_bytes: int = 0
    client_tls_errors: int = 0
    target_tls_errors: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.flows, self.processed_bytes, self.client_tls_errors, self.target_tls_errors)


@dataclass(frozen=True, slots=True)
class TerminatorLimits:
    max_connections: int = 10000
    buffer_bytes: int = 65536


def _load_chain(context: ssl.SSLContext, material: CertificateMaterial) -> None:
    """The certificate, its chain and its key into ``context`` from memory (a memfd)."""
    pem = "\n".join(p.strip() for p in (material.body, material.chain) if p.strip())
    fd = os.memfd_create("nlb-certificate", os.MFD_CLOEXEC)
    try:
        os.write(fd, pem.encode() + b"\n" + material.private_key)
        context.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def server_context(settings: TlsSettings, material: CertificateMaterial) -> ssl.SSLContext:
    """A server context presenting ``material`` under the listener's security and ALPN
    policies."""
    policy = SSL_POLICIES[settings.ssl_policy]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    versions = [_VERSIONS[p] for p in policy.protocols]
    if any(c for c in policy.ciphers if not c.startswith("TLS_")):
        context.set_ciphers(policy.cipher_string)
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0 and 1.1; AWS's older policies (ELBSecurityPolicy-2016-08,
        # its API default) still offer them, and a client asking for them gets them.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = min(versions)
        context.maximum_version = max(versions)
    offered = alpn_protocols(settings.alpn_policy)
    if offered:
        context.set_alpn_protocols(list(offered))
    _load_chain(context, material)
    return context


def _names(material: CertificateMaterial) -> tuple[str, ...]:
    certificate = x509.load_pem_x509_certificate(material.body.encode())
    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = alternative.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = [
            str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    return tuple(n.lower() for n in names)


def _matches(pattern: str, name: str) -> bool:
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def _choose(
    candidates: Sequence[tuple[tuple[str, ...], ssl.SSLContext]], name: str
) -> ssl.SSLContext | None:
    name = name.lower().rstrip(".")
    for wildcard in (False, True):
        for names, context in candidates:
            if any(_matches(p, name) for p in names if p.startswith("*.") == wildcard):
                return context
    return None


def _target_context() -> ssl.SSLContext:
    """To a TLS group's target: its certificate and name not verified (AWS's)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_TO_TARGET: Final = _target_context()


@dataclass
class _Tally:
    """One connection's facts for its access log line (decision 0269)."""

    created: datetime
    opened: float  # monotonic
    client: tuple[str, int]
    destination: tuple[str, int]
    handshake: float | None = None
    received: int = 0
    sent: int = 0
    cipher: str = ""
    protocol: str = ""
    presented: Presented | None = None
    alpn: str = ""

    def shaken(self, connection: ssl.SSLObject | None, now: float) -> None:
        """The handshake done: what it chose, read while the connection is whole."""
        self.handshake = now - self.opened
        if connection is None:
            return
        cipher = connection.cipher()
        self.cipher, self.protocol = (cipher[0], cipher[1]) if cipher else ("", "")
        self.presented = presented(connection)
        self.alpn = connection.selected_alpn_protocol() or ""

    def entry(self, now: float) -> TlsConnectionEntry:
        chosen = self.presented
        return TlsConnectionEntry(
            created=self.created,
            ended=datetime.now(UTC),
            client=self.client,
            destination=self.destination,
            connection_time=now - self.opened,
            handshake_time=self.handshake,
            received_bytes=self.received,
            sent_bytes=self.sent,
            chosen_cert_arn=chosen.certificate_arn if chosen is not None else "",
            tls_cipher=self.cipher,
            tls_protocol=self.protocol,
            domain_name=chosen.server_name if chosen is not None else "",
            alpn_fe_protocol=self.alpn,
        )


@dataclass(eq=False)
class _Listener:
    """One TLS listener's servers in one router, and its targets of the last round."""

    key: tuple[str, str]
    signature: tuple[object, ...]
    namespace: str
    targets: tuple[tuple[str, int], ...]
    target_tls: bool
    limits: TerminatorLimits
    counted: dict[str, TlsCounts]  # by node address
    addresses: tuple[str, ...]
    port: int
    servers: list[asyncio.Server] = field(default_factory=list)
    # The connections held, by the node address each reached.
    active: dict[asyncio.Task[None], str] = field(default_factory=dict)
    # Decision 0269: the load balancer (``net/NAME/ID``) its access log lines name ("": off),
    # and the lines written since the host's last report, by node address.
    access_log: str = ""
    log_bound: int = MAX_BUFFERED_LINES
    logged: dict[str, AccessLogBuffer] = field(default_factory=dict)

    def logging(self, elb: str, bound: int) -> None:
        self.access_log, self.log_bound = elb, bound
        for buffer in self.logged.values():
            buffer.bound(bound)

    def _note(self, tally: _Tally) -> None:
        if not self.access_log:
            return
        address = tally.destination[0]
        buffer = self.logged.setdefault(address, AccessLogBuffer(self.log_bound))
        line = tls_log_line(self.access_log, self.key[1], tally.entry(time.monotonic()))
        buffer.add(line)

    def drain(self) -> dict[str, tuple[str, ...]]:
        """Node address → the lines written since the last call, taken."""
        drained = {address: buffer.drain() for address, buffer in self.logged.items()}
        return {address: lines for address, lines in drained.items() if lines}

    async def serve(self, context: ssl.SSLContext) -> None:
        port = self.port
        for address in self.addresses:

            def make(address: str = address) -> int:
                made = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    made.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
                    made.bind((address, port))
                    made.listen(512)
                except OSError:
                    made.close()
                    raise
                return made.detach()

            listening = socket.socket(
                socket.AF_INET, socket.SOCK_STREAM, fileno=await _in_netns(self.namespace, make)
            )
            listening.setblocking(False)
            # The handshake only once the connection is within the limit (start_tls below):
            # a connection beyond costs no handshake.
            self.servers.append(
                await asyncio.start_server(
                    lambda r, w: self._accepted(context, r, w),
                    sock=listening,
                    limit=self.limits.buffer_bytes,
                )
            )

    async def _accepted(
        self, context: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if len(self.active) >= self.limits.max_connections or not self.targets or task is None:
            writer.close()
            return
        address = str(writer.get_extra_info("sockname")[0])
        counted = self.counted.setdefault(address, TlsCounts())
        counted.flows += 1
        self.active[task] = address
        peer = writer.get_extra_info("peername") or ("", 0)
        tally = _Tally(
            datetime.now(UTC), time.monotonic(), (str(peer[0]), int(peer[1])), (address, self.port)
        )
        try:
            try:
                await writer.start_tls(context, ssl_handshake_timeout=_HANDSHAKE_TIMEOUT)
            except (OSError, ssl.SSLError, TimeoutError):
                counted.client_tls_errors += 1
                raise
            tally.shaken(writer.get_extra_info("ssl_object"), time.monotonic())
            await self._forward(reader, writer, counted, tally)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.debug("TLS listener %s: connection ended: %s", self.key[1], exc)
        finally:
            self.active.pop(task, None)
            writer.close()
            self._note(tally)

    async def _forward(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        counted: TlsCounts,
        tally: _Tally,
    ) -> None:
        address, port = random.choice(self.targets)  # noqa: S311 - a spread, not a secret
        local = writer.get_extra_info("sockname")[0]

        def make() -> int:
            made = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            made.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
            made.bind((local, 0))
            return made.detach()

        upstream = socket.socket(
            socket.AF_INET, socket.SOCK_STREAM, fileno=await _in_netns(self.namespace, make)
        )
        upstream.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_connect(upstream, (address, port)), _CONNECT_TIMEOUT)
        except BaseException:
            upstream.close()
            raise
        try:  # connected: with a TLS group, the target's handshake
            to_reader, to_writer = await asyncio.wait_for(
                asyncio.open_connection(
                    sock=upstream,
                    ssl=_TO_TARGET if self.target_tls else None,
                    server_hostname="" if self.target_tls else None,
                    limit=self.limits.buffer_bytes,
                ),
                _CONNECT_TIMEOUT,
            )
        except (OSError, ssl.SSLError, TimeoutError):
            if self.target_tls:
                counted.target_tls_errors += 1
            raise
        try:
            for side in (writer, to_writer):
                side.transport.set_write_buffer_limits(high=self.limits.buffer_bytes)
            await asyncio.gather(
                _pipe(reader, to_writer, self.limits, counted, tally, inbound=True),
                _pipe(to_reader, writer, self.limits, counted, tally, inbound=False),
            )
        finally:
            to_writer.close()

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for task in list(self.active):
            task.cancel()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self.servers.clear()


async def _pipe(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    limits: TerminatorLimits,
    counted: TlsCounts,
    tally: _Tally,
    *,
    inbound: bool,
) -> None:
    """``source`` into ``sink`` until its end, a bounded read at a time, each sent before
    the next read; then the sink's write side closed (a half close, as TCP's), or the sink
    closed when it is a TLS session. ``inbound``: from the client."""
    while True:
        data = await asyncio.wait_for(source.read(limits.buffer_bytes), IDLE_TIMEOUT)
        if not data:
            break
        counted.processed_bytes += len(data)
        if inbound:
            tally.received += len(data)
        else:
            tally.sent += len(data)
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof():
        with contextlib.suppress(OSError, RuntimeError):
            sink.write_eof()
    else:  # TLS has no half close: the session ends, and the other direction with it
        sink.close()


@dataclass(frozen=True, slots=True)
class Presented:
    """What a connection's handshake chose (the access logs' ``domain_name`` and
    ``chosen_cert_arn``, decisions 0264 and 0269): the server name the client asked for (""
    without SNI), whether a certificate's names matched it, and the certificate presented."""

    server_name: str
    matched: bool
    certificate_arn: str


# Each server connection's choice, for as long as its TLS object lives.
_PRESENTED: Final[weakref.WeakKeyDictionary[ssl.SSLObject, Presented]] = weakref.WeakKeyDictionary()


def presented(connection: ssl.SSLObject | None) -> Presented | None:
    """What ``connection``'s handshake chose (None: not a connection of :func:`sni_context`'s)."""
    if connection is None:
        return None
    return _PRESENTED.get(connection)


async def sni_context(tenant_id: str, tls: TlsSettings, material: Material) -> ssl.SSLContext:
    """The server context of a listener's certificates: the default one's, switching to the
    certificate whose names match the client's SNI (an ALB's HTTPS listener's too, decision
    0216), asking for client certificates as its mutual TLS says (decision 0256). What each
    connection was presented is :func:`presented`'s."""
    loaded = [await material(tenant_id, arn) for arn in tls.certificates]
    contexts = [(_names(m), server_context(tls, m)) for m in loaded]
    arns = {id(context): m.arn for (_, context), m in zip(contexts, loaded, strict=True)}
    if tls.mutual is not None:  # decision 0256: each, since SNI may switch to any
        for _, context in contexts:
            ask_client_certificates(context, tls.mutual)
    default = contexts[0][1]

    def pick(connection: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        # OpenSSL calls this on every client hello, with or without a server name.
        chosen = _choose(contexts, name) if name else None
        if chosen is not None and chosen is not default:
            connection.context = chosen
        with contextlib.suppress(TypeError):  # not weakly referable: nothing kept
            _PRESENTED[connection] = Presented(
                name or "", chosen is not None, arns[id(chosen or default)]
            )

    default.sni_callback = pick
    return default


class TlsTerminators:
    """The TLS listeners' servers on one host's routers."""

    def __init__(
        self,
        namespace_of: Callable[[str], str | None],
        material: Material,
        limits: TerminatorLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._namespace_of = namespace_of
        self._material = material
        self._limits = limits or TerminatorLimits()
        self._running: dict[tuple[str, str], _Listener] = {}
        # A listener that could not start, by its settings: when it may be tried again (not
        # every round: opening its keys asks the key service, and each failure is logged).
        self._failed: dict[tuple[str, str], tuple[tuple[object, ...], float]] = {}
        self._clock = clock
        self._counted: dict[CounterKey, TlsCounts] = {}

    @property
    def listening(self) -> set[tuple[str, str]]:
        """The (VPC, listener id) served here."""
        return set(self._running)

    async def apply(
        self,
        views: Sequence[ForwardingView],
        limits_of: Callable[[ForwardingView], TerminatorLimits] | None = None,
    ) -> None:
        """Serve the TLS listeners of ``views`` whose router is built here, and only them,
        each within ``limits_of`` it (the terminators' own limits without); a listener whose
        addresses, port, certificates, policies or limits changed is served anew, one whose
        targets changed keeps its connections and sends new ones to the new targets."""
        wanted: dict[tuple[str, str], tuple[ForwardingView, TlsSettings, str]] = {}
        for view in views:
            namespace = self._namespace_of(view.vpc_id)
            # An HTTPS listener's TLS is its HTTP proxy's (decision 0216).
            if view.tls is not None and view.http is None and namespace and view.addresses:
                wanted[(view.vpc_id, view.listener_id)] = (view, view.tls, namespace)
        for key in [k for k in self._running if k not in wanted]:
            await self._running.pop(key).close()
        for key, (view, tls, namespace) in sorted(wanted.items()):
            limits = self._limits if limits_of is None else limits_of(view)
            # Its access logs turned on or off, or their bound changed, keep its connections.
            presenting = replace(tls, access_log="", access_log_max_lines=0)
            signature = (view.addresses, view.port, presenting, namespace, view.tenant_id, limits)
            running = self._running.get(key)
            if running is not None and running.signature == signature:
                running.targets = view.targets
                running.logging(tls.access_log, tls.access_log_max_lines)
                continue
            if running is not None:
                await self._running.pop(key).close()
            failed = self._failed.get(key)
            if failed is not None and failed[0] == signature and self._clock() < failed[1]:
                continue
            self._failed[key] = (signature, self._clock() + RETRY_AFTER)
            try:
                context = await self._context(view.tenant_id, tls)
            except Exception as exc:  # a certificate gone or unreadable: that listener only
                # The exception's type only: nothing of a key reaches the log.
                log.warning(
                    "TLS listener %s: certificates could not be loaded (%s)",
                    key[1],
                    type(exc).__name__,
                )
                continue
            counted = {
                a: self._counted.setdefault((view.vpc_id, a, view.port, TRANSPORT), TlsCounts())
                for a in view.addresses
            }
            started = _Listener(
                key, signature, namespace, view.targets, tls.target_tls, limits, counted,
                view.addresses, view.port,
            )  # fmt: skip
            started.logging(tls.access_log, tls.access_log_max_lines)
            try:
                await started.serve(context)
            except OSError as exc:
                await started.close()
                log.warning("TLS listener %s: cannot listen: %s", key[1], exc)
                continue
            self._running[key] = started
            del self._failed[key]
        for key in [k for k in self._failed if k not in wanted]:
            del self._failed[key]
        served = {
            (vpc_id, address, view.port, TRANSPORT)
            for (vpc_id, _), (view, _, _) in wanted.items()
            if (vpc_id, view.listener_id) in self._running
            for address in view.addresses
        }
        self._counted = {k: v for k, v in self._counted.items() if k in served}

    def counters(self) -> dict[CounterKey, tuple[int, int, int, int]]:
        """(VPC, node address, port, ``tls``) → the new flows, bytes and failed client and
        target handshakes the listeners served here counted since they were first served."""
        return {key: counts.as_tuple() for key, counts in self._counted.items()}

    def active_flows(self) -> dict[CounterKey, int]:
        """(VPC, node address, port, ``tls``) → the connections held now, every node address
        of a listener served here named (0: none)."""
        found: dict[CounterKey, int] = {}
        for (vpc_id, _), running in self._running.items():
            for address in running.addresses:
                found[(vpc_id, address, running.port, TRANSPORT)] = 0
            for address in running.active.values():
                key = (vpc_id, address, running.port, TRANSPORT)
                found[key] = found.get(key, 0) + 1
        return found

    def access_logs(self) -> dict[tuple[str, str, int], tuple[str, ...]]:
        """(VPC, node address, port) → the access log lines the listeners served here wrote
        since the last call (decision 0269), taken: each line reaches one report."""
        found: dict[tuple[str, str, int], tuple[str, ...]] = {}
        for (vpc_id, _), running in self._running.items():
            for address, lines in running.drain().items():
                found[(vpc_id, address, running.port)] = lines
        return found

    async def _context(self, tenant_id: str, tls: TlsSettings) -> ssl.SSLContext:
        return await sni_context(tenant_id, tls, self._material)

    async def close(self) -> None:
        for key in list(self._running):
            await self._running.pop(key).close()
