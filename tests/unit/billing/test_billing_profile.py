"""Billing profiles (decision 0126): every field checked and named when wrong — EU VAT numbers
per member state's format and prefix (with the French key), SIREN and SIRET by Luhn (La
Poste's by its own rule), ISO countries, e-mail, language, each length limit at its bound —,
the JSON kept with its format version, and the VAT treatment each pair of countries gives."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.billing.errors import InvalidBillingProfile
from andromede.billing.profile import (
    COUNTRIES,
    EU_MEMBER_STATES,
    MAX_ADDRESS_LINE,
    MAX_ADDRESS_LINES,
    MAX_CITY,
    MAX_EMAIL,
    MAX_LEGAL_NAME,
    MAX_OTHER_VAT_NUMBER,
    MAX_POSTCODE,
    MAX_PURCHASE_ORDER,
    MAX_TYPED_SIRET,
    MAX_TYPED_VAT_NUMBER,
    BillingProfile,
    VatTreatment,
    luhn_valid,
    parse_profile,
    vat_treatment,
)

# A real company's identifiers (published in the French registry): SIREN 732 829 320.
FRENCH = {
    "legal_name": "Société Éléphant & Fils",
    "address_lines": ["12 rue de la Paix", "Bâtiment B"],
    "postcode": "75002",
    "city": "Paris",
    "country": "FR",
    "vat_number": "FR44732829320",
    "siret": "73282932000074",
    "purchase_order": "PO-2027-0042",
    "invoice_email": "factures@elephant.example",
    "language": "fr",
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**FRENCH, **changes}


def _refused(field: str, **changes: Any) -> InvalidBillingProfile:
    with pytest.raises(InvalidBillingProfile) as refused:
        parse_profile(_with(**changes))
    assert refused.value.field == field, refused.value
    return refused.value


def test_a_valid_profile_is_normalised_and_kept_whole() -> None:
    profile = parse_profile(
        _with(vat_number="fr 44 732.829.320", siret="732 829 320 00074", country="fr")
    )
    assert profile.vat_number == "FR44732829320" and profile.siret == "73282932000074"
    assert profile.country == "FR" and profile.address_lines == ("12 rue de la Paix", "Bâtiment B")
    assert BillingProfile.from_json(profile.to_json()) == profile
    assert profile.to_dict()["format"] == 1
    assert profile.postal_lines() == ["12 rue de la Paix", "Bâtiment B", "75002 Paris", "FR"]


def test_optional_fields_may_be_left_out() -> None:
    profile = parse_profile(
        {
            "legal_name": "Acme Ltd",
            "address_lines": ["1 Main Street"],
            "city": "Zürich",
            "country": "CH",
            "invoice_email": "ap@acme.example",
        }
    )
    assert (profile.vat_number, profile.siret, profile.purchase_order) == ("", "", "")
    assert profile.language == "en" and profile.postcode == ""


@pytest.mark.parametrize(
    ("country", "number"),
    [
        ("AT", "ATU12345678"),
        ("BE", "BE0123456789"),
        ("DE", "DE123456789"),
        ("GR", "EL123456789"),  # Greece's prefix is EL
        ("ES", "ESX1234567X"),
        ("IE", "IE1234567WA"),
        ("NL", "NL123456789B01"),
        ("SE", "SE123456789701"),
        ("FR", "FRXY732829320"),  # a letter key: not checked against the SIREN
        ("CH", "CHE123456789"),  # outside the EU: kept as given, bounded
        ("GB", "GB123456789"),
    ],
)
def test_vat_numbers_of_each_format(country: str, number: str) -> None:
    profile = parse_profile(_with(country=country, vat_number=number, siret=""))
    assert profile.vat_number == number


@pytest.mark.parametrize(
    ("country", "number", "why"),
    [
        ("DE", "DE12345678", "DE format"),  # 8 digits, not 9
        ("NL", "NL123456789A01", "NL format"),
        ("AT", "AT12345678", "AT format"),
        ("FR", "FR45732829320", "key"),  # the key is 44
        ("FR", "FRIO732829320", "FR format"),  # I and O are no key letters
        ("FR", "DE123456789", "starting FR"),  # a French customer's number is French
        ("CH", "DE123456789", "prefix"),  # a German number is a German customer's
        ("GR", "GR123456789", "starting EL"),
        ("CH", "CHE-123!456", "letters and digits"),
    ],
)
def test_a_wrong_vat_number_names_the_field(country: str, number: str, why: str) -> None:
    refused = _refused("vat_number", country=country, vat_number=number, siret="")
    assert why in str(refused)
    assert number not in str(refused)  # the value is never echoed


def test_siren_and_siret_pass_luhn() -> None:
    assert luhn_valid("732829320") and luhn_valid("73282932000074")
    assert parse_profile(_with(siret="732829320")).siret == "732829320"
    _refused("siret", siret="732829321")
    _refused("siret", siret="73282932000075")
    _refused("siret", siret="7328293200007")  # 13 digits
    _refused("siret", siret="73282932000O74")
    # La Poste's establishments: the digit sum is a multiple of 5, Luhn or not.
    assert parse_profile(_with(vat_number="", siret="35600000000015")).siret == "35600000000015"
    _refused("siret", vat_number="", siret="35600000000016")
    # The SIRET of another company than the French VAT number's.
    _refused("siret", siret="55210055400013")


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("legal_name", MAX_LEGAL_NAME),
        ("postcode", MAX_POSTCODE),
        ("city", MAX_CITY),
        ("purchase_order", MAX_PURCHASE_ORDER),
    ],
)
def test_each_limit_is_checked_at_its_bound(field: str, limit: int) -> None:
    assert getattr(parse_profile(_with(**{field: "x" * limit})), field) == "x" * limit
    assert str(limit) in str(_refused(field, **{field: "x" * (limit + 1)}))


def test_identifiers_limits() -> None:
    """Outside the EU a VAT number is kept as given up to its bound; as typed, separators
    count up to theirs."""
    longest = "CHE" + "1" * (MAX_OTHER_VAT_NUMBER - 3)
    swiss = {"country": "CH", "siret": ""}
    assert parse_profile(_with(**swiss, vat_number=longest)).vat_number == longest
    _refused("vat_number", **swiss, vat_number=longest + "1")
    dots = "." * (MAX_TYPED_VAT_NUMBER - len("FR44732829320"))
    assert parse_profile(_with(vat_number=f"FR{dots}44732829320")).vat_number == "FR44732829320"
    refused = _refused("vat_number", vat_number=f"FR.{dots}44732829320")
    assert str(MAX_TYPED_VAT_NUMBER) in str(refused)
    typed = "732 829 320" + " " * (MAX_TYPED_SIRET - 16) + "00074"
    assert parse_profile(_with(siret=typed)).siret == "73282932000074"
    assert str(MAX_TYPED_SIRET) in str(_refused("siret", siret=typed.replace(" 0", "  0", 1)))


def test_address_lines_and_email_limits() -> None:
    longest = ["x" * MAX_ADDRESS_LINE] * MAX_ADDRESS_LINES
    assert parse_profile(_with(address_lines=longest)).address_lines == tuple(longest)
    _refused("address_lines", address_lines=[*longest, "one more"])
    _refused("address_lines", address_lines=["x" * (MAX_ADDRESS_LINE + 1)])
    _refused("address_lines", address_lines=[])
    _refused("address_lines", address_lines="12 rue de la Paix")
    _refused("address_lines", address_lines=["line\nbreak"])
    email = "a" * (MAX_EMAIL - len("@example.fr")) + "@example.fr"
    assert parse_profile(_with(invoice_email=email)).invoice_email == email
    _refused("invoice_email", invoice_email="a" + email)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("legal_name", ""),
        ("legal_name", "   "),
        ("legal_name", 42),
        ("city", None),
        ("country", "XX"),
        ("country", "FRA"),
        ("country", ""),
        ("invoice_email", "factures"),
        ("invoice_email", "a@b"),
        ("invoice_email", "a b@example.fr"),
        ("language", "de"),
    ],
)
def test_bad_fields_are_named(field: str, value: object) -> None:
    _refused(field, **{field: value})


def test_the_countries_and_member_states() -> None:
    assert len(COUNTRIES) == 249 and len(EU_MEMBER_STATES) == 27
    assert EU_MEMBER_STATES <= COUNTRIES and "GB" not in EU_MEMBER_STATES


def _customer(country: str, vat_number: str = "") -> BillingProfile:
    return BillingProfile("C", ("1 street",), "City", country, "a@b.example", vat_number=vat_number)


@pytest.mark.parametrize(
    ("seller", "customer", "treatment"),
    [
        ("FR", None, VatTreatment.DOMESTIC),
        ("FR", _customer("FR", "FR44732829320"), VatTreatment.DOMESTIC),
        ("FR", _customer("DE", "DE123456789"), VatTreatment.REVERSE_CHARGE),
        ("FR", _customer("DE"), VatTreatment.DOMESTIC),  # a consumer: VAT as at home
        ("FR", _customer("CH"), VatTreatment.OUTSIDE_EU),
        ("FR", _customer("US", "US123"), VatTreatment.OUTSIDE_EU),
        ("DE", _customer("FR", "FR44732829320"), VatTreatment.REVERSE_CHARGE),
        ("CH", _customer("FR", "FR44732829320"), VatTreatment.DOMESTIC),  # no EU seller
    ],
)
def test_the_vat_treatment(
    seller: str, customer: BillingProfile | None, treatment: VatTreatment
) -> None:
    assert vat_treatment(seller, customer) is treatment
