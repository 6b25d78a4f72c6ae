"""The codes Route 53's ``GeoLocation`` compares, from what GeoIP data gives (decisions
0404 and 0410): for the United States only, a state's two letters (USPS's abbreviations,
``CA`` for California), read from ISO 3166-2's code (``CA`` or ``US-CA``) or from the state's
name (DB-IP's lite data). Another country's subdivision is dropped, as no set can name it: a
network of Bavaria (``BY``) would otherwise look like a state's."""

from __future__ import annotations

from typing import Final

__all__ = ["route53_subdivision"]

_US_STATES: Final = {
    name.upper(): code
    for code, name in (
        ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"),
        ("CA", "California"), ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"),
        ("DC", "District of Columbia"), ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"),
        ("ID", "Idaho"), ("IL", "Illinois"), ("IN", "Indiana"), ("IA", "Iowa"),
        ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"), ("ME", "Maine"),
        ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
        ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"),
        ("NV", "Nevada"), ("NH", "New Hampshire"), ("NJ", "New Jersey"),
        ("NM", "New Mexico"), ("NY", "New York"), ("NC", "North Carolina"),
        ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"), ("OR", "Oregon"),
        ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"),
        ("SD", "South Dakota"), ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"),
        ("VT", "Vermont"), ("VA", "Virginia"), ("WA", "Washington"),
        ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
    )
}  # fmt: skip


def route53_subdivision(country: str, subdivision: str) -> str:
    """The subdivision of ``country`` as Route 53 compares it, "" when none can be."""
    country = country.strip().upper()
    subdivision = subdivision.strip().upper().removeprefix(f"{country}-")
    if country != "US":
        return ""
    if len(subdivision) == 2 and subdivision.isalpha():
        return subdivision
    return _US_STATES.get(subdivision, "")  # a state's name
