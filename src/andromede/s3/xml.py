"""S3's XML: the shared writer in S3's namespace, and a hardened reader for request bodies.

Request bodies are parsed with defusedxml (no entities, no DTDs, no external references);
anything it refuses, or that is not the expected document, is ``MalformedXML``. Namespaces are
ignored on input, as S3 does.
"""

from __future__ import annotations

from typing import cast
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from andromede.http.xml import XmlWriter as _XmlWriter
from andromede.http.xml import escape
from andromede.s3.errors import S3Error

__all__ = [
    "S3_NS",
    "XmlWriter",
    "child_text",
    "children",
    "escape",
    "local_name",
    "only_child",
    "parse_xml",
    "stripped_child_text",
]

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


class XmlWriter(_XmlWriter):
    """The shared writer, in S3's namespace unless told otherwise."""

    __slots__ = ()

    def __init__(self, root: str, *, namespace: str | None = S3_NS) -> None:
        super().__init__(root, namespace=namespace)


def parse_xml(body: bytes, expected_root: str) -> Element:
    """Parse a request body whose root element must be ``expected_root`` (any namespace)."""
    if not body.strip():
        raise S3Error("MalformedXML")
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise S3Error("MalformedXML") from exc
    if local_name(root) != expected_root:
        raise S3Error("MalformedXML")
    return root


def local_name(element: Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def children(element: Element, name: str) -> list[Element]:
    return [child for child in element if local_name(child) == name]


def child_text(element: Element, name: str) -> str | None:
    for child in element:
        if local_name(child) == name:
            return child.text or ""
    return None


def only_child(element: Element, name: str) -> Element | None:
    """The child ``name`` of a document where it may appear once (None without it):
    MalformedXML for two or more."""
    found = children(element, name)
    if len(found) > 1:
        raise S3Error("MalformedXML")
    return found[0] if found else None


def stripped_child_text(element: Element, name: str) -> str | None:
    """``child_text`` without the whitespace around it."""
    value = child_text(element, name)
    return None if value is None else value.strip()
