"""The object store behind a host's VPC endpoint listeners (decision 0160): the agent's
forwarder and the gateway's gate.

A VPC router redirects what its endpoint-routed subnets send to the object store's addresses
to the host side of its transit link at ``hypervisor_vpce_port``
(``hypervisor/endpoint_redirect.py``); a listener bound there (the metadata service's
:class:`~andromede.hypervisor.metadata_listeners.MetadataListeners`, one per transit address,
in the host's agent) hands each request to :class:`EndpointForwarder`. It finds which
endpoint the request came through from the connection alone — the listener's own address
(one router, so one VPC) and the source the router translated the instance's to (its subnet,
so its route table) — and forwards the request to a gateway with an **origin attestation**:
the VPC, the endpoint, the instance's address and the time, bound to the method and target
by an HMAC whose key the agents and the gateways both derive from the data folder's secrets
key (:func:`attestation_key`). A guest's own header of that name is dropped: only the agent's
reaches the gateway. A connection the forwarder cannot place (a host process, an instance
whose subnet no longer routes to an endpoint) is answered S3's ``AccessDenied``.

The gateway's :class:`EndpointGate` checks the attestation (a forged, altered or stale one is
``AccessDenied``, never ignored), asks compute for the endpoint (still there, of that VPC:
its policy and its service) and runs the API the request is for — chosen as the gateway's
main front chooses it, by the SigV4 credential scope (``api_routing.api_service``) — inside
:func:`~andromede.iam.endpoint_origin.through_endpoint`, when that API is the endpoint's
service (decision 0174: S3, KMS, SQS, SNS or STS, and since its session-48 addenda EC2,
CloudWatch, Auto Scaling, CloudWatch Logs and Secrets Manager — :data:`SERVED`; a gateway
endpoint's is S3). Any other request through an endpoint — another API than the endpoint's,
one an endpoint never serves (IAM, S3 Control) — is refused in the words of the API it names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final

import httpx

from andromede.compute.vpc_endpoint import INTERFACE_SERVICES
from andromede.http.asgi import new_request_id
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.http.xml import XmlWriter
from andromede.iam.endpoint_origin import EndpointOrigin, through_endpoint
from andromede.s3.errors import S3Error
from andromede.s3.responses import common_headers, error_response

__all__ = [
    "ATTESTATION_HEADER",
    "SERVED",
    "EndpointForwarder",
    "EndpointGate",
    "EndpointLookup",
    "OriginResolver",
    "attest",
    "attestation_key",
    "verify",
]

# The header an agent's forwarder names a request's origin in (lower case, as ASGI has it).
ATTESTATION_HEADER = "x-andromede-vpce-origin"
_ATTESTATION = ATTESTATION_HEADER.encode()
# Hop-by-hop headers a forwarder does not pass on (RFC 9110 §7.6.1); the length is passed
# (the body is streamed as it came, raw).
_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade",
     b"proxy-connection"}
)  # fmt: skip

log = logging.getLogger(__name__)

# (listener address, client address, client port) → (VPC id, endpoint id, the instance's
# private address); the port names an Interface endpoint (decision 0166).
OriginResolver = Callable[[str, str, int], tuple[str, str, str] | None]
# An endpoint's id → (its VPC id, its policy document, its service: ``s3``, ``kms``…), None
# when it is gone.
EndpointLookup = Callable[[str], Awaitable[tuple[str, str, str] | None]]
# The APIs an endpoint's traffic may reach (decision 0174), as the gateway names them (its
# apps' keys, the credential scope's service) → as their actions are prefixed (the origin's
# ``service``, which each API's authoriser asks for).
SERVED: Final[Mapping[str, str]] = INTERFACE_SERVICES
_REFUSED = "The request did not come through a VPC endpoint of this service"
# The APIs whose refusals are their own (JSON, Query or EC2's XML) rather than S3's XML.
_OWN_WORDS: Final = frozenset(
    {"kms", "sqs", "sns", "sts", "iam", "ec2", "monitoring", "autoscaling", "logs",
     "secretsmanager"}
)  # fmt: skip
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def attestation_key(secrets_key_file: Path) -> bytes:
    """The key of the origin attestations, derived from the data folder's secrets key (which
    the gateways and the hypervisor agents hold alike) for this use only."""
    secret = secrets_key_file.read_bytes()
    return hmac.new(secret, b"andromede vpc-endpoint origin v1", hashlib.sha256).digest()


def _mac(key: bytes, fields: tuple[str, ...]) -> str:
    return hmac.new(key, "\n".join(fields).encode(), hashlib.sha256).hexdigest()


def attest(key: bytes, placed: tuple[str, str, str], method: str, target: str, now: float) -> str:
    """The attestation header's value for a request of ``method`` to ``target`` (path and
    query, as sent) that came through ``placed`` (VPC, endpoint, private address)."""
    stamp = str(int(now))
    return ";".join((*placed, stamp, _mac(key, (*placed, stamp, method, target))))


def verify(
    key: bytes, value: str, method: str, target: str, now: float, max_age: float
) -> tuple[str, str, str] | None:
    """The (VPC, endpoint, private address) ``value`` attests for this request, or None when
    it is malformed, not under ``key``, of another request, or older than ``max_age``."""
    parts = value.split(";")
    if len(parts) != 5 or not parts[3].isdigit():
        return None
    vpc_id, endpoint_id, private_ip, stamp, mac = parts
    expected = _mac(key, (vpc_id, endpoint_id, private_ip, stamp, method, target))
    if not hmac.compare_digest(mac, expected) or abs(now - int(stamp)) > max_age:
        return None
    return vpc_id, endpoint_id, private_ip


def _target(scope: Scope) -> str:
    raw = scope.get("raw_path") or str(scope.get("path") or "/").encode()
    query = scope.get("query_string") or b""
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def _refusal(service: str, scope: Scope, request_id: str) -> Response:
    """AccessDenied in the words of the API ``service`` names (EC2's UnauthorizedOperation;
    S3's XML for an API the gate does not know: its clients read the code and status)."""
    if service not in _OWN_WORDS:
        path = str(scope.get("path") or "/")
        method = str(scope.get("method"))
        return error_response(S3Error("AccessDenied"), None, path, request_id, method)
    # Imported here, on a gateway's refusal only: a host agent's forwarder (this module too)
    # refuses in S3's words and need not load every API.
    if service == "ec2":
        return _ec2_refusal(request_id)
    if service == "monitoring":
        return _cloudwatch_refusal(scope, request_id)
    if service in ("logs", "secretsmanager"):
        return _json_api_refusal(service)
    from andromede.iamapi.autoscaling import NAMESPACE as AUTOSCALING_NAMESPACE
    from andromede.iamapi.errors import QueryError
    from andromede.iamapi.iam import IAM
    from andromede.iamapi.sns import NAMESPACE as SNS_NAMESPACE
    from andromede.iamapi.sts import STS
    from andromede.kmsapi.app import CONTENT_TYPE as KMS_CONTENT_TYPE
    from andromede.kmsapi.errors import KmsWireError
    from andromede.sqsapi.app import CONTENT_TYPE as SQS_CONTENT_TYPE
    from andromede.sqsapi.errors import SqsWireError

    if service == "kms":
        kms = KmsWireError("AccessDeniedException", _REFUSED)
        return _json(kms.status, KMS_CONTENT_TYPE, kms.payload(), kms.headers())
    if service == "sqs":
        sqs = SqsWireError("AccessDenied", _REFUSED)
        return _json(sqs.status, SQS_CONTENT_TYPE, sqs.payload(), sqs.headers())
    namespace = {
        "sns": SNS_NAMESPACE,
        "sts": STS.namespace,
        "iam": IAM.namespace,
        "autoscaling": AUTOSCALING_NAMESPACE,
    }[service]
    query = QueryError("AuthorizationError" if service == "sns" else "AccessDenied", _REFUSED)
    xml = XmlWriter("ErrorResponse", namespace=namespace)
    xml.open("Error")
    xml.element("Type", "Sender")
    xml.element("Code", query.code)
    xml.element("Message", query.message)
    xml.close("Error")
    xml.element("RequestId", request_id)
    return Response(query.status, [("Content-Type", "text/xml")], xml.document())


def _ec2_refusal(request_id: str) -> Response:
    """EC2's ``UnauthorizedOperation`` (403) in its own error document, as its app answers
    a refused call: the credentials held, the origin did not."""
    from andromede.ec2api.errors import Ec2Error

    error = Ec2Error(
        "UnauthorizedOperation", f"You are not authorized to perform this operation. {_REFUSED}"
    )
    xml = XmlWriter("Response", namespace=None)
    xml.open("Errors")
    xml.open("Error")
    xml.element("Code", error.code)
    xml.element("Message", error.message)
    xml.close("Error")
    xml.close("Errors")
    xml.element("RequestID", request_id)
    return Response(error.status, [("Content-Type", "text/xml")], xml.document())


def _cloudwatch_refusal(scope: Scope, request_id: str) -> Response:
    """CloudWatch's ``AccessDenied`` (403) in the protocol the request speaks (CBOR, JSON or
    Query), as its app words a refusal."""
    from andromede.cloudwatchapi.errors import CloudWatchError
    from andromede.cloudwatchapi.protocol import error_response as cloudwatch_error
    from andromede.cloudwatchapi.protocol import wire_of

    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers") or ()
    }
    wire, _ = wire_of(str(scope.get("path") or "/"), headers)
    return cloudwatch_error(wire, CloudWatchError("AccessDenied", _REFUSED), request_id)


def _json_api_refusal(service: str) -> Response:
    """CloudWatch Logs' or Secrets Manager's ``AccessDeniedException`` (400, their JSON
    error shape: Logs spells ``message``, Secrets Manager ``Message``), as their apps word a
    refused call."""
    if service == "logs":
        from andromede.logsapi.app import CONTENT_TYPE as LOGS_CONTENT_TYPE
        from andromede.logsapi.errors import LogsWireError

        logs = LogsWireError("AccessDeniedException", _REFUSED)
        return _json(logs.status, LOGS_CONTENT_TYPE, logs.payload(), logs.headers())
    from andromede.secretsapi.app import CONTENT_TYPE as SECRETS_CONTENT_TYPE
    from andromede.secretsapi.errors import SecretsWireError

    secrets = SecretsWireError("AccessDeniedException", _REFUSED)
    return _json(secrets.status, SECRETS_CONTENT_TYPE, secrets.payload(), secrets.headers())


def _json(
    status: int, content_type: str, payload: dict[str, Any], headers: list[tuple[str, str]]
) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, [("Content-Type", content_type), *headers], body)


async def _refuse(scope: Scope, send: Send, service: str = "s3") -> None:
    request_id = new_request_id()
    log.info("request %s: no VPC endpoint of %s for %s", request_id, service, scope.get("client"))
    extra = [(b"x-amzn-requestid", request_id.encode())]
    if service not in _OWN_WORDS:
        extra = common_headers(request_id)
    await send_response(send, _refusal(service, scope, request_id), extra)


class EndpointGate:
    """The gateway's side of an agent's forwarding: a request bearing an attestation is
    served by the API it names through its endpoint when the attestation holds, the endpoint
    is still that VPC's and it is an endpoint of that API; refused otherwise. One without an
    attestation is none of this gate's business."""

    def __init__(
        self, key: bytes, lookup: EndpointLookup, *, max_age: float, clock: Callable[[], float]
    ) -> None:
        self._key = key
        self._lookup = lookup
        self._max_age = max_age
        self._clock = clock

    @staticmethod
    def attested(scope: Scope) -> str | None:
        for name, value in scope.get("headers") or ():
            if name == _ATTESTATION:
                return str(value.decode("latin-1"))
        return None

    async def origin(self, scope: Scope, value: str) -> EndpointOrigin | None:
        placed = verify(
            self._key, value, str(scope.get("method")), _target(scope), self._clock(),
            self._max_age,
        )  # fmt: skip
        if placed is None:
            return None
        vpc_id, endpoint_id, private_ip = placed
        found = await self._lookup(endpoint_id)
        if found is None or found[0] != vpc_id or found[2] not in SERVED:
            return None
        # The origin names the endpoint's service as its actions are prefixed: what each
        # API's authoriser asks for (``cloudwatch`` for the ``monitoring`` endpoint).
        return EndpointOrigin(vpc_id, endpoint_id, found[1], private_ip, SERVED[found[2]])

    async def serve(
        self,
        value: str,
        service: str,
        app: AsgiApp | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Serve an attested request with ``app``, the gateway's app of ``service`` (the
        API the request is for; None when the gateway serves none of that name)."""
        origin = await self.origin(scope, value)
        if origin is None or app is None or origin.service != SERVED.get(service):
            await _refuse(scope, send, service)
            return
        with through_endpoint(origin):
            await app(scope, receive, send)


class EndpointForwarder:
    """A hypervisor agent's endpoint listeners' app: the request placed by its connection
    (``resolve``), then forwarded to the gateway at ``upstream`` with its attestation, the
    body and the answer streamed through."""

    def __init__(
        self,
        resolve: OriginResolver,
        key: bytes,
        upstream: str,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 300.0,
    ) -> None:
        self._resolve = resolve
        self._key = key
        self._clock = clock
        self._client = httpx.AsyncClient(
            base_url=upstream.rstrip("/"), transport=transport, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        server, client = scope.get("server"), scope.get("client")
        placed = (
            self._resolve(str(server[0]), str(client[0]), int(client[1]))
            if server and client
            else None
        )
        if placed is None:
            await _refuse(scope, send)
            return
        method, target = str(scope["method"]), _target(scope)
        headers = [
            (name, value)
            for name, value in scope.get("headers") or ()
            if name != _ATTESTATION and name.lower() not in _HOP
        ]
        headers.append(
            (_ATTESTATION, attest(self._key, placed, method, target, self._clock()).encode())
        )

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        request = self._client.build_request(method, target, headers=headers, content=body())
        try:
            answer = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            log.warning("VPC endpoint: the gateway does not answer: %s", exc)
            await send_response(
                send,
                error_response(
                    S3Error("ServiceUnavailable"), None, target, new_request_id(), method
                ),
                [],
            )
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status_code,
                    "headers": [(k, v) for k, v in answer.headers.raw if k.lower() not in _HOP],
                }
            )
            async for chunk in answer.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await answer.aclose()
