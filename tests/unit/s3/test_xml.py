"""XML: escaping on output, hostile documents refused on input."""

from __future__ import annotations

import pytest

from andromede.s3.errors import S3Error
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml


def test_writer_escapes_text() -> None:
    xml = XmlWriter("R")
    xml.element("Key", 'a<b>&"c"\r')
    xml.element("Missing", None)
    xml.element("Flag", True)
    assert xml.document() == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Key>a&lt;b&gt;&amp;&quot;c&quot;&#13;</Key><Flag>true</Flag></R>"
    )


def test_round_trip_through_the_parser() -> None:
    xml = XmlWriter("Delete")
    xml.open("Object")
    xml.element("Key", "é <&> ü")
    xml.close("Object")
    root = parse_xml(xml.document(), "Delete")
    assert [child_text(o, "Key") for o in children(root, "Object")] == ["é <&> ü"]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Delete><Object><Key>&lol2;</Key></Object></Delete>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&xxe;</Key></Object></Delete>"""


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"<Delete>", b"not xml", BOMB, EXTERNAL, b"<Other/>", b"\xff\xfe<a/>"],
)
def test_hostile_or_wrong_documents_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(S3Error) as caught:
        parse_xml(body, "Delete")
    assert caught.value.code == "MalformedXML"


def test_namespaces_are_ignored_on_input() -> None:
    root = parse_xml(
        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet></Delete>',
        "Delete",
    )
    assert child_text(root, "Quiet") == "true"
