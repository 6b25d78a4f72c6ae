"""The Factur-X half of an invoice's PDF (decision 0131), pure: the CII XML embedded as
``factur-x.xml`` — a file attachment of the document and one of its associated files (the
catalogue's ``/AF``) with the relationship ``Alternative``, which Factur-X asks of the EN 16931
profile, whose XML is the invoice's equivalent — and the XMP metadata naming the Factur-X
document, its file and conformance level, with the PDF/A extension schema that describes
those properties.

Written with fpdf2 in the one pass that lays the pages out rather than by the ``factur-x``
package (which tests use to read and validate the result): the package stamps the time of the
call in the attachment's and the metadata's dates, so the same invoice would no longer give
the same bytes (decision 0123), and it rewrites the PDF through a temporary file.

The metadata claims no PDF/A conformance (no ``pdfaid``): the pages print in a core font
(Helvetica), which PDF/A wants embedded; see the decision's limits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from xml.sax.saxutils import escape

from fpdf import FPDF

from andromede.billing.facturx import CONFORMANCE_LEVEL, FILENAME

__all__ = ["RELATIONSHIP", "attach"]

RELATIONSHIP: Final = "Alternative"
_FX: Final = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
_VERSION: Final = "1.0"  # the fx:Version Factur-X 1.0.x documents carry


def attach(pdf: FPDF, xml: bytes, *, title: str, author: str, created: datetime) -> None:
    """Embed ``xml`` in ``pdf`` as its Factur-X invoice, dated ``created`` (the document's
    issue, so that the bytes do not depend on when they are made)."""
    pdf.embed_file(
        bytes=xml,
        basename=FILENAME,
        modification_date=created,
        mime_type="text/xml",
        associated_file_relationship=RELATIONSHIP,
        desc="Factur-X XML invoice",
        compress=True,
        checksum=True,
    )
    pdf.set_xmp_metadata(_xmp(title, author, created))


def _xmp(title: str, author: str, created: datetime) -> str:
    when = created.astimezone(UTC).isoformat(timespec="seconds")
    properties = (
        ("DocumentFileName", "name of the embedded XML invoice file"),
        ("DocumentType", "INVOICE"),
        ("Version", "The actual version of the Factur-X XML schema"),
        ("ConformanceLevel", "The conformance level of the embedded Factur-X data"),
    )
    described = "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{name}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{text}</pdfaProperty:description>"
        "</rdf:li>"
        for name, text in properties
    )
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt>'
        "</dc:title>"
        f"<dc:creator><rdf:Seq><rdf:li>{escape(author)}</rdf:li></rdf:Seq></dc:creator>"
        f"<xmp:CreateDate>{when}</xmp:CreateDate><xmp:ModifyDate>{when}</xmp:ModifyDate>"
        "<xmp:CreatorTool>Andromède</xmp:CreatorTool><pdf:Producer>fpdf2</pdf:Producer>"
        "</rdf:Description>"
        f'<rdf:Description rdf:about="" xmlns:fx="{_FX}">'
        "<fx:DocumentType>INVOICE</fx:DocumentType>"
        f"<fx:DocumentFileName>{FILENAME}</fx:DocumentFileName>"
        f"<fx:Version>{_VERSION}</fx:Version>"
        f"<fx:ConformanceLevel>{CONFORMANCE_LEVEL}</fx:ConformanceLevel>"
        "</rdf:Description>"
        '<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
        ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"'
        ' xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
        '<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">'
        "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>"
        f"<pdfaSchema:namespaceURI>{_FX}</pdfaSchema:namespaceURI>"
        "<pdfaSchema:prefix>fx</pdfaSchema:prefix>"
        f"<pdfaSchema:property><rdf:Seq>{described}</rdf:Seq></pdfaSchema:property>"
        "</rdf:li></rdf:Bag></pdfaExtension:schemas>"
        "</rdf:Description>"
        "</rdf:RDF></x:xmpmeta>"
    )
