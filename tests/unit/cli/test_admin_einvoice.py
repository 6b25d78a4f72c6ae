"""``andromede admin invoice pdf --xml`` (decision 0131), through typer's runner on a temporary
data folder: an invoice issued with a billing profile and one of its credit notes written as
their Factur-X XML alone, valid against the EN 16931 XSD and the same as the XML their PDF
carries; an invoice issued without a profile refused with NoEInvoice, its PDF still written."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import facturx

from unit.billing.test_facturx import _embedded
from unit.cli.test_admin_billing_profile import PROFILE, _priced_usage, run


def _issue(data_dir: Path, tenant: str, profile: bool) -> str:
    tenant_id = json.loads(run(data_dir, "tenant", "create", tenant, "--json"))["tenant_id"]
    if profile:
        run(data_dir, "billing-profile", "set", "--tenant", tenant, *PROFILE)
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    asyncio.run(_priced_usage(data_dir, tenant_id, start))
    issued = run(data_dir, "invoice", "issue", "--tenant", tenant, "--month", f"{start:%Y-%m}")
    return str(json.loads(issued)["number"])


def test_the_xml_alone_of_an_invoice_and_a_credit_note(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    number = _issue(data_dir, "acme", profile=True)
    note = json.loads(
        run(data_dir, "invoice", "credit", "--tenant", "acme", number, "--reason", "Outage")
    )["number"]
    xml, pdf = tmp_path / "invoice.xml", tmp_path / "invoice.pdf"
    run(data_dir, "invoice", "pdf", "--tenant", "acme", number, "--xml", "-o", str(xml))
    run(data_dir, "invoice", "pdf", "--tenant", "acme", number, "-o", str(pdf))
    assert facturx.xml_check_xsd(xml.read_bytes(), flavor="factur-x", level="en16931")
    assert _embedded(pdf.read_bytes())[0] == xml.read_bytes()
    assert "Pénalités de retard" in xml.read_text()  # the profile's language, French
    credit = tmp_path / "credit.xml"
    run(data_dir, "invoice", "pdf", "--tenant", "acme", number, "--credit-note", note, "--xml",
        "-o", str(credit), "--language", "en")  # fmt: skip
    assert facturx.xml_check_xsd(credit.read_bytes(), flavor="factur-x", level="en16931")
    assert b"<ram:TypeCode>381</ram:TypeCode>" in credit.read_bytes()
    assert f"<ram:IssuerAssignedID>{number}</ram:IssuerAssignedID>" in credit.read_text()


def test_an_invoice_without_profile_has_no_xml(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    number = _issue(data_dir, "acme", profile=False)
    xml, pdf = tmp_path / "invoice.xml", tmp_path / "invoice.pdf"
    refused = run(data_dir, "invoice", "pdf", "--tenant", "acme", number, "--xml", "-o",
                  str(xml), code=1)  # fmt: skip
    assert "NoEInvoice" in refused and not xml.exists()
    run(data_dir, "invoice", "pdf", "--tenant", "acme", number, "-o", str(pdf))
    assert b"factur-x.xml" not in pdf.read_bytes()
