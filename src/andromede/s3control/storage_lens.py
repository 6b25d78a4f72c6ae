"""The Storage Lens configuration calls of S3 Control (decision 0415): parse, call the
Storage Lens store, serialise.

Put/Get/Delete/ListStorageLensConfigurations and Put/Get/DeleteStorageLensConfigurationTagging
on ``/v20180820/storagelens[/{id}[/tagging]]``, in AWS's REST-XML shapes. Put creates or
replaces (its ``Tags``, when given, replace the tag set; a replacement without them keeps
it); the document's ``Id`` must be the path's; an account holds at most
``s3_max_storage_lens_configurations`` (AWS: 50 a Region, ``TooManyConfigurations``). A
configuration is this Region's: its ARN is ``arn:aws:s3:<region>:<account>:storage-lens/<id>``,
and the listing names this Region as its home. An unknown id is ``NoSuchConfiguration``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Final
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.iam.policy.context import ContextValue
from andromede.s3control.errors import S3ControlError
from andromede.s3control.public_access_block import NAMESPACE
from andromede.s3control.resource_tags import parse_tag_list
from andromede.s3control.storage_lens_xml import (
    CONFIG_ID,
    check_configuration,
    parse_document,
    read_configuration,
    with_arn,
    xml_of,
)
from andromede.storage.storage_lens import (
    LensTags,
    StorageLensQuotaExceeded,
    StorageLensRecord,
    StorageLensStore,
)

__all__ = [
    "PutRequest",
    "StorageLensCalls",
    "lens_condition_keys",
    "parse_put",
    "parse_put_tagging",
]

_XML = [("Content-Type", "application/xml")]
_TOKEN_MAX: Final = 256


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class PutRequest:
    """A ``PutStorageLensConfigurationRequest``: the checked document, its values, its tags
    (None: not given)."""

    __slots__ = ("configuration", "node", "tags")

    def __init__(self, body: bytes) -> None:
        root = parse_document(body, "PutStorageLensConfigurationRequest")
        found: dict[str, Element] = {}
        for child in root:
            name = _local(child.tag)
            if name not in ("StorageLensConfiguration", "Tags") or name in found:
                raise S3ControlError("MalformedXML")
            found[name] = child
        if "StorageLensConfiguration" not in found:
            raise S3ControlError("MalformedXML", "StorageLensConfiguration is required")
        node = check_configuration(found["StorageLensConfiguration"])
        self.configuration = read_configuration(node)
        self.node = node
        self.tags: LensTags | None = parse_tag_list(found["Tags"]) if "Tags" in found else None


def parse_put(body: bytes) -> PutRequest:
    return PutRequest(body)


def parse_put_tagging(body: bytes) -> LensTags:
    """A ``PutStorageLensConfigurationTaggingRequest``'s ``Tags`` (required)."""
    root = parse_document(body, "PutStorageLensConfigurationTaggingRequest")
    nodes = list(root)
    if len(nodes) != 1 or _local(nodes[0].tag) != "Tags":
        raise S3ControlError("MalformedXML")
    return parse_tag_list(nodes[0])


def _no_such(config_id: str) -> S3ControlError:
    return S3ControlError(
        "NoSuchConfiguration", f"The Storage Lens configuration {config_id[:64]} does not exist"
    )


def check_id(config_id: str) -> str:
    if CONFIG_ID.fullmatch(config_id) is None:
        raise S3ControlError(
            "InvalidRequest", "A configuration id is 1 to 64 letters, digits, - and _"
        )
    return config_id


class StorageLensCalls:
    """The seven calls over the Storage Lens store."""

    def __init__(
        self,
        store: StorageLensStore,
        *,
        region: str,
        quota: int,
        page_max: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self._region = region
        self._quota = quota
        self._page_max = page_max
        self._clock = clock

    def arn(self, account: str, config_id: str) -> str:
        return f"arn:aws:s3:{self._region}:{account}:storage-lens/{config_id}"

    async def put(self, account: str, config_id: str, body: bytes) -> Response:
        check_id(config_id)
        request = parse_put(body)
        if request.configuration.config_id != config_id:
            raise S3ControlError(
                "InvalidRequest", "The configuration's Id must be the one the request names"
            )
        record = StorageLensRecord(
            tenant_id=account,
            config_id=config_id,
            is_enabled=request.configuration.is_enabled,
            # The ARN AWS gives back in the document is the service's, whatever was sent.
            document=xml_of(with_arn(request.node, self.arn(account, config_id))),
            tags=request.tags or (),
            updated_at=self._clock(),
        )
        try:
            await self.store.put(record, quota=self._quota, keep_tags=request.tags is None)
        except StorageLensQuotaExceeded as exc:
            raise S3ControlError(
                "TooManyConfigurations",
                f"An account holds at most {self._quota} Storage Lens configurations a Region",
            ) from exc
        return Response(status=200)

    async def _record(self, account: str, config_id: str) -> StorageLensRecord:
        found = await self.store.get(account, check_id(config_id))
        if found is None:
            raise _no_such(config_id)
        return found

    async def get(self, account: str, config_id: str) -> Response:
        found = await self._record(account, config_id)
        xml = XmlWriter("StorageLensConfiguration", namespace=NAMESPACE)
        xml.raw(
            found.document.removeprefix("<StorageLensConfiguration>").removesuffix(
                "</StorageLensConfiguration>"
            )
        )
        return Response(headers=list(_XML), body=xml.document())

    async def delete(self, account: str, config_id: str) -> Response:
        if not await self.store.delete(account, check_id(config_id)):
            raise _no_such(config_id)
        return Response(status=204)

    async def list(self, account: str, query: str) -> Response:
        token = parse_qs(query, keep_blank_values=True).get("nextToken", [""])[-1]
        after = _decode_token(token) if token else None
        page = await self.store.list(account, after=after, limit=self._page_max + 1)
        xml = XmlWriter("ListStorageLensConfigurationResult", namespace=NAMESPACE)
        if len(page) > self._page_max:
            page = page[: self._page_max]
            xml.element("NextToken", _encode_token(page[-1].config_id))
        for record in page:
            xml.open("StorageLensConfiguration")
            xml.element("Id", record.config_id)
            xml.element("StorageLensArn", record.arn(self._region))
            xml.element("HomeRegion", self._region)
            xml.element("IsEnabled", record.is_enabled)
            xml.close("StorageLensConfiguration")
        return Response(headers=list(_XML), body=xml.document())

    async def put_tags(self, account: str, config_id: str, body: bytes) -> Response:
        tags = parse_put_tagging(body)
        if not await self.store.set_tags(account, check_id(config_id), tags):
            raise _no_such(config_id)
        return Response(status=200)

    async def get_tags(self, account: str, config_id: str) -> Response:
        found = await self._record(account, config_id)
        xml = XmlWriter("GetStorageLensConfigurationTaggingResult", namespace=NAMESPACE)
        xml.open("Tags")
        for key, value in found.tags:
            xml.open("Tag")
            xml.element("Key", key)
            xml.element("Value", value)
            xml.close("Tag")
        xml.close("Tags")
        return Response(headers=list(_XML), body=xml.document())

    async def delete_tags(self, account: str, config_id: str) -> Response:
        if not await self.store.set_tags(account, check_id(config_id), ()):
            raise _no_such(config_id)
        return Response(status=204)

    async def current_tags(self, account: str, config_id: str) -> LensTags:
        """The configuration's tags, for ``aws:ResourceTag`` (none when it does not exist)."""
        if CONFIG_ID.fullmatch(config_id) is None:
            return ()
        found = await self.store.get(account, config_id)
        return () if found is None else found.tags


def _encode_token(config_id: str) -> str:
    return base64.urlsafe_b64encode(config_id.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        after = base64.urlsafe_b64decode(token[:_TOKEN_MAX].encode()).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise S3ControlError("InvalidRequest", "The NextToken is not valid") from exc
    if len(token) > _TOKEN_MAX or CONFIG_ID.fullmatch(after) is None:
        raise S3ControlError("InvalidRequest", "The NextToken is not valid")
    return after


async def lens_condition_keys(
    operation_name: str, calls: StorageLensCalls, account: str, config_id: str, body: bytes
) -> dict[str, ContextValue]:
    """The tag condition keys of a Storage Lens call: ``aws:RequestTag/<key>`` and
    ``aws:TagKeys`` for the tags PutStorageLensConfiguration (its ``Tags``) or
    PutStorageLensConfigurationTagging sets, and ``aws:ResourceTag/<key>`` of an existing
    configuration on every call naming it. Read leniently: a body that cannot be read gives
    no key (the call's handler answers its error once the caller may learn it)."""
    keys: dict[str, ContextValue] = {}
    if not config_id:
        return keys
    current = await calls.current_tags(account, config_id)
    keys.update({f"aws:ResourceTag/{k}": v for k, v in current})
    tags: LensTags | None = None
    try:
        if operation_name == "PutStorageLensConfiguration":
            tags = parse_put(body).tags
        elif operation_name == "PutStorageLensConfigurationTagging":
            tags = parse_put_tagging(body)
    except S3ControlError:
        return keys
    if tags is not None:
        keys.update({f"aws:RequestTag/{k}": v for k, v in tags})
        keys["aws:TagKeys"] = [k for k, _ in tags]
    return keys
