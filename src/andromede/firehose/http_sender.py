"""The calls to HTTP endpoint destinations (decision 0250): ``http_endpoint.EndpointSender``
over httpx, under the platform's rules for calling a customer's endpoint, as EventBridge's
API destinations follow them (decision 0200).

The URL goes through the platform's one egress guard (:func:`andromede.http.outbound.pin`):
https only unless the operator allows http (loopback tests), its host resolved once here,
every address public or in the operator's networks (``firehose_http_endpoint_allow_cidrs``),
and the connection made to a checked address (TLS still checks the certificate against the
URL's host). No redirect is followed. Each attempt must answer within ``timeout`` seconds,
connection included (AWS waits 3 minutes; a setting here, below the stream's delivery lease
so that no other gateway takes the batch over meanwhile), and at most ``max_response``
bytes of the answer are read. Failures are AWS's delivery error codes, with no URL, header
or key in their message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx

from andromede.firehose.http_endpoint import EndpointAnswer, EndpointRequest
from andromede.firehose.model import DeliveryFailed, DeliveryStream
from andromede.http.outbound import Network, OutboundError, TlsContextOnDemand, pin

__all__ = ["HttpEndpointSender", "SenderPolicy"]

_SETTING: Final = "firehose_http_endpoint_allow_cidrs"
_USER_AGENT: Final = "Amazon Kinesis Data Firehose Agent/1.0"


@dataclass(frozen=True, slots=True)
class SenderPolicy:
    timeout: float = 50.0
    max_response: int = 1024 * 1024
    allowed: Sequence[Network] = ()
    allow_http: bool = False


class HttpEndpointSender:
    def __init__(self, policy: SenderPolicy | None = None) -> None:
        self.policy = policy or SenderPolicy()
        # One verification context for every call, made at the first https one.
        self._tls = TlsContextOnDemand(None)

    async def send(self, stream: DeliveryStream, request: EndpointRequest) -> EndpointAnswer:
        schemes = ("http", "https") if self.policy.allow_http else ("https",)
        try:
            pinned = await pin(request.url, self.policy.allowed, _SETTING, schemes=schemes)
        except OutboundError as exc:
            raise DeliveryFailed("HttpEndpoint.ConnectionFailed", str(exc)) from None
        https = urlsplit(request.url).scheme == "https"
        headers = {**request.headers, "User-Agent": _USER_AGENT, "Host": pinned.host}
        failure = DeliveryFailed(
            "HttpEndpoint.ConnectionFailed", "The connection to the endpoint failed."
        )
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.policy.timeout),
            follow_redirects=False,
            verify=self._tls.get() if https else False,
        ) as client:
            for address in pinned.targets:
                try:
                    return await self._exchange(
                        client, address, headers, request.body,
                        pinned.extensions if https else {},
                    )  # fmt: skip
                except httpx.TimeoutException:
                    raise DeliveryFailed(
                        "HttpEndpoint.RequestTimeout",
                        f"The endpoint did not answer within {self.policy.timeout:g} seconds.",
                    ) from None
                except httpx.TransportError:  # its kind only: the next address, if any
                    continue
        raise failure

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        address: str,
        headers: dict[str, str],
        body: bytes,
        extensions: dict[str, object],
    ) -> EndpointAnswer:
        request = client.build_request(
            "POST", address, content=body, headers=headers, extensions=extensions
        )
        response = await client.send(request, stream=True)
        try:
            read = bytearray()
            async for chunk in response.aiter_bytes():
                read += chunk
                if len(read) > self.policy.max_response:
                    raise DeliveryFailed(
                        "HttpEndpoint.ResponseTooLarge",
                        f"The endpoint's answer exceeds {self.policy.max_response} bytes.",
                    )
            return EndpointAnswer(response.status_code, bytes(read))
        finally:
            await response.aclose()
