"""IAM handlers for SAML providers (decision 0095): the SAML 2.0 identity providers whose
signed assertions may assume the account's roles through STS AssumeRoleWithSAML.

Each parses its parameters, calls the identity service for the caller's account, and writes
botocore's result shape; authorisation happened before (see ``iam.py``'s table), on the
provider's ARN ``arn:aws:iam::<account>:saml-provider/<name>``. The 2025 parameters of
encrypted assertions (``AssertionEncryptionMode``, ``AddPrivateKey``, ``RemovePrivateKey``)
and of IAM Identity Center (``ContextProvider``, ``IdentityCenterInstanceArn``…) are refused,
never dropped: a provider created with them would not do what its creator asked.
"""

from __future__ import annotations

import contextlib

from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.model import saml_provider_arn
from andromede.iamapi.iam_common import (
    RESOURCE_TAGS,
    refuse_unsupported,
    request_tags,
    write_entity_tags,
    write_tag_list,
)
from andromede.iamapi.protocol import Call, iso8601

__all__ = [
    "create_saml_provider",
    "delete_saml_provider",
    "get_saml_provider",
    "list_saml_provider_tags",
    "list_saml_providers",
    "saml_provider_resource",
    "tag_saml_provider",
    "untag_saml_provider",
    "update_saml_provider",
]

_ARN = "SAMLProviderArn"
_NOT_OFFERED = (
    "AssertionEncryptionMode",
    "AddPrivateKey",
    "RemovePrivateKey",
    "ContextProvider",
    "IdentityCenterInstanceArn",
    "RemoveContextProvider",
    "RemoveIdentityCenterInstance",
)


async def saml_provider_resource(call: Call) -> str:
    """``SAMLProviderArn`` as given (another account's is then NoSuchEntity), or for
    CreateSAMLProvider the ARN the new provider will have."""
    arn = call.get(_ARN)
    if arn is None:
        return saml_provider_arn(call.tenant_id, call.required("Name"))
    with contextlib.suppress(NoSuchEntity, InvalidInput):  # aws:ResourceTag/<key>
        provider = await call.identity.get_saml_provider(call.tenant_id, arn)
        call.context[RESOURCE_TAGS] = provider.tags
    return arn


async def create_saml_provider(call: Call) -> None:
    refuse_unsupported(call, *_NOT_OFFERED)
    provider = await call.identity.create_saml_provider(
        call.tenant_id,
        call.required("Name"),
        call.required("SAMLMetadataDocument"),
        request_tags(call),
    )
    call.result.element("SAMLProviderArn", provider.arn)
    write_entity_tags(call.result, provider.tags)


async def get_saml_provider(call: Call) -> None:
    provider = await call.identity.get_saml_provider(call.tenant_id, call.required(_ARN))
    xml = call.result
    xml.element("SAMLProviderUUID", provider.uuid)
    xml.element("SAMLMetadataDocument", provider.metadata)
    xml.element("CreateDate", iso8601(provider.created_at))
    if provider.valid_until is not None:
        xml.element("ValidUntil", iso8601(provider.valid_until))
    write_entity_tags(xml, provider.tags, always=True)


async def list_saml_providers(call: Call) -> None:
    providers = await call.identity.list_saml_providers(call.tenant_id)
    xml = call.result
    xml.open("SAMLProviderList")
    for provider in providers:
        xml.open("member")
        xml.element("Arn", provider.arn)
        if provider.valid_until is not None:
            xml.element("ValidUntil", iso8601(provider.valid_until))
        xml.element("CreateDate", iso8601(provider.created_at))
        xml.close("member")
    xml.close("SAMLProviderList")


async def update_saml_provider(call: Call) -> None:
    refuse_unsupported(call, *_NOT_OFFERED)
    provider = await call.identity.update_saml_provider(
        call.tenant_id, call.required(_ARN), call.required("SAMLMetadataDocument")
    )
    call.result.element("SAMLProviderArn", provider.arn)


async def delete_saml_provider(call: Call) -> None:
    await call.identity.delete_saml_provider(call.tenant_id, call.required(_ARN))


async def tag_saml_provider(call: Call) -> None:
    await call.identity.tag_saml_provider(call.tenant_id, call.required(_ARN), request_tags(call))


async def untag_saml_provider(call: Call) -> None:
    await call.identity.untag_saml_provider(
        call.tenant_id, call.required(_ARN), call.members("TagKeys")
    )


async def list_saml_provider_tags(call: Call) -> None:
    provider = await call.identity.get_saml_provider(call.tenant_id, call.required(_ARN))
    write_tag_list(call, provider.tags)
