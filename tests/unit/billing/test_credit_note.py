"""Credit notes, pure (decision 0126): in full, for chosen lines, for chosen amounts with the
VAT at the line's rate; what remains after earlier credit notes, never more (line by line and
in all, rounding included); the request checked; the JSON kept whole; and an invoice's copy
of the customer's profile, with the VAT treatment it gave."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from andromede.billing.credit_note import (
    MAX_CREDIT_LINES,
    MAX_REASON,
    CreditNote,
    credit,
    parse_request,
    remaining,
)
from andromede.billing.errors import InvalidCreditNote, OverCredit
from andromede.billing.invoice import Invoice, Issuer, issue
from andromede.billing.model import ReportLine, UsageReport, parse_month
from andromede.billing.profile import BillingProfile, VatTreatment
from unit.billing.test_invoice_pdf import make_invoice

ISSUED = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)


def _note(
    invoice: Invoice, earlier: list[CreditNote], reason: str, amounts: object = None
) -> CreditNote:
    request = parse_request(reason, amounts)  # type: ignore[arg-type]
    number = f"AV-2027-{len(earlier) + 1:06d}"
    return credit(invoice, earlier, request, number, ISSUED)


def test_in_full_credits_every_line_negated() -> None:
    invoice = make_invoice()
    note = _note(invoice, [], "Service outage in November")
    assert note.invoice_number == invoice.number and note.invoice_issued_at == invoice.issued_at
    assert [line.invoice_line for line in note.lines] == [0, 1, 2]
    assert note.net == -invoice.net and note.vat == -invoice.vat
    assert note.total == -invoice.total
    assert note.vat_by_rate() == [(r, -n, -v) for r, n, v in invoice.vat_by_rate()]
    assert (note.issuer, note.customer_name, note.reason) == (
        invoice.issuer,
        invoice.customer_name,
        "Service outage in November",
    )
    # Nothing remains: another one in full, or for any line, is refused.
    with pytest.raises(OverCredit):
        _note(invoice, [note], "again")
    with pytest.raises(OverCredit):
        _note(invoice, [note], "again", [(2, "0.01")])
    assert CreditNote.from_json(note.to_json()) == note


def test_chosen_amounts_take_the_lines_vat_and_never_more_than_remains() -> None:
    invoice = make_invoice()  # line 2: 7,500.00 net at 17 %, 1,275.00 VAT
    first = _note(invoice, [], "Discount agreed", [(2, "1000.00")])
    assert [(line.net, line.vat) for line in first.lines] == [
        (Decimal("-1000.00"), Decimal("-170.00"))
    ]
    second = _note(invoice, [first], "Second part", [(2, "333.33"), (0, None)])
    # 333.33 * 17 % = 56.6661 → 56.67; line 0 in full: its 2.84 and 0.57.
    assert [(line.invoice_line, line.net, line.vat) for line in second.lines] == [
        (2, Decimal("-333.33"), Decimal("-56.67")),
        (0, Decimal("-2.84"), Decimal("-0.57")),
    ]
    left = remaining(invoice, [first, second])
    assert left[2] == (Decimal("6166.67"), Decimal("1048.33"))
    with pytest.raises(OverCredit) as refused:
        _note(invoice, [first, second], "too much", [(2, "6166.68")])
    assert "6166.67" in str(refused.value)
    with pytest.raises(OverCredit):
        _note(invoice, [first, second], "line 0 is done", [(0, "0.01")])
    # The rest of the line takes exactly the VAT that remains of it.
    last = _note(invoice, [first, second], "the rest", [(2, "6166.67")])
    assert (last.net, last.vat) == (Decimal("-6166.67"), Decimal("-1048.33"))
    credited = sum((n.total for n in (first, second, last)), Decimal(0))
    assert -credited == invoice.lines[0].total + invoice.lines[2].total


def test_rounding_never_credits_more_vat_than_the_line_has() -> None:
    """1 cent at a time of a line of 0.03 net and 0.01 VAT: each cent rounds its VAT (0.002)
    to 0.00; the last takes the cent of VAT that remains; never 0.01 more."""
    line = ReportLine("eu-west-par", "s3.storage", 1, "B", Decimal(1), "GB", Decimal("0.03"),
                      Decimal("0.03"), Decimal("0.20"), Decimal("0.01"))  # fmt: skip
    invoice = issue(
        UsageReport("t", parse_month("2026-12"), (line,)),
        "INV-2027-000001",
        "C",
        Issuer("Op"),
        ISSUED,
    )
    notes: list[CreditNote] = []
    for _ in range(3):
        notes.append(_note(invoice, notes, "a cent", [(0, "0.01")]))
    assert [n.vat for n in notes] == [Decimal("0.00"), Decimal("0.00"), Decimal("-0.01")]
    assert sum((n.total for n in notes), Decimal(0)) == -invoice.total


@pytest.mark.parametrize(
    ("reason", "amounts", "why"),
    [
        ("", None, "reason"),
        ("   ", None, "reason"),
        (None, None, "reason"),
        ("x" * (MAX_REASON + 1), None, f"{MAX_REASON} characters"),
        ("two\nlines", None, "control"),
        ("ok", [], "one at least"),
        ("ok", [(-1, None)], "index"),
        ("ok", [("0", None)], "index"),
        ("ok", [(True, None)], "index"),
        ("ok", [(0, None), (0, "1.00")], "twice"),
        ("ok", [(0, "0")], "positive"),
        ("ok", [(0, "-1.00")], "positive"),
        ("ok", [(0, "1.001")], "cents"),
        ("ok", [(0, "0.00")], "positive"),
        ("ok", [(0, "NaN")], "positive"),
        ("ok", [(0, "1e3")], "positive"),
        ("ok", [(0, 1.5)], "positive"),  # a float is never money
        ("ok", [(0, "1000000000000")], "below"),
        ("ok", [(0, " 1.00")], "cents"),
        ("ok", [(n, None) for n in range(MAX_CREDIT_LINES + 1)], f"{MAX_CREDIT_LINES} at most"),
    ],
)
def test_a_bad_request_is_refused(reason: object, amounts: object, why: str) -> None:
    with pytest.raises(InvalidCreditNote) as refused:
        parse_request(reason, amounts)  # type: ignore[arg-type]
    assert why in str(refused.value)


def test_the_longest_reason_and_a_whole_euro_amount_are_taken() -> None:
    request = parse_request("x" * MAX_REASON, [(0, "12"), (1, 3)])
    assert request.amounts == ((0, Decimal("12.00")), (1, Decimal("3.00")))


def test_a_line_the_invoice_does_not_have_is_refused() -> None:
    with pytest.raises(InvalidCreditNote):
        _note(make_invoice(), [], "no such line", [(3, None)])


def test_an_invoice_of_nothing_has_nothing_to_credit() -> None:
    with pytest.raises(OverCredit):
        _note(make_invoice(lines=()), [], "empty")


def test_a_reverse_charged_invoice_is_credited_without_vat() -> None:
    german = BillingProfile("Kunde GmbH", ("Hauptstraße 1",), "Berlin", "DE", "r@k.example",
                            postcode="10115", vat_number="DE123456789")  # fmt: skip
    line = ReportLine("eu-west-par", "s3.storage", 1, "B", Decimal(1), "GB", Decimal("10"),
                      Decimal("10.00"), Decimal("0.20"), Decimal("2.00"))  # fmt: skip
    report = UsageReport("t", parse_month("2026-12"), (line,))
    invoice = issue(report, "INV-2027-000001", "kunde", Issuer("Op"), ISSUED, german)
    assert invoice.vat_treatment is VatTreatment.REVERSE_CHARGE
    assert (invoice.lines[0].vat_rate, invoice.vat, invoice.total) == (
        Decimal(0),
        Decimal("0.00"),
        Decimal("10.00"),
    )
    assert invoice.customer == german and invoice.customer_name == "Kunde GmbH"
    assert Invoice.from_json(invoice.to_json()) == invoice
    note = _note(invoice, [], "goodwill")
    assert note.vat_treatment is VatTreatment.REVERSE_CHARGE and note.customer == german
    assert (note.net, note.vat) == (Decimal("-10.00"), Decimal("0.00"))
    assert str(note.lines[0].vat) == "0.00"  # not "-0.00"


def test_a_format_1_invoice_is_read_as_it_was() -> None:
    invoice = make_invoice()
    document = invoice.to_json().replace('"format":2', '"format":1')
    for key in ('"customer":null,', '"vat_treatment":"domestic",', ',"country":"FR"'):
        assert key in document
        document = document.replace(key, "")
    old = Invoice.from_json(document)
    assert old.customer is None and old.vat_treatment is VatTreatment.DOMESTIC
    assert old.lines == invoice.lines and old.format_version == 1
