"""EventBridge's connections and API destinations as values (decision 0200), the checks of
their members and the shapes DescribeConnection answers. Pure: no I/O.

A connection keeps apart what may be shown (:attr:`Connection.public`: its authorization
type, user name, API key name, OAuth client id and endpoint, the invocation parameters not
marked secret) and what never is (:attr:`Connection.secret`: the password, the API key's
value, the OAuth client secret and every parameter whose ``IsValueSecret`` is true). The
stores seal the second under the tenant's key; DescribeConnection answers from the first.

ARNs are AWS's: ``connection/<name>/<uuid>`` and ``api-destination/<name>/<uuid>``, the
uuid making a recreated resource another one; the connection's secret ARN is the
``events!connection/<name>/<uuid>`` Secrets Manager name AWS gives it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from andromede.events.errors import ValidationError

__all__ = [
    "HTTP_METHODS",
    "ApiDestination",
    "AuthType",
    "Connection",
    "ConnectionState",
    "check_auth",
    "check_endpoint",
    "check_http_parameters",
    "check_resource_name",
    "merge_auth",
]

_NAME: Final = re.compile(r"[\.\-_A-Za-z0-9]{1,64}")
HTTP_METHODS: Final = frozenset({"POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
_OAUTH_METHODS: Final = frozenset({"GET", "POST", "PUT"})
_KINDS: Final = ("HeaderParameters", "QueryStringParameters", "BodyParameters")


class AuthType:
    BASIC: Final = "BASIC"
    API_KEY: Final = "API_KEY"
    OAUTH: Final = "OAUTH_CLIENT_CREDENTIALS"
    ALL: Final = frozenset({"BASIC", "API_KEY", "OAUTH_CLIENT_CREDENTIALS"})
    MEMBER: Final = {
        "BASIC": "BasicAuthParameters",
        "API_KEY": "ApiKeyAuthParameters",
        "OAUTH_CLIENT_CREDENTIALS": "OAuthParameters",
    }


class ConnectionState:
    AUTHORIZED: Final = "AUTHORIZED"
    AUTHORIZING: Final = "AUTHORIZING"
    DEAUTHORIZED: Final = "DEAUTHORIZED"
    ALL: Final = frozenset(
        {
            "CREATING",
            "UPDATING",
            "DELETING",
            "AUTHORIZED",
            "DEAUTHORIZED",
            "AUTHORIZING",
            "DEAUTHORIZING",
            "ACTIVE",
            "FAILED_CONNECTIVITY",
        }
    )


def check_resource_name(name: str, member: str = "name") -> str:
    if not _NAME.fullmatch(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name[:300]}' at '{member}' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "[\\.\\-_A-Za-z0-9]+"
        )
    return name


def _text(value: Any, member: str, limit: int = 512, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise ValidationError(f"{member} must be a string of 1 to {limit} characters.")
    return value


def check_http_parameters(value: Any, member: str, *, limit: int) -> dict[str, Any]:
    """InvocationHttpParameters or OAuthHttpParameters: lists of ``{Key, Value,
    IsValueSecret}`` of each kind, ``limit`` of each at most."""
    if not isinstance(value, dict) or set(value) - set(_KINDS):
        raise ValidationError(f"{member} must hold only {', '.join(_KINDS)}.")
    checked: dict[str, Any] = {}
    for kind in _KINDS:
        items = value.get(kind)
        if items is None:
            continue
        if not isinstance(items, list) or len(items) > limit:
            raise ValidationError(f"{member}.{kind} must be a list of {limit} at most.")
        kept = []
        for item in items:
            if not isinstance(item, dict) or set(item) - {"Key", "Value", "IsValueSecret"}:
                raise ValidationError(f"Each of {member}.{kind} must be a Key and a Value.")
            key = _text(item.get("Key"), f"{member}.{kind}.Key")
            text = _text(item.get("Value", ""), f"{member}.{kind}.Value", required=False)
            secret = item.get("IsValueSecret", False)
            if not isinstance(secret, bool):
                raise ValidationError(f"IsValueSecret of {member}.{kind} must be a boolean.")
            kept.append({"Key": key, "Value": text, "IsValueSecret": secret})
        checked[kind] = kept
    return checked


def check_endpoint(url: Any, member: str, *, allow_http: bool) -> str:
    """An https URL (http too where the operator allows it) of 2,048 characters at most."""
    text = _text(url, member, 2048)
    schemes = ("https://", "http://") if allow_http else ("https://",)
    if not text.startswith(schemes) or any(c.isspace() for c in text):
        raise ValidationError(
            f"{member} must be an https:// URL"
            + (" (or http://, as this platform allows)." if allow_http else ".")
        )
    return text


def check_auth(
    auth_type: str, params: Any, *, limit: int, allow_http: bool, partial: bool = False
) -> dict[str, Any]:
    """AuthParameters for ``auth_type`` (checked as AWS does: the type's own member, and
    InvocationHttpParameters); ``partial``: UpdateConnection's, members may be absent."""
    if not isinstance(params, dict):
        raise ValidationError("AuthParameters must be an object.")
    own = AuthType.MEMBER[auth_type]
    others = set(params) - {own, "InvocationHttpParameters", "ConnectivityParameters"}
    if others:
        raise ValidationError(
            f"{sorted(others)[0][:64]} is not valid for authorization type {auth_type}."
        )
    if "ConnectivityParameters" in params:
        raise ValidationError("ConnectivityParameters (private APIs) are not served here.")
    checked: dict[str, Any] = {}
    if "InvocationHttpParameters" in params:
        checked["InvocationHttpParameters"] = check_http_parameters(
            params["InvocationHttpParameters"], "InvocationHttpParameters", limit=limit
        )
    given = params.get(own)
    if given is None:
        if not partial:
            raise ValidationError(f"AuthParameters.{own} is required for {auth_type}.")
        return checked
    if not isinstance(given, dict):
        raise ValidationError(f"AuthParameters.{own} must be an object.")
    need = not partial
    if auth_type == AuthType.BASIC:
        fields = {"Username": 512, "Password": 512}
        checked[own] = _members(given, own, fields, need)
    elif auth_type == AuthType.API_KEY:
        fields = {"ApiKeyName": 512, "ApiKeyValue": 512}
        checked[own] = _members(given, own, fields, need)
    else:
        extra = set(given) - {
            "ClientParameters",
            "AuthorizationEndpoint",
            "HttpMethod",
            "OAuthHttpParameters",
        }
        if extra:
            raise ValidationError(f"{sorted(extra)[0][:64]} is not a member of {own}.")
        oauth: dict[str, Any] = {}
        client = given.get("ClientParameters")
        if client is not None or need:
            if not isinstance(client, dict):
                raise ValidationError(f"{own}.ClientParameters must be an object.")
            oauth["ClientParameters"] = _members(
                client, "ClientParameters", {"ClientID": 512, "ClientSecret": 512}, need
            )
        if "AuthorizationEndpoint" in given or need:
            oauth["AuthorizationEndpoint"] = check_endpoint(
                given.get("AuthorizationEndpoint"), "AuthorizationEndpoint", allow_http=allow_http
            )
        if "HttpMethod" in given or need:
            method = given.get("HttpMethod")
            if method not in _OAUTH_METHODS:
                raise ValidationError("OAuthParameters.HttpMethod must be GET, POST or PUT.")
            oauth["HttpMethod"] = method
        if "OAuthHttpParameters" in given:
            oauth["OAuthHttpParameters"] = check_http_parameters(
                given["OAuthHttpParameters"], "OAuthHttpParameters", limit=limit
            )
        checked[own] = oauth
    return checked


def _members(given: dict[str, Any], member: str, fields: dict[str, int], need: bool) -> Any:
    extra = set(given) - set(fields)
    if extra:
        raise ValidationError(f"{sorted(extra)[0][:64]} is not a member of {member}.")
    return {
        name: _text(given.get(name), f"{member}.{name}", limit)
        for name, limit in fields.items()
        if need or name in given
    }


def merge_auth(held: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """UpdateConnection's AuthParameters over the held ones: each member given replaces the
    held one, objects merged member by member (a parameters' list is replaced whole)."""
    merged = copy.deepcopy(held)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_auth(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


_SECRET_MEMBERS: Final = frozenset({"Password", "ApiKeyValue", "ClientSecret"})


def split_auth(auth: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what DescribeConnection may show, what is sealed): the secret members out of the
    first, and every parameter marked ``IsValueSecret`` without its value."""

    def public(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("IsValueSecret") is True and "Key" in node:
                return {"Key": node["Key"], "IsValueSecret": True}
            return {k: public(v) for k, v in node.items() if k not in _SECRET_MEMBERS}
        if isinstance(node, list):
            return [public(item) for item in node]
        return node

    return public(auth), auth


@dataclass(frozen=True, slots=True)
class Connection:
    """``auth``: the whole AuthParameters (secrets included; None once deauthorized, the
    credentials gone as on AWS). The store seals it; only :meth:`public` leaves the API."""

    tenant_id: str
    region: str
    name: str
    uuid: str
    auth_type: str
    auth: dict[str, Any] | None
    state: str = ConnectionState.AUTHORIZED
    description: str | None = None
    state_reason: str | None = None
    shown: dict[str, Any] = field(default_factory=dict)  # the public AuthParameters
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_authorized: datetime | None = None
    # The Secrets Manager secret holding the AuthParameters (decision 0204); None: a
    # connection of before it, its credentials still sealed in the events store until its
    # next UpdateConnection or DeauthorizeConnection moves them into a secret.
    secret_ref: str | None = None
    kms_key: str | None = None  # KmsKeyIdentifier, as given

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.tenant_id}:connection/{self.name}/{self.uuid}"

    @property
    def secret_name(self) -> str:
        """The name AWS gives the connection's secret in the customer's Secrets Manager."""
        return f"events!connection/{self.name}/{self.uuid}"

    @property
    def secret_arn(self) -> str:
        if self.secret_ref is not None:
            return self.secret_ref
        return (  # a connection of before decision 0204: AWS's shape, no secret behind it
            f"arn:aws:secretsmanager:{self.region}:{self.tenant_id}:secret:events!connection/"
            f"{self.name}/{self.uuid}-{self.uuid[:6]}"
        )

    def with_auth(self, auth: dict[str, Any] | None) -> Connection:
        shown = self.shown if auth is None else split_auth(auth)[0]
        return replace(self, auth=auth, shown=shown)

    def document(self) -> str:
        """The stored columns' complement, in clear: nothing secret."""
        return json.dumps(
            {
                "Description": self.description,
                "StateReason": self.state_reason,
                "Shown": self.shown,
                "Modified": self.modified.timestamp(),
                "LastAuthorized": None
                if self.last_authorized is None
                else self.last_authorized.timestamp(),
                "SecretArn": self.secret_ref,
                "KmsKeyIdentifier": self.kms_key,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_row(region: str, m: Any, auth: dict[str, Any] | None) -> Connection:
        data = json.loads(m["document"])
        last = data.get("LastAuthorized")
        return Connection(
            m["tenant_id"],
            region,
            m["connection_name"],
            m["uuid"],
            m["auth_type"],
            auth,
            state=m["state"],
            description=data.get("Description"),
            state_reason=data.get("StateReason"),
            shown=data.get("Shown") or {},
            created=datetime.fromtimestamp(m["created"] / 1e6, UTC),
            modified=datetime.fromtimestamp(float(data["Modified"]), UTC),
            last_authorized=None if last is None else datetime.fromtimestamp(float(last), UTC),
            secret_ref=data.get("SecretArn"),
            kms_key=data.get("KmsKeyIdentifier"),
        )


@dataclass(frozen=True, slots=True)
class ApiDestination:
    tenant_id: str
    region: str
    name: str
    uuid: str
    connection_name: str
    connection_arn: str
    endpoint: str
    method: str
    rate: int = 300
    description: str | None = None
    state: str = "ACTIVE"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def arn(self) -> str:
        return (
            f"arn:aws:events:{self.region}:{self.tenant_id}:api-destination/{self.name}/{self.uuid}"
        )

    def document(self) -> str:
        return json.dumps(
            {
                "ConnectionArn": self.connection_arn,
                "InvocationEndpoint": self.endpoint,
                "HttpMethod": self.method,
                "InvocationRateLimitPerSecond": self.rate,
                "Description": self.description,
                "State": self.state,
                "Modified": self.modified.timestamp(),
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_row(region: str, m: Any) -> ApiDestination:
        data = json.loads(m["document"])
        return ApiDestination(
            m["tenant_id"],
            region,
            m["destination_name"],
            m["uuid"],
            m["connection_name"],
            data["ConnectionArn"],
            data["InvocationEndpoint"],
            data["HttpMethod"],
            int(data["InvocationRateLimitPerSecond"]),
            description=data.get("Description"),
            state=data.get("State", "ACTIVE"),
            created=datetime.fromtimestamp(m["created"] / 1e6, UTC),
            modified=datetime.fromtimestamp(float(data["Modified"]), UTC),
        )
