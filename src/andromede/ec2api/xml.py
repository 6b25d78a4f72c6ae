"""XML fragments EC2 answers share (tag sets, the ``<return>true</return>`` of calls that
return nothing else)."""

from __future__ import annotations

from andromede.compute.model import Tags
from andromede.http.xml import XmlWriter

__all__ = ["write_return", "write_tags"]


def write_tags(xml: XmlWriter, tags: Tags, name: str = "tagSet") -> None:
    xml.open(name)
    for key, value in tags:
        xml.open("item")
        xml.element("key", key)
        xml.element("value", value)
        xml.close("item")
    xml.close(name)


def write_return(xml: XmlWriter) -> None:
    xml.element("return", True)
