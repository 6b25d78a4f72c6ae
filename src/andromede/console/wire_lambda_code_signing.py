"""AWS Lambda's code signing configurations (decision 0386) as the console's code signing
pages (decision 0396) call them, in process as the signed-in principal through
``wire_lambda.LambdaWire``: Lambda's own authorisation (``lambda:CreateCodeSigningConfig``…),
checks, audit and errors answer them — a publisher that is no profile version, a
configuration in use refused deletion (``ResourceConflictException``). Each answer is read
into the small rows the pages show; nothing here decides what Lambda allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from andromede.console.json_answers import every_page, mapping
from andromede.console.wire_lambda import LambdaWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "POLICIES",
    "CodeSigningRow",
    "attach_config",
    "attached_config",
    "code_signing_config",
    "code_signing_configs",
    "config_functions",
    "delete_code_signing_config",
    "detach_config",
    "put_code_signing_config",
]

_CONFIGS: Final = "/2020-04-22/code-signing-configs"
_LISTED: Final = "50"  # Lambda's page bound
_PAGES: Final = 20  # pages read for a whole list: 1,000 configurations or functions
POLICIES: Final = ("Warn", "Enforce")  # UntrustedArtifactOnDeployment's values


def _config_path(arn: str) -> str:
    # The scope's path is the decoded one Lambda routes on: an ARN's colons stay as they are.
    return f"{_CONFIGS}/{quote(arn, safe=':')}"


def _function_path(name: str) -> str:
    return f"/2020-06-30/functions/{quote(name, safe=':')}/code-signing-config"


@dataclass(frozen=True, slots=True)
class CodeSigningRow:
    """A code signing configuration: its allowed publishers (profile version ARNs) and what
    Lambda does with code they did not sign (``Warn`` or ``Enforce``)."""

    config_id: str
    arn: str
    description: str
    publishers: tuple[str, ...]
    policy: str
    modified: str


def _row(item: Any) -> CodeSigningRow:
    item = mapping(item)
    publishers = mapping(item.get("AllowedPublishers")).get("SigningProfileVersionArns")
    return CodeSigningRow(
        config_id=str(item.get("CodeSigningConfigId", "")),
        arn=str(item.get("CodeSigningConfigArn", "")),
        description=str(item.get("Description") or ""),
        publishers=tuple(str(p) for p in publishers) if isinstance(publishers, list) else (),
        policy=str(
            mapping(item.get("CodeSigningPolicies")).get("UntrustedArtifactOnDeployment") or ""
        ),
        modified=str(item.get("LastModified") or ""),
    )


async def _every(
    wire: LambdaWire, origin: Scope, principal: Principal, path: str, member: str
) -> list[Any]:
    """Every page of a Lambda list, up to ``_PAGES`` of them."""

    async def page(marker: str) -> dict[str, Any]:
        query = {"MaxItems": _LISTED, **({"Marker": marker} if marker else {})}
        return await wire.call(origin, principal, "GET", path, query=query)

    return await every_page(page, member, cursor="NextMarker", pages=_PAGES)


async def code_signing_configs(
    wire: LambdaWire, origin: Scope, principal: Principal
) -> list[CodeSigningRow]:
    items = await _every(wire, origin, principal, _CONFIGS, "CodeSigningConfigs")
    return [_row(item) for item in items]


async def code_signing_config(
    wire: LambdaWire, origin: Scope, principal: Principal, arn: str
) -> CodeSigningRow:
    answer = await wire.call(origin, principal, "GET", _config_path(arn))
    return _row(answer.get("CodeSigningConfig"))


async def config_functions(
    wire: LambdaWire, origin: Scope, principal: Principal, arn: str
) -> list[str]:
    """The ARNs of the functions that use the configuration."""
    path = f"{_config_path(arn)}/functions"
    return [str(f) for f in await _every(wire, origin, principal, path, "FunctionArns")]


async def put_code_signing_config(
    wire: LambdaWire,
    origin: Scope,
    principal: Principal,
    arn: str,
    *,
    publishers: Sequence[str],
    policy: str,
    description: str,
) -> str:
    """CreateCodeSigningConfig (``arn`` "") or UpdateCodeSigningConfig of ``arn``; the
    configuration's ARN."""
    body = {
        "Description": description,
        "AllowedPublishers": {"SigningProfileVersionArns": list(publishers)},
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": policy},
    }
    if arn:
        answer = await wire.call(origin, principal, "PUT", _config_path(arn), body=body)
    else:
        answer = await wire.call(origin, principal, "POST", _CONFIGS, body=body)
    return _row(answer.get("CodeSigningConfig")).arn


async def delete_code_signing_config(
    wire: LambdaWire, origin: Scope, principal: Principal, arn: str
) -> None:
    await wire.request(origin, principal, "DELETE", _config_path(arn))


async def attached_config(wire: LambdaWire, origin: Scope, principal: Principal, name: str) -> str:
    """The ARN of the function's configuration; "" for none."""
    answer = await wire.call(origin, principal, "GET", _function_path(name))
    return str(answer.get("CodeSigningConfigArn") or "")


async def attach_config(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str, arn: str
) -> None:
    body = {"CodeSigningConfigArn": arn}
    await wire.call(origin, principal, "PUT", _function_path(name), body=body)


async def detach_config(wire: LambdaWire, origin: Scope, principal: Principal, name: str) -> None:
    await wire.request(origin, principal, "DELETE", _function_path(name))
