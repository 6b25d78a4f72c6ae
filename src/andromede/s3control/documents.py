"""An S3 Control request's XML document: its body parsed safely (defusedxml) into its root,
checked to be the element the call takes; element names without their namespace (SDKs send
S3 Control's, some none). Anything else is ``MalformedXML``."""

from __future__ import annotations

from typing import cast
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.s3control.errors import S3ControlError

__all__ = ["local_name", "request_document"]


def local_name(tag: str) -> str:
    """An element's name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def request_document(body: bytes, root_name: str) -> Element:
    """The root of a request body that must be a ``root_name`` document."""
    if not body.strip():
        raise S3ControlError("MalformedXML")
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise S3ControlError("MalformedXML") from exc
    if local_name(root.tag) != root_name:
        raise S3ControlError("MalformedXML")
    return root
