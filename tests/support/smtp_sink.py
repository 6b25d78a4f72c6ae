"""A small SMTP server for tests (decision 0180): it speaks enough of RFC 5321 for smtplib
(EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT), keeps each mail taken,
and answers a chosen code to RCPT or DATA when a test wants the relay to refuse or defer.

It runs its own asyncio loop in a thread, so the unit tests' loop and a real ``andromede
serve`` can both send to it. Given a TLS context (``self_signed``), it offers STARTTLS and,
once the session is secured, AUTH PLAIN, keeping each login it took.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Mail", "SmtpSink", "self_signed", "smtp_sink"]


def self_signed() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(the server's context, a client's context trusting it) for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp-sink")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(pem)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cadata=pem.decode())


@dataclass(frozen=True, slots=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        text = "" if body is None else str(body.get_content())  # type: ignore[attr-defined]
        return text.replace("\r\n", "\n")


class SmtpSink:
    def __init__(self, tls: ssl.SSLContext | None = None, *, implicit: bool = False) -> None:
        self.mails: list[Mail] = []
        self.logins: list[tuple[str, str]] = []
        self._tls = tls
        self.implicit = implicit
        # A reply such as "550 5.1.1 no such user" given to every RCPT (or DATA) instead.
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.port = 0
        self._lock = threading.Lock()

    def wait_for(self, count: int, seconds: float = 8.0) -> list[Mail]:
        """The mails once ``count`` were taken (AssertionError after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.mails) >= count:
                    return list(self.mails)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.mails)} mails taken, {count} awaited")

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        sender, recipients, secured = "", [], self.implicit
        await say("220 sink ESMTP")
        try:
            while line := await reader.readline():
                verb = line.decode(errors="replace").strip()
                upper = verb.upper()
                if upper.startswith(("EHLO", "HELO")):
                    offers = ["sink"]
                    if self._tls is not None:
                        offers.append("AUTH PLAIN" if secured else "STARTTLS")
                    offers.append("8BITMIME")
                    lines = [f"250-{offer}" for offer in offers[:-1]] + [f"250 {offers[-1]}"]
                    await say("\r\n".join(lines) if upper.startswith("EHLO") else "250 sink")
                elif upper == "STARTTLS" and self._tls is not None and not secured:
                    await say("220 ready to start TLS")
                    await writer.start_tls(self._tls)
                    secured = True
                elif upper.startswith("AUTH PLAIN ") and secured:
                    _, user, password = base64.b64decode(verb[11:]).decode().split("\0")
                    with self._lock:
                        self.logins.append((user, password))
                    await say("235 2.7.0 Authentication successful")
                elif upper.startswith("MAIL FROM:"):
                    sender, recipients = verb[10:].strip().strip("<>"), []
                    await say("250 OK")
                elif upper.startswith("RCPT TO:"):
                    if self.rcpt_reply is not None:
                        await say(self.rcpt_reply)
                        continue
                    recipients.append(verb[8:].strip().strip("<>"))
                    await say("250 OK")
                elif upper == "DATA":
                    await say("354 go on")
                    data = bytearray()
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    if self.data_reply is not None:
                        await say(self.data_reply)
                        continue
                    parsed = message_from_bytes(bytes(data), policy=policy.default)
                    assert isinstance(parsed, EmailMessage)
                    with self._lock:
                        self.mails.append(Mail(sender, tuple(recipients), parsed))
                    await say("250 OK queued")
                elif upper in ("RSET", "NOOP"):
                    await say("250 OK")
                elif upper == "QUIT":
                    await say("221 bye")
                    break
                else:
                    await say("502 not implemented")
        finally:
            writer.close()


@contextmanager
def smtp_sink(tls: ssl.SSLContext | None = None, *, implicit: bool = False) -> Iterator[SmtpSink]:
    """A sink listening on a free port of 127.0.0.1 for the block's length; ``tls``: the
    server's context, STARTTLS offered (``implicit``: TLS from the first byte instead)."""
    sink = SmtpSink(tls, implicit=implicit)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server: list[asyncio.Server] = []

    async def start() -> None:
        started = await asyncio.start_server(
            sink._session, "127.0.0.1", 0, ssl=tls if implicit else None
        )
        server.append(started)
        sink.port = started.sockets[0].getsockname()[1]
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, name="smtp-sink", daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield sink
    finally:

        async def stop() -> None:
            server[0].close()
            await server[0].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
