"""A tenant's billing profile (decision 0126), pure: who the customer is on its invoices — its
legal name, postal address and country, VAT identification number, SIREN or SIRET, purchase
order reference, the address invoices are sent to and the language they are written in — and
the rules that check each field, with the VAT treatment an invoice takes from it.

Every field is checked here, not in the API's schema, so that the API, the command line and
the console refuse the same things with the same error, :class:`InvalidBillingProfile` naming
the field (never echoing its value). A VAT number of an EU member state is checked against
that state's format (the prefix says which: ``EL`` for Greece), and must be the customer's
country's; no network lookup (VIES) is made. A SIREN (9 digits) or SIRET (14) passes the Luhn
check (La Poste's establishments, SIREN 356000000, have their own rule). Kept as JSON with a
format version: a profile outlives releases, and an invoice keeps a copy of it.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from andromede.billing.errors import InvalidBillingProfile

__all__ = [
    "COUNTRIES",
    "EU_MEMBER_STATES",
    "FORMAT_VERSION",
    "LANGUAGES",
    "MAX_ADDRESS_LINE",
    "MAX_ADDRESS_LINES",
    "MAX_CITY",
    "MAX_EMAIL",
    "MAX_LEGAL_NAME",
    "MAX_OTHER_VAT_NUMBER",
    "MAX_POSTCODE",
    "MAX_PURCHASE_ORDER",
    "MAX_TYPED_SIRET",
    "MAX_TYPED_VAT_NUMBER",
    "BillingProfile",
    "VatTreatment",
    "luhn_valid",
    "parse_profile",
    "vat_treatment",
]

FORMAT_VERSION: Final = 1
# Limits of each field: enough for any postal address (the UPU's S42 asks lines of 35 to
# 50 characters) and any legal name the registries hold; an invoice's customer block is
# printed whole.
MAX_LEGAL_NAME: Final = 200
MAX_ADDRESS_LINES: Final = 4
MAX_ADDRESS_LINE: Final = 100
MAX_POSTCODE: Final = 16
MAX_CITY: Final = 100
MAX_PURCHASE_ORDER: Final = 64
MAX_EMAIL: Final = 254  # RFC 5321's longest forward path, less its angle brackets
MAX_OTHER_VAT_NUMBER: Final = 20  # outside the EU: a number kept as given, bounded
# As typed, spaces, dots and hyphens included, before they are dropped.
MAX_TYPED_VAT_NUMBER: Final = 40
MAX_TYPED_SIRET: Final = 20
LANGUAGES: Final = ("en", "fr")

# ISO 3166-1 alpha-2, the officially assigned codes.
COUNTRIES: Final = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK
    DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR
    GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM
    KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP
    MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL
    PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST
    SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG
    VI VN VU WF WS YE YT ZA ZM ZW""".split()
)

# The 27 member states, by ISO code, and the format of each one's VAT number after its prefix
# (the European Commission's VIES list). Greece's prefix is EL, not its ISO code.
_EU_VAT: Final[dict[str, tuple[str, str]]] = {
    "AT": ("AT", r"U[0-9]{8}"),
    "BE": ("BE", r"[01][0-9]{9}"),
    "BG": ("BG", r"[0-9]{9,10}"),
    "CY": ("CY", r"[0-9]{8}[A-Z]"),
    "CZ": ("CZ", r"[0-9]{8,10}"),
    "DE": ("DE", r"[0-9]{9}"),
    "DK": ("DK", r"[0-9]{8}"),
    "EE": ("EE", r"[0-9]{9}"),
    "ES": ("ES", r"[0-9A-Z][0-9]{7}[0-9A-Z]"),
    "FI": ("FI", r"[0-9]{8}"),
    "FR": ("FR", r"[0-9A-HJ-NP-Z]{2}[0-9]{9}"),
    "GR": ("EL", r"[0-9]{9}"),
    "HR": ("HR", r"[0-9]{11}"),
    "HU": ("HU", r"[0-9]{8}"),
    "IE": ("IE", r"[0-9][0-9A-Z+*][0-9]{5}[A-Z]{1,2}"),
    "IT": ("IT", r"[0-9]{11}"),
    "LT": ("LT", r"[0-9]{9}|[0-9]{12}"),
    "LU": ("LU", r"[0-9]{8}"),
    "LV": ("LV", r"[0-9]{11}"),
    "MT": ("MT", r"[0-9]{8}"),
    "NL": ("NL", r"[0-9]{9}B[0-9]{2}"),
    "PL": ("PL", r"[0-9]{10}"),
    "PT": ("PT", r"[0-9]{9}"),
    "RO": ("RO", r"[0-9]{2,10}"),
    "SE": ("SE", r"[0-9]{10}01"),
    "SI": ("SI", r"[0-9]{8}"),
    "SK": ("SK", r"[0-9]{10}"),
}
EU_MEMBER_STATES: Final = frozenset(_EU_VAT)
_VAT_FORMATS: Final = {
    prefix: re.compile(pattern) for prefix, pattern in (v for v in _EU_VAT.values())
}
_PREFIX_COUNTRY: Final = {prefix: country for country, (prefix, _) in _EU_VAT.items()}
_SEPARATORS: Final = re.compile(r"[\s.\-]")
_OTHER_VAT: Final = re.compile(rf"^[A-Z0-9]{{2,{MAX_OTHER_VAT_NUMBER}}}$")
_EMAIL: Final = re.compile(
    r"^[^@\s\"<>()\[\],;:]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$"
)
_LA_POSTE_SIREN: Final = "356000000"  # SIRETs checked by their digit sum instead (INSEE)


class VatTreatment(enum.StrEnum):
    """How VAT applies to an invoice, from the seller's and the customer's countries."""

    DOMESTIC = "domestic"  # VAT at the region's rate, as before billing profiles
    REVERSE_CHARGE = "reverse-charge"  # another member state's taxable customer: art. 196
    OUTSIDE_EU = "outside-eu"  # services to a customer outside the EU: CGI art. 259-1


@dataclass(frozen=True, slots=True)
class BillingProfile:
    legal_name: str
    address_lines: tuple[str, ...]
    city: str
    country: str  # ISO 3166-1 alpha-2
    invoice_email: str
    postcode: str = ""
    vat_number: str = ""  # normalised: upper case, no spaces, dots or hyphens
    siret: str = ""  # a SIREN (9 digits) or a SIRET (14)
    purchase_order: str = ""
    language: str = "en"
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format_version,
            "legal_name": self.legal_name,
            "address_lines": list(self.address_lines),
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
            "vat_number": self.vat_number,
            "siret": self.siret,
            "purchase_order": self.purchase_order,
            "invoice_email": self.invoice_email,
            "language": self.language,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BillingProfile:
        """A profile as kept (by the store, or copied into an invoice): not checked again —
        what was valid when it was set stays readable whatever later rules say."""
        return cls(
            legal_name=data["legal_name"],
            address_lines=tuple(data["address_lines"]),
            postcode=data["postcode"],
            city=data["city"],
            country=data["country"],
            vat_number=data["vat_number"],
            siret=data["siret"],
            purchase_order=data["purchase_order"],
            invoice_email=data["invoice_email"],
            language=data["language"],
            format_version=int(data["format"]),
        )

    @classmethod
    def from_json(cls, text: str) -> BillingProfile:
        return cls.from_dict(json.loads(text))

    def postal_lines(self) -> list[str]:
        """The address as printed: the street lines, then postcode and city, then country."""
        town = f"{self.postcode} {self.city}".strip()
        return [*self.address_lines, town, self.country]


def parse_profile(data: Mapping[str, Any]) -> BillingProfile:
    """The profile ``data`` describes (the API's body, the command line's options), every
    field checked; InvalidBillingProfile naming the first field that is wrong."""
    country = _text(data, "country", 2, required=True).upper()
    if country not in COUNTRIES:
        raise InvalidBillingProfile("country", "not an ISO 3166-1 alpha-2 country code")
    lines = data.get("address_lines")
    if not isinstance(lines, list | tuple) or not lines:
        raise InvalidBillingProfile("address_lines", "one line at least, as a list")
    if len(lines) > MAX_ADDRESS_LINES:
        raise InvalidBillingProfile("address_lines", f"{MAX_ADDRESS_LINES} lines at most")
    address = tuple(_line(line, MAX_ADDRESS_LINE, "address_lines") for line in lines)
    vat_number = normalise_vat_number(_text(data, "vat_number", MAX_TYPED_VAT_NUMBER))
    _check_vat_number(vat_number, country)
    siret = _SEPARATORS.sub("", _text(data, "siret", MAX_TYPED_SIRET))
    _check_siret(siret, vat_number)
    email = _text(data, "invoice_email", MAX_EMAIL, required=True)
    if not _EMAIL.match(email):
        raise InvalidBillingProfile("invoice_email", "not an e-mail address")
    language = _text(data, "language", 2) or "en"
    if language not in LANGUAGES:
        raise InvalidBillingProfile("language", f"one of {', '.join(LANGUAGES)}")
    return BillingProfile(
        legal_name=_text(data, "legal_name", MAX_LEGAL_NAME, required=True),
        address_lines=address,
        postcode=_text(data, "postcode", MAX_POSTCODE),
        city=_text(data, "city", MAX_CITY, required=True),
        country=country,
        vat_number=vat_number,
        siret=siret,
        purchase_order=_text(data, "purchase_order", MAX_PURCHASE_ORDER),
        invoice_email=email,
        language=language,
    )


def normalise_vat_number(text: str) -> str:
    return _SEPARATORS.sub("", text).upper()


def _text(data: Mapping[str, Any], field: str, most: int, *, required: bool = False) -> str:
    value = data.get(field)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidBillingProfile(field, "a string")
    return _line(value, most, field, required=required)


def _line(value: object, most: int, field: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidBillingProfile(field, "a string")
    text = value.strip()
    if required and not text:
        raise InvalidBillingProfile(field, "required")
    if len(text) > most:
        raise InvalidBillingProfile(field, f"{most} characters at most")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise InvalidBillingProfile(field, "no control characters (one line per field)")
    return text


def _check_vat_number(number: str, country: str) -> None:
    if not number:
        return
    prefix = number[:2]
    own = _EU_VAT.get(country)
    if own is not None and prefix != own[0]:
        raise InvalidBillingProfile(
            "vat_number", f"a customer in {country} has a VAT number starting {own[0]}"
        )
    if prefix in _VAT_FORMATS:
        if _PREFIX_COUNTRY[prefix] != country:
            raise InvalidBillingProfile("vat_number", "its prefix is not the customer's country")
        if not _VAT_FORMATS[prefix].fullmatch(number[2:]):
            raise InvalidBillingProfile("vat_number", f"not a VAT number of the {prefix} format")
        if prefix == "FR" and number[2:4].isdigit():
            siren = int(number[4:])
            if int(number[2:4]) != (12 + 3 * (siren % 97)) % 97:
                raise InvalidBillingProfile("vat_number", "its key does not match its SIREN")
        return
    if not _OTHER_VAT.match(number):
        raise InvalidBillingProfile(
            "vat_number", f"letters and digits, {MAX_OTHER_VAT_NUMBER} at most"
        )


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _check_siret(siret: str, vat_number: str) -> None:
    if not siret:
        return
    if not siret.isdigit() or len(siret) not in (9, 14):
        raise InvalidBillingProfile("siret", "a SIREN (9 digits) or a SIRET (14 digits)")
    siren = siret[:9]
    if not luhn_valid(siren):
        raise InvalidBillingProfile("siret", "its SIREN fails the Luhn check")
    if len(siret) == 14:
        if siren == _LA_POSTE_SIREN:
            valid = sum(int(c) for c in siret) % 5 == 0
        else:
            valid = luhn_valid(siret)
        if not valid:
            raise InvalidBillingProfile("siret", "fails the Luhn check")
    if vat_number.startswith("FR") and vat_number[4:] != siren:
        raise InvalidBillingProfile("siret", "not the SIREN of the French VAT number")


def vat_treatment(seller_country: str, customer: BillingProfile | None) -> VatTreatment:
    """How VAT applies to an invoice of ``seller_country``'s operator to ``customer``:

    - another EU member state's customer with a VAT number (a taxable person): reverse
      charge, no VAT invoiced (Directive 2006/112/EC, art. 44 and 196);
    - a customer outside the EU: services are supplied where the customer is, no French VAT
      (CGI art. 259-1);
    - otherwise (the seller's country, no profile, an EU consumer without a VAT number): VAT
      as the region's rate says."""
    if customer is None or seller_country not in EU_MEMBER_STATES:
        return VatTreatment.DOMESTIC
    if customer.country == seller_country:
        return VatTreatment.DOMESTIC
    if customer.country not in EU_MEMBER_STATES:
        return VatTreatment.OUTSIDE_EU
    if customer.vat_number:
        return VatTreatment.REVERSE_CHARGE
    return VatTreatment.DOMESTIC
