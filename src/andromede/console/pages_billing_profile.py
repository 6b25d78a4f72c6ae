"""The tenant's billing profile (decision 0126): who the customer is on its invoices, shown
as a form that changes it whole, as the management API's ``PUT …/billing-profile`` does.

Decided as on the API: ``andromede:GetBillingProfile`` on ``…:billing-profile`` to read it,
``andromede:PutBillingProfile`` to save it, asked of the same decision (``iam/tenant_actions``)
through the console's ``authorise`` (a refusal is a 403 page naming the action and an event of
the tenant's log). A reader whose policies do not allow the change sees the profile and is
told so, without a form to send (``PutBillingProfile`` asked silently, as the menu asks).

Saved by the billing service's ``set_billing_profile``, the call the API and the command line
make, so the console refuses what they refuse: ``billing/profile.py`` checks every field and
names the first wrong one. The page names it in the reader's language with what the field
takes, and shows the form again as typed (400). The core's reason is English and written for
a program; the page explains the field's whole rule instead. A change is recorded in the
tenant's log as the API records its own: ``andromede:PutBillingProfile`` on the profile's ARN,
by the signed-in principal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.audit.model import Outcome
from andromede.billing.errors import InvalidBillingProfile, NoBillingProfile
from andromede.billing.profile import (
    COUNTRIES,
    LANGUAGES,
    MAX_ADDRESS_LINE,
    MAX_ADDRESS_LINES,
    MAX_CITY,
    MAX_EMAIL,
    MAX_LEGAL_NAME,
    MAX_POSTCODE,
    MAX_PURCHASE_ORDER,
    MAX_TYPED_SIRET,
    MAX_TYPED_VAT_NUMBER,
    BillingProfile,
)
from andromede.console.handlers import Form, posted, signed_in
from andromede.console.session import CONSOLE_PATH
from andromede.iam.tenant_actions import Action, billing_profile_arn

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_PROFILE_URL: Final = f"{CONSOLE_PATH}/billing-profile"
# The form's one-line fields, as the profile names them; the address is a line per input.
_TEXT_FIELDS: Final = (
    "legal_name",
    "postcode",
    "city",
    "country",
    "vat_number",
    "siret",
    "purchase_order",
    "invoice_email",
    "language",
)
_LINE_FIELDS: Final = tuple(f"address_line_{n}" for n in range(1, MAX_ADDRESS_LINES + 1))
# The CSRF token and every field: a form with more is not read (400).
_MAX_FIELDS: Final = 1 + len(_TEXT_FIELDS) + len(_LINE_FIELDS)
# The inputs' bounds, as typed: the core's own, so the browser stops where the core refuses.
_MAX_LENGTHS: Final = {
    "legal_name": MAX_LEGAL_NAME,
    "address_line": MAX_ADDRESS_LINE,
    "postcode": MAX_POSTCODE,
    "city": MAX_CITY,
    "vat_number": MAX_TYPED_VAT_NUMBER,
    "siret": MAX_TYPED_SIRET,
    "purchase_order": MAX_PURCHASE_ORDER,
    "invoice_email": MAX_EMAIL,
}


def _labels(request: Request, console: Console) -> dict[str, str]:
    _ = console.catalogue(request).gettext
    return {
        "legal_name": _("Legal name"),
        "address_lines": _("Address"),
        "postcode": _("Postcode"),
        "city": _("City"),
        "country": _("Country"),
        "vat_number": _("VAT number"),
        "siret": _("SIREN or SIRET"),
        "purchase_order": _("Purchase order"),
        "invoice_email": _("Invoice e-mail"),
        "language": _("Invoice language"),
    }


def _refusal(console: Console, request: Request, field: str) -> str:
    """The refusal of ``field``, named in the reader's language with what it takes."""
    _ = console.catalogue(request).gettext
    one_line = _("{most} characters at most, on one line")
    required = _("required, {most} characters at most, on one line")
    vat = _("the customer's country's VAT number: its prefix (EL for Greece), format and key")
    siret = _("a SIREN (9 digits) or SIRET (14), Luhn-checked, matching any French VAT number")
    rules = {
        "legal_name": required.format(most=MAX_LEGAL_NAME),
        "address_lines": _("1 to {lines} lines of {most} characters at most").format(
            lines=MAX_ADDRESS_LINES, most=MAX_ADDRESS_LINE
        ),
        "postcode": one_line.format(most=MAX_POSTCODE),
        "city": required.format(most=MAX_CITY),
        "country": _("an ISO 3166-1 alpha-2 country code (FR, DE…)"),
        "vat_number": vat,
        "siret": siret,
        "purchase_order": one_line.format(most=MAX_PURCHASE_ORDER),
        "invoice_email": _("required, an e-mail address"),
        "language": _("English or French"),
    }
    label = _labels(request, console).get(field, field)
    rule = rules.get(field, "")
    return _("The field “{field}” was refused: {rule}.").format(field=label, rule=rule)


def _shown(profile: BillingProfile | None, locale: str) -> dict[str, str]:
    """The form's values for the profile kept; an empty form (in the reader's language as the
    invoices' one) when none is."""
    if profile is None:
        return {"language": locale if locale in LANGUAGES else "en"}
    kept = profile.to_dict()
    values = {name: str(kept[name]) for name in _TEXT_FIELDS}
    for name, line in zip(_LINE_FIELDS, profile.address_lines, strict=False):
        values[name] = line
    return values


def _typed(fields: Mapping[str, str]) -> dict[str, str]:
    return {name: fields.get(name, "") for name in (*_TEXT_FIELDS, *_LINE_FIELDS)}


def _asked(typed: Mapping[str, str]) -> dict[str, Any]:
    """The profile the form asks for, as the API's body would carry it: the address lines
    filled in, in order (an empty input between two is no line)."""
    asked: dict[str, Any] = {name: typed[name] for name in _TEXT_FIELDS}
    asked["address_lines"] = [typed[n] for n in _LINE_FIELDS if typed[n].strip()]
    return asked


async def _page(
    console: Console,
    request: Request,
    session: Session,
    account: str,
    values: Mapping[str, str],
    *,
    none_yet: bool = False,
    error: str | None = None,
    invalid: str | None = None,
    status: int = 200,
) -> Response:
    words = console.catalogue(request)
    _ = words.gettext
    resource = billing_profile_arn(account)
    action = Action.PUT_BILLING_PROFILE
    allowed, _reason = await console.decide(request, session, action, resource, account=account)
    read_only = None
    if not allowed:
        read_only = _("Your policies do not allow {action} on {resource}.").format(
            action=action.value, resource=resource
        )
    return console.render(
        request,
        "billing_profile.html",
        session=session,
        status=status,
        title=_("Billing profile"),
        values=values,
        none_yet=none_yet,
        saved=request.query_params.get("saved") == "1" and error is None,
        read_only=read_only,
        error=error,
        invalid=invalid,
        labels=_labels(request, console),
        line_fields=_LINE_FIELDS,
        max_lengths=_MAX_LENGTHS,
        countries=sorted(COUNTRIES),
        languages={"en": _("English"), "fr": _("French")},
    )


def _absent(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    return console.render(
        request, "message.html", session=session, status=404, title=_("Billing profile"),
        error=_("This server does not keep these records."),
    )  # fmt: skip


@signed_in
async def billing_profile(console: Console, request: Request, session: Session) -> Response:
    billing = console.billing
    account = session.principal.tenant_id
    if billing is None or account is None:
        return _absent(console, request, session)
    refused = await console.authorise(
        request,
        session,
        (Action.GET_BILLING_PROFILE,),
        billing_profile_arn(account),
        account=account,
    )
    if refused is not None:
        return refused
    try:
        profile: BillingProfile | None = await billing.billing_profile(account)
    except NoBillingProfile:
        profile = None
    locale = console.catalogue(request).locale
    return await _page(
        console, request, session, account, _shown(profile, locale), none_yet=profile is None
    )


@posted(max_fields=_MAX_FIELDS)
async def put_billing_profile(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    """Save the form as the tenant's profile, whole, as the API's PUT does."""
    billing = console.billing
    account = session.principal.tenant_id
    if billing is None or account is None:
        return _absent(console, request, session)
    resource = billing_profile_arn(account)
    refused = await console.authorise(
        request, session, (Action.PUT_BILLING_PROFILE,), resource, account=account
    )
    if refused is not None:
        return refused
    typed = _typed(fields)
    try:
        await billing.set_billing_profile(account, _asked(typed))
    except InvalidBillingProfile as exc:
        return await _page(
            console, request, session, account, typed, status=400,
            error=_refusal(console, request, exc.field), invalid=exc.field,
        )  # fmt: skip
    console.audit.record(
        request_id=console.request_id(request),
        tenant_id=account,
        principal=session.principal.arn,
        action=Action.PUT_BILLING_PROFILE.value,
        resource=resource,
        outcome=Outcome.SUCCESS,
    )
    return RedirectResponse(f"{_PROFILE_URL}?saved=1", status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/billing-profile", billing_profile, ["GET"]),
    ("/billing-profile", put_billing_profile, ["POST"]),
]
