"""A small XML writer shared by the wire APIs that answer in XML (S3, IAM, STS, EC2).

Responses are built as strings from escaped text — the documents are small and flat, and this is
several times cheaper than building an ElementTree on the hot LIST path.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["XmlWriter", "escape"]

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


class XmlWriter:
    """Appends elements to a list of string pieces; ``document()`` joins them once."""

    __slots__ = ("_parts", "_root")

    def __init__(self, root: str, *, namespace: str | None) -> None:
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
