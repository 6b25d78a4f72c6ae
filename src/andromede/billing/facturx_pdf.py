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

Every invoice and credit note PDF takes its XMP metadata from here, with or without the XML:
fpdf2 writes one of its own for a PDF/A, but dated with the time of the call, and the same
document must give the same bytes. It says the title, author and dates (the document's issue),
and the PDF/A part and level (``pdfaid``, 3 B) ``invoice_pdf`` lays the document out for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from xml.sax.saxutils import escape

from fpdf import FPDF

from andromede.billing.facturx import CONFORMANCE_LEVEL, FILENAME

__all__ = ["RELATIONSHIP", "attach", "metadata"]

RELATIONSHIP: Final = "Alternative"
_FX: Final = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
_VERSION: Final = "1.0"  # the fx:Version Factur-X 1.0.x documents carry


def attach(pdf: FPDF, xml: bytes, *, created: datetime) -> None:
    """Embed ``xml`` in ``pdf`` as its Factur-X invoice, dated ``created`` (the document's
    issue, so that the bytes do not depend on when they are made); ``metadata`` then names
    it (``e_invoice=True``)."""
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


def metadata(title: str, author: str, created: datetime, *, e_invoice: bool) -> str:
    """The XMP metadata (without its xpacket, which fpdf2 adds) of a PDF/A-3B document, with
    the Factur-X properties and their extension schema when it carries its XML."""
    when = created.astimezone(UTC).isoformat(timespec="seconds")
    document = (
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt>'
        "</dc:title>"
        f"<dc:creator><rdf:Seq><rdf:li>{escape(author)}</rdf:li></rdf:Seq></dc:creator>"
        f"<xmp:CreateDate>{when}</xmp:CreateDate><xmp:ModifyDate>{when}</xmp:ModifyDate>"
        f"<xmp:MetadataDate>{when}</xmp:MetadataDate>"
        "<xmp:CreatorTool>Andromède</xmp:CreatorTool><pdf:Producer>fpdf2</pdf:Producer>"
        "</rdf:Description>"
        '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
        "<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>"
        "</rdf:Description>"
    )
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{document}{_FACTUR_X if e_invoice else ''}"
        "</rdf:RDF></x:xmpmeta>"
    )


def _factur_x() -> str:
    """The Factur-X properties, and the PDF/A extension schema that declares them (PDF/A
    admits no XMP property its schemas do not describe)."""
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
        f'<rdf:Description rdf:about="" xmlns:fx="{_FX}">'
        "<fx:DocumentType>INVOICE</fx:DocumentType>"
        f"<fx:DocumentFileName>{FILENAME}</fx:DocumentFileName>"
        f"<fx:Version>{_VERSION}</fx:Version>"
        f"<fx:ConformanceLevel>{CONFORMANCE_LEVEL}</fx:ConformanceLevel>"
        "</rdf:Description>"
        '<rdf:Description rdf:about=""'
        ' xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
        ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"'
        ' xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
        '<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">'
        "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>"
        f"<pdfaSchema:namespaceURI>{_FX}</pdfaSchema:namespaceURI>"
        "<pdfaSchema:prefix>fx</pdfaSchema:prefix>"
        f"<pdfaSchema:property><rdf:Seq>{described}</rdf:Seq></pdfaSchema:property>"
        "</rdf:li></rdf:Bag></pdfaExtension:schemas>"
        "</rdf:Description>"
    )


_FACTUR_X: Final = _factur_x()
