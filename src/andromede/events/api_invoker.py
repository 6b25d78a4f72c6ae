"""The invocation of an API destination by a rule's target (decision 0200): the delivery
queue's worker hands the (transformed) event here, and :class:`ApiDestinationInvoker` sends
it over HTTP as EventBridge does.

- **Who may.** The target's ``RoleArn`` must be a role of the account trusting
  ``events.amazonaws.com`` whose policies allow ``events:InvokeApiDestination`` on the
  destination (``role_allows``, given by the wiring: contexts do not import IAM), the role
  taken for ``source_arn`` — the rule, or the pipe — as its trust policy's ``aws:SourceArn``
  (decision 0321); otherwise
  the delivery fails for good (``NO_PERMISSIONS``), to the dead-letter queue.
- **The request.** The destination's method to its endpoint, each ``*`` of it replaced in
  order by the target's ``PathParameterValues``; the target's headers and query string, then
  the connection's (which win, as AWS documents); the connection's body parameters merged into
  a JSON object body; the event as the body of POST, PUT and PATCH; the connection's
  authorization: ``Authorization: Basic``, the API key's header, or ``Authorization: Bearer``
  with the OAuth token. The URL is checked as the platform's other outbound HTTP is
  (:func:`andromede.http.outbound.pin`: public addresses or the operator's networks, then that
  address connected to), within ``timeout`` seconds (AWS: 5).
- **OAuth.** The token comes from the AuthorizationEndpoint with the client id and secret
  (``Authorization: Basic``, ``grant_type=client_credentials``, the OAuthHttpParameters), is
  kept in this gateway until its ``expires_in`` (a minute early), and fetched again once when
  the endpoint answers 401. A refusal of the authorization endpoint deauthorizes the
  connection, as AWS does.
- **Outcomes.** 2xx delivered; 408, 409, 429, 5xx and transport failures retried by the queue per
  the target's RetryPolicy; any other 4xx refused for good (AWS: not retried), to the DLQ.
- **Rate.** Each destination's ``InvocationRateLimitPerSecond`` paces this gateway's
  invocations (the next free slot taken, then awaited, as SNS's ``maxReceivesPerSecond``
  does); gateways do not share the count, so N gateways may send up to N times the rate
  (decision 0200 says why).
- **Regions.** A destination is read from, and an OAuth connection's state written to, the
  connections of the Region its ARN names (``regions``, decision 0400): a rule of eu-de-1
  invokes eu-de-1's destination through eu-de-1's connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

import httpx

from andromede.events.connection_model import AuthType, Connection, ConnectionState
from andromede.events.connections import ConnectionService
from andromede.events.dispatcher import DeliveryRefused
from andromede.events.errors import EventsError
from andromede.events.model import Target, parse_arn
from andromede.http.outbound import Network, OutboundError, TlsContextOnDemand, pin

__all__ = ["ApiDestinationInvoker", "InvocationPolicy", "RoleAllows"]

_SETTING: Final = "events_api_destination_allow_cidrs"
_USER_AGENT: Final = "Amazon/EventBridge/ApiDestinations"
_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH"})

# (tenant, role ARN, destination ARN) → may the role invoke it.
# (account, role ARN, destination ARN, the rule's or pipe's ARN the role is assumed for)
RoleAllows = Callable[[str, str, str, str | None], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class InvocationPolicy:
    timeout: float = 5.0
    max_response: int = 64 * 1024
    allowed: Sequence[Network] = ()
    allow_http: bool = False


class _Retryable(Exception):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"the endpoint answered {status}")


class _TokenRefused(Exception):
    pass


class ApiDestinationInvoker:
    def __init__(
        self,
        connections: ConnectionService,
        role_allows: RoleAllows | None,
        policy: InvocationPolicy | None = None,
    ) -> None:
        self._connections = connections
        # Decision 0400: every declared Region's connections by name (``connections``, the
        # default Region's, among them or not: it answers an ARN of no other Region).
        self.regions: dict[str, ConnectionService] = {}
        self._role_allows = role_allows
        self._policy = policy or InvocationPolicy()
        # One verification context for every invocation (loading the CA store costs tens of
        # milliseconds: not once per request), made at the first https one.
        self._tls = TlsContextOnDemand(None)
        # OAuth tokens of this gateway: connection ARN → (token, monotonic expiry).
        self._tokens: dict[str, tuple[str, float]] = {}
        # Each destination's next free slot (monotonic seconds) under its rate.
        self._next: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def send(
        self,
        tenant_id: str,
        target: Target,
        message: str,
        *,
        source_arn: str | None = None,
        trace: str | None = None,
    ) -> None:
        await self.invoke(
            tenant_id, target, message, answer_limit=0, source_arn=source_arn, trace=trace
        )

    async def invoke(
        self,
        tenant_id: str,
        target: Target,
        message: str,
        *,
        answer_limit: int,
        source_arn: str | None = None,
        trace: str | None = None,
    ) -> bytes:
        """:meth:`send`, and the endpoint's answer (its first ``answer_limit`` bytes at most:
        a longer one is refused, ``ResponseTooLarge``), as a pipe's enrichment reads it
        (decision 0268). ``trace``: the event's trace header, sent as ``X-Amzn-Trace-Id`` as
        EventBridge passes it on (decision 0351)."""
        try:
            service = self._connections_of(target.arn)
            destination, connection = await service.invocation(tenant_id, target.arn)
        except EventsError as exc:
            raise DeliveryRefused("NO_RESOURCE", str(exc)) from exc
        role = target.spec.get("RoleArn")
        # No judge of roles (a gateway built without IAM): nobody may, rather than anybody.
        if not (
            self._role_allows is not None
            and isinstance(role, str)
            and await self._role_allows(tenant_id, role, destination.arn, source_arn)
        ):
            raise DeliveryRefused(
                "NO_PERMISSIONS",
                f"the target's role may not events:InvokeApiDestination on {destination.arn}",
            )
        if connection.auth is None or connection.state == ConnectionState.DEAUTHORIZED:
            raise DeliveryRefused("ConnectionDeauthorized", f"{connection.arn} is deauthorized")
        params = target.spec.get("HttpParameters") or {}
        url = _url(destination.endpoint, params, connection)
        headers = {
            "User-Agent": _USER_AGENT,
            **{str(k): str(v) for k, v in (params.get("HeaderParameters") or {}).items()},
            **_pairs(connection, "HeaderParameters"),
            **({"X-Amzn-Trace-Id": trace} if trace else {}),
        }
        body: bytes | None = None
        if destination.method in _WITH_BODY:
            body = _body(message, connection).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        await self._pace(destination.arn, destination.rate)
        oauth = (connection.auth or {}).get("OAuthParameters") or {}
        https = any(
            str(each).startswith("https:") for each in (url, oauth.get("AuthorizationEndpoint"))
        )
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self._policy.timeout),
            follow_redirects=False,
            verify=self._tls.get() if https else False,
        ) as client:
            for fresh in (False, True):
                auth = await self._authorization(client, connection, fresh=fresh)
                status, answer = await self._request(
                    client, destination.method, url, {**headers, **auth}, body, answer_limit
                )
                if status == 401 and connection.auth_type == AuthType.OAUTH and not fresh:
                    continue  # the token expired early or was revoked: one more, afresh
                break
        if 200 <= status < 300:
            return answer
        if status in (408, 409, 429) or status >= 500:
            raise _Retryable(status)
        raise DeliveryRefused(f"HTTP{status}", f"the endpoint answered {status}")

    def _connections_of(self, arn: str) -> ConnectionService:
        """The connections of the Region ``arn`` names; the default Region's otherwise (an
        ARN of an undeclared Region then finds nothing there: ``NO_RESOURCE``)."""
        parts = parse_arn(arn)
        return self.regions.get("" if parts is None else parts[1], self._connections)

    async def _pace(self, key: str, per_second: int) -> None:
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + 1.0 / per_second
            if len(self._next) > 10_000:  # forget the idle ones
                self._next = {k: v for k, v in self._next.items() if v > now}
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _request(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        answer_limit: int,
    ) -> tuple[int, bytes]:
        schemes = ("http", "https") if self._policy.allow_http else ("https",)
        try:
            pinned = await pin(url, self._policy.allowed, _SETTING, schemes=schemes)
        except OutboundError as exc:
            raise DeliveryRefused("InvalidEndpoint", str(exc)) from exc
        https = urlsplit(url).scheme == "https"
        last: Exception | None = None
        for address in pinned.targets:
            try:
                async with client.stream(
                    method,
                    address,
                    content=body,
                    headers={**headers, "Host": pinned.host},
                    extensions=pinned.extensions if https else {},
                ) as response:
                    answer = await _bounded(response, answer_limit)
            except httpx.TransportError as exc:
                last = exc
                continue
            return response.status_code, answer
        if last is None:
            raise _Retryable(0)
        # Its kind only: httpx may put the URL, the connection's query parameters with it,
        # in a message the queue keeps as the delivery's last error and the log shows.
        raise type(last)(type(last).__name__) from None

    async def _authorization(
        self, client: httpx.AsyncClient, connection: Connection, *, fresh: bool
    ) -> dict[str, str]:
        auth = connection.auth or {}
        if connection.auth_type == AuthType.BASIC:
            basic = auth["BasicAuthParameters"]
            pair = f"{basic['Username']}:{basic['Password']}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if connection.auth_type == AuthType.API_KEY:
            key = auth["ApiKeyAuthParameters"]
            return {key["ApiKeyName"]: key["ApiKeyValue"]}
        held = self._tokens.get(connection.arn)
        if held is not None and not fresh and held[1] > time.monotonic():
            return {"Authorization": f"Bearer {held[0]}"}
        try:
            token, lifetime = await self._fetch_token(client, auth["OAuthParameters"])
        except _TokenRefused as exc:
            await self._connections_of(connection.arn).authorized(connection, str(exc))
            raise DeliveryRefused("ConnectionDeauthorized", str(exc)) from exc
        self._tokens[connection.arn] = (token, time.monotonic() + max(lifetime - 60, 1))
        await self._connections_of(connection.arn).authorized(connection, None)
        return {"Authorization": f"Bearer {token}"}

    async def _fetch_token(
        self, client: httpx.AsyncClient, oauth: dict[str, Any]
    ) -> tuple[str, float]:
        client_params = oauth["ClientParameters"]
        pair = f"{client_params['ClientID']}:{client_params['ClientSecret']}".encode()
        extra = oauth.get("OAuthHttpParameters") or {}
        headers = {
            "User-Agent": _USER_AGENT,
            "Authorization": "Basic " + base64.b64encode(pair).decode(),
            **{p["Key"]: p.get("Value", "") for p in extra.get("HeaderParameters", [])},
        }
        form = {"grant_type": "client_credentials"}
        form.update({p["Key"]: p.get("Value", "") for p in extra.get("BodyParameters", [])})
        query = {p["Key"]: p.get("Value", "") for p in extra.get("QueryStringParameters", [])}
        url = oauth["AuthorizationEndpoint"]
        method = oauth.get("HttpMethod", "POST")
        if method == "GET":
            query.update(form)
            body = None
        else:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if query:
            url += ("&" if urlsplit(url).query else "?") + urlencode(query)
        schemes = ("http", "https") if self._policy.allow_http else ("https",)
        try:
            pinned = await pin(url, self._policy.allowed, _SETTING, schemes=schemes)
        except OutboundError as exc:
            raise _TokenRefused(f"the authorization endpoint is refused: {exc}") from exc
        https = urlsplit(url).scheme == "https"
        try:
            response = await client.request(
                method,
                pinned.targets[0],
                content=body,
                headers={**headers, "Host": pinned.host},
                extensions=pinned.extensions if https else {},
            )
        except httpx.TransportError as exc:  # its kind only, as in _request
            raise type(exc)(type(exc).__name__) from None
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise _Retryable(response.status_code)  # the endpoint's trouble: try later
        if not 200 <= response.status_code < 300:
            raise _TokenRefused(f"the authorization endpoint answered {response.status_code}")
        if len(response.content) > self._policy.max_response:
            raise _TokenRefused("the authorization endpoint's answer is too large")
        try:
            data = json.loads(response.content)
            token = data["access_token"]
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise _TokenRefused("the authorization endpoint gave no access_token") from exc
        if not isinstance(token, str) or not token:
            raise _TokenRefused("the authorization endpoint gave no access_token")
        return token, lifetime


async def _bounded(response: httpx.Response, limit: int) -> bytes:
    """The answer's body, read only when asked for (``limit`` > 0), and no further."""
    if limit <= 0 or not 200 <= response.status_code < 300:
        return b""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) > limit:
            raise DeliveryRefused(
                "ResponseTooLarge", f"the endpoint's answer is larger than {limit} bytes"
            )
    return bytes(kept)


def _pairs(connection: Connection, kind: str) -> dict[str, str]:
    items = ((connection.auth or {}).get("InvocationHttpParameters") or {}).get(kind) or []
    return {str(p["Key"]): str(p.get("Value", "")) for p in items}


def _url(endpoint: str, params: dict[str, Any], connection: Connection) -> str:
    values = [str(v) for v in params.get("PathParameterValues") or []]
    parts = endpoint.split("*")
    if len(values) != len(parts) - 1:
        raise DeliveryRefused(
            "INVALID_PARAMETER",
            f"the endpoint has {len(parts) - 1} path parameters, the target {len(values)}",
        )
    url = parts[0] + "".join(
        quote(v, safe="") + rest for v, rest in zip(values, parts[1:], strict=True)
    )
    query = {
        **{str(k): str(v) for k, v in (params.get("QueryStringParameters") or {}).items()},
        **_pairs(connection, "QueryStringParameters"),
    }
    if query:
        url += ("&" if urlsplit(url).query else "?") + urlencode(query)
    return url


def _body(message: str, connection: Connection) -> str:
    extra = _pairs(connection, "BodyParameters")
    if not extra:
        return message
    try:
        document = json.loads(message)
    except ValueError:
        return message
    if not isinstance(document, dict):
        return message
    return json.dumps({**document, **extra}, separators=(",", ":"))
