"""S3's XML: a small writer for responses and a hardened reader for request bodies.

Responses are built as strings from escaped text — the documents are small and flat, and this is
several times cheaper than building an ElementTree on the hot LIST path. Request bodies are parsed
with defusedxml (no entities, no DTDs, no external references); anything it refuses, or that is not
the expected document, is ``MalformedXML``. Namespaces are ignored on input, as S3 does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from andromede.s3.errors import S3Error

__all__ = [
    "S3_NS",
    "XmlWriter",
    "child_text",
    "children",
    "escape",
    "local_name",
    "parse_xml",
]

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


class XmlWriter:
    """Appends elements to a list of string pieces; ``document()`` joins them once."""

    __slots__ = ("_parts", "_root")

    def __init__(self, root: str, *, namespace: str | None = S3_NS) -> None:
        attrs = f' xmlns="{namespace}"' if namespace else ""
        self._parts: list[str] = [_DECLARATION, f"<{root}{attrs}>"]
        self._root = root

    def element(self, name: str, text: str | int | bool | None) -> None:
        """``<name>text</name>``; None writes nothing, bools are lower-case as S3 writes them."""
        if text is None:
            return
        if isinstance(text, bool):
            value = "true" if text else "false"
        else:
            value = escape(str(text))
        self._parts.append(f"<{name}>{value}</{name}>")

    def text(self, value: str) -> None:
        """Character data inside the element opened last (or the root)."""
        self._parts.append(escape(value))

    def raw(self, fragment: str) -> None:
        """A fragment the caller built and escaped itself (hot loops only)."""
        self._parts.append(fragment)

    def open(self, name: str) -> None:
        self._parts.append(f"<{name}>")

    def close(self, name: str) -> None:
        self._parts.append(f"</{name}>")

    def elements(self, name: str, values: Iterable[str]) -> None:
        for value in values:
            self.element(name, value)

    def document(self) -> bytes:
        return ("".join(self._parts) + f"</{self._root}>").encode()


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
