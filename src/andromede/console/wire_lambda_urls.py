"""AWS Lambda's function URLs (decision 0312) and provisioned concurrency (decision 0314), as
the console's URLs and concurrency page (decision 0320) calls them in process as the
signed-in principal through ``wire_lambda.LambdaWire``: Lambda's own authorisation
(``lambda:CreateFunctionUrlConfig``…, ``lambda:PutProvisionedConcurrencyConfig``…), checks,
audit and errors answer them. Each answer is read into the small rows the page shows;
nothing here decides what Lambda allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from andromede.console.wire_lambda import LambdaWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "PUBLIC_URL_STATEMENT",
    "ProvisionedRow",
    "UrlConfigRow",
    "allow_public_url",
    "delete_provisioned",
    "delete_url_config",
    "list_provisioned",
    "list_url_configs",
    "put_provisioned",
    "put_url_config",
]

_URL: Final = "/2021-10-31/functions/{name}/url"
_PROVISIONED: Final = "/2019-09-30/functions/{name}/provisioned-concurrency"
_LISTED: Final = "50"  # Lambda's page bound: a function has few aliases
# The statement id AWS's console gives the public permission of a URL of auth type NONE.
PUBLIC_URL_STATEMENT: Final = "FunctionURLAllowPublicAccess"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _qualifier(arn: str) -> str:
    """The version or alias an ARN names; "$LATEST" for an unqualified one."""
    parts = arn.split(":")
    return parts[7] if len(parts) > 7 and parts[7] else "$LATEST"


@dataclass(frozen=True, slots=True)
class UrlConfigRow:
    """One of ListFunctionUrlConfigs' URLs: what it fronts (``$LATEST`` or an alias), its
    address, auth type, invoke mode and CORS settings (empty when none)."""

    qualifier: str
    url: str
    auth_type: str
    invoke_mode: str
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None
    modified: str = ""


@dataclass(frozen=True, slots=True)
class ProvisionedRow:
    """One of ListProvisionedConcurrencyConfigs' configurations."""

    qualifier: str
    requested: int | None
    allocated: int | None
    available: int | None
    status: str
    reason: str
    modified: str


def _path(template: str, name: str) -> str:
    return template.format(name=quote(name, safe=""))


async def list_url_configs(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str
) -> list[UrlConfigRow]:
    answer = await wire.call(
        origin, principal, "GET", _path(_URL, name) + "s", query={"MaxItems": _LISTED}
    )
    rows = []
    for item in _items(answer.get("FunctionUrlConfigs")):
        cors = _mapping(item.get("Cors"))
        rows.append(
            UrlConfigRow(
                qualifier=_qualifier(str(item.get("FunctionArn", ""))),
                url=str(item.get("FunctionUrl", "")),
                auth_type=str(item.get("AuthType", "")),
                invoke_mode=str(item.get("InvokeMode") or "BUFFERED"),
                allow_origins=_strings(cors.get("AllowOrigins")),
                allow_methods=_strings(cors.get("AllowMethods")),
                allow_headers=_strings(cors.get("AllowHeaders")),
                expose_headers=_strings(cors.get("ExposeHeaders")),
                allow_credentials=cors.get("AllowCredentials") is True,
                max_age=_int(cors.get("MaxAge")),
                modified=str(item.get("LastModifiedTime", "")),
            )
        )
    return sorted(rows, key=lambda row: (row.qualifier != "$LATEST", row.qualifier))


async def put_url_config(
    wire: LambdaWire,
    origin: Scope,
    principal: Principal,
    name: str,
    qualifier: str,
    settings: Mapping[str, Any],
    *,
    create: bool,
) -> None:
    """CreateFunctionUrlConfig (``create``) or UpdateFunctionUrlConfig of ``settings``
    (AuthType, InvokeMode, Cors as Lambda names them) for ``qualifier`` ("" or ``$LATEST``:
    the unqualified function)."""
    query = {"Qualifier": qualifier} if qualifier and qualifier != "$LATEST" else {}
    method = "POST" if create else "PUT"
    await wire.call(origin, principal, method, _path(_URL, name), query=query, body=settings)


async def delete_url_config(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str, qualifier: str
) -> None:
    query = {"Qualifier": qualifier} if qualifier and qualifier != "$LATEST" else {}
    await wire.request(origin, principal, "DELETE", _path(_URL, name), query=query)


async def allow_public_url(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str, qualifier: str
) -> None:
    """AddPermission of ``lambda:InvokeFunctionUrl`` to everyone (``*``) for a URL of auth
    type NONE (``FunctionUrlAuthType`` NONE), as AWS's console adds it: the function public."""
    query = {"Qualifier": qualifier} if qualifier and qualifier != "$LATEST" else {}
    body = {
        "StatementId": PUBLIC_URL_STATEMENT,
        "Action": "lambda:InvokeFunctionUrl",
        "Principal": "*",
        "FunctionUrlAuthType": "NONE",
    }
    path = f"/2015-03-31/functions/{quote(name, safe='')}/policy"
    await wire.call(origin, principal, "POST", path, query=query, body=body)


async def list_provisioned(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str
) -> list[ProvisionedRow]:
    answer = await wire.call(
        origin, principal, "GET", _path(_PROVISIONED, name),
        query={"List": "ALL", "MaxItems": _LISTED},
    )  # fmt: skip
    return [
        ProvisionedRow(
            qualifier=_qualifier(str(item.get("FunctionArn", ""))),
            requested=_int(item.get("RequestedProvisionedConcurrentExecutions")),
            allocated=_int(item.get("AllocatedProvisionedConcurrentExecutions")),
            available=_int(item.get("AvailableProvisionedConcurrentExecutions")),
            status=str(item.get("Status", "")),
            reason=str(item.get("StatusReason") or ""),
            modified=str(item.get("LastModified", "")),
        )
        for item in _items(answer.get("ProvisionedConcurrencyConfigs"))
    ]


async def put_provisioned(
    wire: LambdaWire,
    origin: Scope,
    principal: Principal,
    name: str,
    qualifier: str,
    executions: int | str,
) -> None:
    """PutProvisionedConcurrencyConfig; a value not a number sent as typed, for Lambda to
    refuse in its words."""
    body = {"ProvisionedConcurrentExecutions": executions}
    await wire.call(
        origin, principal, "PUT", _path(_PROVISIONED, name),
        query={"Qualifier": qualifier}, body=body,
    )  # fmt: skip


async def delete_provisioned(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str, qualifier: str
) -> None:
    path = _path(_PROVISIONED, name)
    await wire.request(origin, principal, "DELETE", path, query={"Qualifier": qualifier})
