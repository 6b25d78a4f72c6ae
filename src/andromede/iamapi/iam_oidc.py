"""IAM handlers for OpenID Connect providers (decision 0087): the identity providers whose
tokens may assume the account's roles through STS AssumeRoleWithWebIdentity.

Each parses its parameters, calls the identity service for the caller's account, and writes
botocore's result shape; authorisation happened before (see ``iam.py``'s table), on the
provider's ARN ``arn:aws:iam::<account>:oidc-provider/<url>``.
"""

from __future__ import annotations

import contextlib

from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.model import oidc_provider_arn
from andromede.iamapi.iam_common import (
    RESOURCE_TAGS,
    request_tags,
    write_entity_tags,
    write_tag_list,
)
from andromede.iamapi.protocol import Call, iso8601

__all__ = [
    "add_client_id_to_open_id_connect_provider",
    "create_open_id_connect_provider",
    "delete_open_id_connect_provider",
    "get_open_id_connect_provider",
    "list_open_id_connect_provider_tags",
    "list_open_id_connect_providers",
    "oidc_provider_resource",
    "remove_client_id_from_open_id_connect_provider",
    "tag_open_id_connect_provider",
    "untag_open_id_connect_provider",
    "update_open_id_connect_provider_thumbprint",
]

_ARN = "OpenIDConnectProviderArn"


async def oidc_provider_resource(call: Call) -> str:
    """``OpenIDConnectProviderArn`` as given (another account's is then NoSuchEntity), or for
    CreateOpenIDConnectProvider the ARN the new provider will have."""
    arn = call.get(_ARN)
    if arn is None:
        url = call.required("Url")
        return oidc_provider_arn(call.tenant_id, url.removeprefix("https://"))
    with contextlib.suppress(NoSuchEntity, InvalidInput):  # aws:ResourceTag/<key>
        provider = await call.identity.get_open_id_connect_provider(call.tenant_id, arn)
        call.context[RESOURCE_TAGS] = provider.tags
    return arn


async def create_open_id_connect_provider(call: Call) -> None:
    provider = await call.identity.create_open_id_connect_provider(
        call.tenant_id,
        call.required("Url"),
        call.members("ClientIDList"),
        call.members("ThumbprintList"),
        request_tags(call),
    )
    call.result.element("OpenIDConnectProviderArn", provider.arn)
    write_entity_tags(call.result, provider.tags)


async def get_open_id_connect_provider(call: Call) -> None:
    provider = await call.identity.get_open_id_connect_provider(call.tenant_id, call.required(_ARN))
    xml = call.result
    xml.element("Url", provider.url)
    xml.open("ClientIDList")
    for client_id in provider.client_ids:
        xml.element("member", client_id)
    xml.close("ClientIDList")
    xml.open("ThumbprintList")
    for thumbprint in provider.thumbprints:
        xml.element("member", thumbprint)
    xml.close("ThumbprintList")
    xml.element("CreateDate", iso8601(provider.created_at))
    write_entity_tags(xml, provider.tags, always=True)


async def list_open_id_connect_providers(call: Call) -> None:
    providers = await call.identity.list_open_id_connect_providers(call.tenant_id)
    xml = call.result
    xml.open("OpenIDConnectProviderList")
    for provider in providers:
        xml.open("member")
        xml.element("Arn", provider.arn)
        xml.close("member")
    xml.close("OpenIDConnectProviderList")


async def delete_open_id_connect_provider(call: Call) -> None:
    await call.identity.delete_open_id_connect_provider(call.tenant_id, call.required(_ARN))


async def add_client_id_to_open_id_connect_provider(call: Call) -> None:
    await call.identity.add_client_id_to_open_id_connect_provider(
        call.tenant_id, call.required(_ARN), call.required("ClientID")
    )


async def remove_client_id_from_open_id_connect_provider(call: Call) -> None:
    await call.identity.remove_client_id_from_open_id_connect_provider(
        call.tenant_id, call.required(_ARN), call.required("ClientID")
    )


async def update_open_id_connect_provider_thumbprint(call: Call) -> None:
    await call.identity.update_open_id_connect_provider_thumbprint(
        call.tenant_id, call.required(_ARN), call.members("ThumbprintList")
    )


async def tag_open_id_connect_provider(call: Call) -> None:
    await call.identity.tag_open_id_connect_provider(
        call.tenant_id, call.required(_ARN), request_tags(call)
    )


async def untag_open_id_connect_provider(call: Call) -> None:
    await call.identity.untag_open_id_connect_provider(
        call.tenant_id, call.required(_ARN), call.members("TagKeys")
    )


async def list_open_id_connect_provider_tags(call: Call) -> None:
    provider = await call.identity.get_open_id_connect_provider(call.tenant_id, call.required(_ARN))
    write_tag_list(call, provider.tags)
