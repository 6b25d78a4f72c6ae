"""XML fragments every EC2 answer shares (tag sets)."""

from __future__ import annotations

from andromede.compute.model import Tags
from andromede.http.xml import XmlWriter

__all__ = ["write_tags"]


def write_tags(xml: XmlWriter, tags: Tags, name: str = "tagSet") -> None:
    xml.open(name)
    for key, value in tags:
        xml.open("item")
        xml.element("key", key)
        xml.element("value", value)
        xml.close("item")
    xml.close(name)
