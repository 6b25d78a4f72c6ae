"""One probe of a Route 53 endpoint health check (decision 0285), as AWS's checkers make it.

- **The address.** ``IPAddress`` when given, else the first address ``FullyQualifiedDomainName``
  resolves to, resolved at each probe. Either must be public unicast or inside the operator's
  ``route53_health_check_allow_cidrs`` (the guard of ``http.outbound``): a tenant cannot aim
  the gateway at the operator's private services; a refused address is a failed check, its
  reason said.
- **HTTP and HTTPS.** A ``GET`` of ``ResourcePath`` with the ``Host`` of the domain name (else
  the address); healthy on a 2xx or 3xx status (redirects not followed). The connection must
  open within the timeout, the status arrive within half as long again (AWS: four seconds,
  then two). HTTPS sends the domain name as SNI when ``EnableSNI``; the certificate is not
  checked, as AWS's checkers do not check it. ``*_STR_MATCH``: ``SearchString`` must also be
  in the first 5,120 bytes of the body.
- **TCP.** The connection opened within the timeout, then closed.

The report is AWS's ``StatusReport`` text (``Success: HTTP Status Code 200, OK``,
``Failure: …``); never the body nor the path's query."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

import httpx

from andromede.route53.health_model import HealthCheckConfig, Network

__all__ = ["SEARCH_BYTES", "ProbeResult", "Prober"]

SEARCH_BYTES: Final = 5120
_TIMED_OUT: Final = (
    "Failure: Connection timed out. The endpoint or the internet connection is down, or "
    "requests are being blocked by your firewall."
)


@dataclass(frozen=True)
class ProbeResult:
    healthy: bool
    report: str
    # ``MeasureLatency``'s metrics of this probe, milliseconds: ConnectionTime,
    # SSLHandshakeTime (HTTPS), TimeToFirstByte (HTTP and HTTPS).
    latency: tuple[tuple[str, float], ...] = ()


class _Timings:
    """httpx's trace events of one request, timed."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def __call__(self, event: str, info: dict[str, object]) -> None:
        self.at[event] = time.perf_counter()

    def _span(self, start: str, end: str) -> float | None:
        if start in self.at and end in self.at:
            return round((self.at[end] - self.at[start]) * 1000, 3)
        return None

    def latency(self) -> tuple[tuple[str, float], ...]:
        spans = (
            ("ConnectionTime", "connection.connect_tcp.started", "connection.connect_tcp.complete"),
            ("SSLHandshakeTime", "connection.start_tls.started", "connection.start_tls.complete"),
            (
                "TimeToFirstByte",
                "http11.send_request_headers.started",
                "http11.receive_response_headers.complete",
            ),
        )
        found = ((name, self._span(start, end)) for name, start, end in spans)
        return tuple((name, span) for name, span in found if span is not None)


class _Refused(Exception):
    pass


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Prober:
    """Probes endpoints with one HTTP client (no certificate check, no redirects)."""

    def __init__(self, allowed: Sequence[Network] = (), timeout: float = 4.0) -> None:
        self._allowed = tuple(allowed)
        self._timeout = timeout
        # A client context that checks nothing (Route 53's HTTPS checks accept any
        # certificate), so the system CA store is never loaded: create_default_context read
        # it (25-40 ms) at every start of every app, for a context that never consults it.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self._client = httpx.AsyncClient(
            verify=context,
            follow_redirects=False,
            # A new connection each probe, as a checker's: never one kept from another check
            # (its SNI, its server) nor a connection time of zero.
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=httpx.Timeout(timeout, read=timeout / 2, connect=timeout),
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    def _check(self, address: str) -> str:
        ip = ipaddress.ip_address(address)
        public = ip.is_global and not ip.is_multicast
        if not (public or any(ip in network for network in self._allowed)):
            raise _Refused(
                f"Failure: Resolved IP address {address} is not one health checkers may "
                "reach (an internal address; setting route53_health_check_allow_cidrs)."
            )
        return str(ip)

    async def _address(self, config: HealthCheckConfig) -> str:
        if config.ip_address:
            return self._check(config.ip_address)
        name = config.fqdn or ""
        try:
            infos = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM),
                self._timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise _Refused(f"Failure: DNS resolution failed for {name[:255]}.") from exc
        if not infos:
            raise _Refused(f"Failure: DNS resolution failed for {name[:255]}.")
        return self._check(str(infos[0][4][0]))

    async def probe(self, config: HealthCheckConfig) -> ProbeResult:
        try:
            address = await self._address(config)
        except _Refused as exc:
            return ProbeResult(False, str(exc))
        port = config.port or (443 if config.https else 80)
        if config.type == "TCP":
            return await self._tcp(address, port)
        return await self._http(config, address, port)

    async def _tcp(self, address: str, port: int) -> ProbeResult:
        started = time.perf_counter()
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(address, port), self._timeout
            )
        except TimeoutError:
            return ProbeResult(False, _TIMED_OUT)
        except OSError as exc:
            return ProbeResult(
                False, f"Failure: TCP connection failed ({exc.strerror or 'refused'})."
            )
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        connected = round((time.perf_counter() - started) * 1000, 3)
        return ProbeResult(
            True, "Success: TCP connection established.", (("ConnectionTime", connected),)
        )

    async def _http(self, config: HealthCheckConfig, address: str, port: int) -> ProbeResult:
        host = config.fqdn or address
        literal = f"[{address}]" if ":" in address else address
        scheme = "https" if config.https else "http"
        path = config.resource_path or "/"
        if not path.startswith("/"):
            path = "/" + path
        default_port = 443 if config.https else 80
        headers = {
            "Host": host if port == default_port else f"{host}:{port}",
            "User-Agent": "Amazon-Route53-Health-Check-Service (andromede)",
        }
        timings = _Timings()
        extensions: dict[str, object] = {"trace": timings}
        if config.https and config.enable_sni and config.fqdn:
            extensions["sni_hostname"] = config.fqdn
        request = self._client.build_request(
            "GET", f"{scheme}://{literal}:{port}{path}", headers=headers, extensions=extensions
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            return ProbeResult(False, _TIMED_OUT)
        except httpx.HTTPError as exc:
            return ProbeResult(
                False, f"Failure: Connection failed ({type(exc).__name__}). Resolved IP: {address}"
            )
        try:
            status = response.status_code
            described = f"HTTP Status Code {status}, {_reason(status)}"
            if not 200 <= status < 400:
                return ProbeResult(False, f"Failure: {described}. Resolved IP: {address}")
            if config.search_string is not None:
                body = b""
                try:
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) >= SEARCH_BYTES:
                            break
                except httpx.HTTPError:
                    return ProbeResult(False, _TIMED_OUT)
                text = body[:SEARCH_BYTES].decode("utf-8", "replace")
                if config.search_string not in text:
                    return ProbeResult(
                        False,
                        f"Failure: {described}. The response body did not contain the search "
                        f"string. Resolved IP: {address}",
                    )
                found = f"Success: {described}. Search string found."
                return ProbeResult(True, found, timings.latency())
            return ProbeResult(True, f"Success: {described}", timings.latency())
        finally:
            await response.aclose()
